"""Versions: ingest attempt counter and the file name as sent.

`versions.attempts` counts started ingest attempts (a document that kills its worker this often
ends `failed` instead of being retried forever); `versions.original_filename` keeps the file
name exactly as it was sent, while `filename` is the sanitised one.

Tolerant of databases that `metadata.create_all` built from newer models and that `migrate`
adopted by stamping 0001: a column that already exists is not added again.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _columns() -> set[str]:
    return {column["name"] for column in sa.inspect(op.get_bind()).get_columns("versions")}


def upgrade() -> None:
    existing = _columns()
    # Batch mode: plain ALTER TABLE on PostgreSQL, the copy-and-move dance only where SQLite needs it.
    with op.batch_alter_table("versions") as batch:
        if "original_filename" not in existing:
            batch.add_column(sa.Column("original_filename", sa.String(length=1000), nullable=True))
        if "attempts" not in existing:
            batch.add_column(sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False))


def downgrade() -> None:
    existing = _columns()
    with op.batch_alter_table("versions") as batch:
        if "attempts" in existing:
            batch.drop_column("attempts")
        if "original_filename" in existing:
            batch.drop_column("original_filename")
