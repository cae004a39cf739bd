"""Customer notes, calls and visits with their follow-ups (issue #14, dms/catalog/note_models.py).

- `customer_notes`: one row per note | call | visit of a customer (by number): text, when it
  happened, duration, author; a follow-up (Wiedervorlage) has a due date and an assignee, and
  `done_at`/`done_by` once done. Indexed for a customer's timeline (customer_number, at) and the
  follow-ups due per user (assignee, due).

Tolerant of databases that `metadata.create_all` built from newer models.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOTES = "customer_notes"


def _tables() -> set[str]:
    return set(sa.inspect(op.get_bind()).get_table_names())


def upgrade() -> None:
    if NOTES in _tables():
        return
    op.create_table(
        NOTES,
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("customer_number", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=True),
        sa.Column("due", sa.Date(), nullable=True),
        sa.Column("assignee", sa.String(length=64), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.String(length=200), nullable=True),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_customer_notes_customer_at", NOTES, ["customer_number", "at"], unique=False)
    op.create_index("ix_customer_notes_followups", NOTES, ["assignee", "due"], unique=False)


def downgrade() -> None:
    if NOTES in _tables():
        op.drop_index("ix_customer_notes_followups", table_name=NOTES)
        op.drop_index("ix_customer_notes_customer_at", table_name=NOTES)
        op.drop_table(NOTES)
