"""Email-in (issue #11): received mail, links between documents, customers' mail addresses.

- `mail_messages`: one row per received mail, unique by its dedupe key (`mail_key`), with where
  it went (status, customer, documents) or why it was quarantined (code, reason, raw message key).
- `document_relations`: a mail and its attachments linked both ways (`kind` per direction), in the
  order linked; unique per (document, related document, kind).
- `customers.emails`: known mail addresses of a customer (a JSON list, `[]` for existing rows).

Tolerant of databases that `metadata.create_all` built from newer models and that `migrate`
adopted by stamping 0001: what already exists is not created again.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MAIL = "mail_messages"
RELATIONS = "document_relations"


def _inspector() -> sa.Inspector:
    return sa.inspect(op.get_bind())


def _tables() -> set[str]:
    return set(_inspector().get_table_names())


def _columns(table: str) -> set[str]:
    return {column["name"] for column in _inspector().get_columns(table)}


def _add_customer_emails() -> None:
    """Nullable first, `[]` for every existing customer, then NOT NULL (no JSON server default)."""
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("emails", sa.JSON(), nullable=True))
    customers = sa.table("customers", sa.column("emails", sa.JSON()))
    op.get_bind().execute(sa.update(customers).values(emails=[]))
    with op.batch_alter_table("customers") as batch:
        batch.alter_column("emails", existing_type=sa.JSON(), nullable=False)


def upgrade() -> None:
    tables = _tables()
    if MAIL not in tables:
        op.create_table(
            MAIL,
            sa.Column("id", sa.String(length=36), nullable=False),
            sa.Column("mail_key", sa.String(length=128), nullable=False),
            sa.Column("message_id", sa.Text(), nullable=True),
            sa.Column("sender", sa.Text(), nullable=True),
            sa.Column("recipients", sa.JSON(), nullable=False),
            sa.Column("subject", sa.Text(), nullable=True),
            sa.Column("via", sa.String(length=16), nullable=False),
            sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("code", sa.String(length=64), nullable=True),
            sa.Column("reason", sa.Text(), nullable=True),
            sa.Column("customer_number", sa.String(length=32), nullable=True),
            sa.Column("route", sa.JSON(), nullable=False),
            sa.Column("mail_document_id", sa.String(length=36), nullable=True),
            sa.Column("document_ids", sa.JSON(), nullable=False),
            sa.Column("raw_key", sa.String(length=500), nullable=True),
            sa.Column("sender_auth", sa.JSON(), nullable=False),
            sa.Column("envelope", sa.JSON(), nullable=False),
            sa.Column("forwarded", sa.JSON(), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("mail_key"),
        )
        op.create_index("ix_mail_messages_status", MAIL, ["status"], unique=False)
        op.create_index("ix_mail_messages_customer_number", MAIL, ["customer_number"], unique=False)
        op.create_index("ix_mail_messages_received_at", MAIL, ["received_at"], unique=False)
    if RELATIONS not in tables:
        op.create_table(
            RELATIONS,
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("document_id", sa.String(length=36), nullable=False),
            sa.Column("related_id", sa.String(length=36), nullable=False),
            sa.Column("kind", sa.String(length=32), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("document_id", "related_id", "kind", name="uq_document_relations"),
        )
        op.create_index("ix_document_relations_document_id", RELATIONS, ["document_id"], unique=False)
        op.create_index("ix_document_relations_related_id", RELATIONS, ["related_id"], unique=False)
    if "emails" not in _columns("customers"):
        _add_customer_emails()


def downgrade() -> None:
    if "emails" in _columns("customers"):
        with op.batch_alter_table("customers") as batch:
            batch.drop_column("emails")
    tables = _tables()
    for table in (RELATIONS, MAIL):
        if table in tables:
            op.drop_table(table)
