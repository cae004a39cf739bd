"""Deletion runs (issue #12): the retention sweep, its approval and the trash purge.

`deletion_runs`: one row per run of `dms retention sweep` / the daily task / a trash purge: who
started it (`created_by`) and how (`trigger`), its `kind` (`sweep` | `trash`), `status`
(dry_run | awaiting_approval | approved | running | done | failed), who approved it and when, the
documents it planned to delete (`planned`) and what became of each (`items`: deleted with the key,
version id and sha256 of its deletion record in the archive, or skipped/failed with the reason).

The trash itself is `documents.trashed_at` (migration 0008).

Tolerant of databases that `metadata.create_all` built from newer models and that `migrate`
adopted by stamping 0001: a table that already exists is not created again.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "deletion_runs"


def _tables() -> set[str]:
    return set(sa.inspect(op.get_bind()).get_table_names())


def upgrade() -> None:
    if TABLE in _tables():
        return
    op.create_table(
        TABLE,
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("cutoff", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("planned", sa.JSON(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("deleted", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("skipped", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("failed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_deletion_runs_created_at", TABLE, ["created_at"], unique=False)
    op.create_index("ix_deletion_runs_status", TABLE, ["status"], unique=False)


def downgrade() -> None:
    if TABLE in _tables():
        op.drop_table(TABLE)
