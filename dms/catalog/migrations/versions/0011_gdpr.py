"""GDPR erasure requests (issue #12): `erasure_requests` and their `erasure_steps`.

- `erasure_requests`: one per Art. 17 request of a customer: reason, who asked when, state
  (running | done | failed), outcome (restricted | erased), whether a legal hold applied, the
  master data fields kept and why (`kept`), an explanation.
- `erasure_steps`: what the request did, step by step (a document purged or restricted, the
  master data anonymised).

The documents' `restricted` flag and the customers' `erasure_state` come with 0008. Tolerant of
databases that `metadata.create_all` built from newer models: what exists is not created again.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REQUESTS = "erasure_requests"
STEPS = "erasure_steps"


def _tables() -> set[str]:
    return set(sa.inspect(op.get_bind()).get_table_names())


def upgrade() -> None:
    tables = _tables()
    if REQUESTS not in tables:
        op.create_table(
            REQUESTS,
            sa.Column("id", sa.String(length=36), nullable=False),
            sa.Column("customer_number", sa.String(length=32), nullable=False),
            sa.Column("reason", sa.Text(), nullable=False),
            sa.Column("requested_by", sa.String(length=200), nullable=False),
            sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("outcome", sa.String(length=16), nullable=True),
            sa.Column("legal_hold", sa.Boolean(), server_default=sa.false(), nullable=False),
            sa.Column("kept", sa.JSON(), nullable=False),
            sa.Column("explanation", sa.Text(), nullable=True),
            sa.Column("error", sa.Text(), nullable=True),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index("ix_erasure_requests_customer_number", REQUESTS, ["customer_number"], unique=False)
    if STEPS not in tables:
        op.create_table(
            STEPS,
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("request_id", sa.String(length=36), nullable=False),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("action", sa.String(length=32), nullable=False),
            sa.Column("document_id", sa.String(length=36), nullable=True),
            sa.Column("detail", sa.JSON(), nullable=False),
            sa.ForeignKeyConstraint(["request_id"], [f"{REQUESTS}.id"]),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index("ix_erasure_steps_request_id", STEPS, ["request_id"], unique=False)


def downgrade() -> None:
    tables = _tables()
    if STEPS in tables:
        op.drop_table(STEPS)
    if REQUESTS in tables:
        op.drop_table(REQUESTS)
