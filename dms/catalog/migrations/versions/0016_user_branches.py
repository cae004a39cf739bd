"""Branches (Filialen) of users and API tokens (issue 14, branch scoping).

- `users.branches`, `api_tokens.branches`: JSON lists of branch names. NULL (existing users and
  tokens) means no branch: with `[customers] branch_scoping` on, such a caller sees only customers
  of every branch if it may (`customers:all_branches`, or a head-office branch).

Tolerant of databases that `metadata.create_all` built from newer models.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("users", "api_tokens")


def _columns(table: str) -> set[str]:
    return {column["name"] for column in sa.inspect(op.get_bind()).get_columns(table)}


def upgrade() -> None:
    for table in TABLES:
        if "branches" not in _columns(table):
            with op.batch_alter_table(table) as batch:
                batch.add_column(sa.Column("branches", sa.JSON(), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        if "branches" in _columns(table):
            with op.batch_alter_table(table) as batch:
                batch.drop_column("branches")
