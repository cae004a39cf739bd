"""ERP push (issue #10): external ids, given metadata, cursor order, idempotency keys, row versions.

- `documents`: `external_id` and `external_source` (unique together: one document per ERP
  and its document id), `given_fields` and `given_date` (the sender's metadata, which the
  pipeline never overrides), `seq` (the order the catalog received documents, the key of cursor
  pagination; existing rows are numbered by `created_at`, then id) and an index on `updated_at`.
- `customers.row_version`: incremented by every update; part of the customer's ETag.
- `idempotency_keys`: the first answer to a request with an `Idempotency-Key`, per caller.

Tolerant of databases that `metadata.create_all` built from newer models and that `migrate`
adopted by stamping 0001: what already exists is not created again.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-15
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DOCUMENT_COLUMNS = ("external_id", "external_source", "given_fields", "given_date", "seq")
_DOCUMENT_INDEXES = ("uq_documents_external", "ix_documents_seq", "ix_documents_updated_at")


def _inspector() -> sa.Inspector:
    return sa.inspect(op.get_bind())


def _columns(table: str) -> set[str]:
    return {column["name"] for column in _inspector().get_columns(table)}


def _indexes(table: str) -> set[str]:
    return {index["name"] for index in _inspector().get_indexes(table)}


def _number_existing_documents() -> None:
    """seq = 1, 2, … by created_at (then id) for rows that have none."""
    documents = sa.table("documents", sa.column("id", sa.String()), sa.column("created_at", sa.DateTime()),
                         sa.column("seq", sa.BigInteger()))
    bind = op.get_bind()
    last = bind.execute(sa.select(sa.func.max(documents.c.seq))).scalar() or 0
    ids = bind.execute(
        sa.select(documents.c.id).where(documents.c.seq.is_(None)).order_by(documents.c.created_at, documents.c.id)
    ).scalars().all()
    for offset, document_id in enumerate(ids, start=1):
        bind.execute(sa.update(documents).where(documents.c.id == document_id).values(seq=last + offset))


def upgrade() -> None:
    existing = _columns("documents")
    with op.batch_alter_table("documents") as batch:
        for name, type_ in (
            ("external_id", sa.String(length=200)),
            ("external_source", sa.String(length=200)),
            ("given_fields", sa.JSON()),
            ("given_date", sa.Date()),
            ("seq", sa.BigInteger()),
        ):
            if name not in existing:
                batch.add_column(sa.Column(name, type_, nullable=True))
    _number_existing_documents()
    indexes = _indexes("documents")
    with op.batch_alter_table("documents") as batch:
        for name, columns, unique in (
            ("uq_documents_external", ["external_source", "external_id"], True),
            ("ix_documents_seq", ["seq"], True),
            ("ix_documents_updated_at", ["updated_at"], False),
        ):
            if name not in indexes:
                batch.create_index(name, columns, unique=unique)
    if "row_version" not in _columns("customers"):
        with op.batch_alter_table("customers") as batch:
            batch.add_column(sa.Column("row_version", sa.Integer(), server_default=sa.text("1"), nullable=False))
    if "idempotency_keys" not in set(_inspector().get_table_names()):
        op.create_table(
            "idempotency_keys",
            sa.Column("principal", sa.String(length=200), nullable=False),
            sa.Column("key", sa.String(length=200), nullable=False),
            sa.Column("fingerprint", sa.String(length=64), nullable=False),
            sa.Column("status", sa.Integer(), nullable=True),
            sa.Column("response_body", sa.Text(), nullable=True),
            sa.Column("response_headers", sa.JSON(), nullable=True),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("principal", "key"),
        )
        op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"], unique=False)


def downgrade() -> None:
    if "idempotency_keys" in set(_inspector().get_table_names()):
        op.drop_table("idempotency_keys")
    if "row_version" in _columns("customers"):
        with op.batch_alter_table("customers") as batch:
            batch.drop_column("row_version")
    indexes = _indexes("documents")
    existing = _columns("documents")
    with op.batch_alter_table("documents") as batch:
        for name in _DOCUMENT_INDEXES:
            if name in indexes:
                batch.drop_index(name)
        for name in reversed(_DOCUMENT_COLUMNS):
            if name in existing:
                batch.drop_column(name)
