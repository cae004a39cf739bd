"""Merged customers (issue #14): `customer_aliases`, the old number of a merged customer → the survivor.

One row per merged customer: its old number (primary key: never a customer's number again), the
surviving customer's number (indexed; repointed when the survivor is merged in turn), the merged
customer's id (its sidecar), when, by whom and why. See dms/catalog/customer_aliases.py.

Tolerant of databases that `metadata.create_all` built from newer models.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-09
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "customer_aliases"


def _tables() -> set[str]:
    return set(sa.inspect(op.get_bind()).get_table_names())


def upgrade() -> None:
    if TABLE in _tables():
        return
    op.create_table(
        TABLE,
        sa.Column("old_number", sa.String(length=32), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("old_id", sa.String(length=36), nullable=False),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("merged_by", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("old_number"),
    )
    op.create_index("ix_customer_aliases_number", TABLE, ["number"], unique=False)


def downgrade() -> None:
    if TABLE in _tables():
        op.drop_index("ix_customer_aliases_number", table_name=TABLE)
        op.drop_table(TABLE)
