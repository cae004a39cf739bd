"""Audit trail seals (issue #12): `audit_seals`, one row per seal object in the WORM archive.

Each row names the JSON lines object (`key`, `version_id`, and the version of its manifest), the
entries it holds (`first_seq`..`last_seq`, `count`), the chain head at sealing (`head_hash`), its
sha256 and lock (`retain_until`, `mode`). See dms/app/audit_seal.py.

Tolerant of databases that `metadata.create_all` built from newer models and that `migrate`
adopted by stamping 0001: a table that already exists is not created again.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "audit_seals"


def _tables() -> set[str]:
    return set(sa.inspect(op.get_bind()).get_table_names())


def upgrade() -> None:
    if TABLE in _tables():
        return
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=500), nullable=False),
        sa.Column("version_id", sa.String(length=200), nullable=False),
        sa.Column("manifest_version_id", sa.String(length=200), nullable=False),
        sa.Column("first_seq", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("retain_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key", name="uq_audit_seals_key"),
    )
    op.create_index("ix_audit_seals_last_seq", TABLE, ["last_seq"], unique=False)


def downgrade() -> None:
    if TABLE in _tables():
        op.drop_table(TABLE)
