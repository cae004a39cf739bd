"""Audit trail (issue #10): request context, object references and a hash chain.

Adds to `audit_log`: `ip`, `user_agent`, `request_id`, `customer_number`, `document_id`,
`version`, `prev_hash` and `hash` (existing columns stay). The rows written before this
revision are chained in id order with the canonical form of dms/catalog/audit_chain.py
(their new context columns stay NULL, as nobody recorded them); the first row's `prev_hash`
is GENESIS. `prev_hash` is unique, so two entries can never claim the same predecessor.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-15
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from dms.catalog.audit_chain import GENESIS, entry_hash

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NEW = ("ip", "user_agent", "request_id", "customer_number", "document_id", "version", "prev_hash", "hash")


def _columns() -> set[str]:
    return {column["name"] for column in sa.inspect(op.get_bind()).get_columns("audit_log")}


def _indexes() -> set[str]:
    return {index["name"] for index in sa.inspect(op.get_bind()).get_indexes("audit_log")}


def _chain_existing_rows() -> None:
    """Chain the rows written before this revision, oldest first, exactly as the writer would."""
    audit = sa.table(
        "audit_log",
        sa.column("id", sa.Integer()),
        sa.column("at", sa.DateTime(timezone=True)),
        *(sa.column(name, sa.String()) for name in ("actor", "action", "object_type", "object_id")),
        sa.column("details", sa.JSON()),
        *(sa.column(name) for name in _NEW),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(audit).order_by(audit.c.id)).mappings().all()
    prev = GENESIS
    for row in rows:
        entry = {**row, "details": row["details"] or {}, "prev_hash": prev}
        digest = entry_hash(entry)
        bind.execute(sa.update(audit).where(audit.c.id == row["id"]).values(prev_hash=prev, hash=digest))
        prev = digest


def upgrade() -> None:
    existing = _columns()
    with op.batch_alter_table("audit_log") as batch:
        for name, type_ in (
            ("ip", sa.String(length=64)),
            ("user_agent", sa.String(length=500)),
            ("request_id", sa.String(length=128)),
            ("customer_number", sa.String(length=32)),
            ("document_id", sa.String(length=36)),
            ("version", sa.Integer()),
            ("prev_hash", sa.String(length=64)),
            ("hash", sa.String(length=64)),
        ):
            if name not in existing:
                batch.add_column(sa.Column(name, type_, nullable=True))
    _chain_existing_rows()
    indexes = _indexes()
    with op.batch_alter_table("audit_log") as batch:
        batch.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        for name, columns, unique in (
            ("ix_audit_log_prev_hash", ["prev_hash"], True),
            ("ix_audit_log_customer_number", ["customer_number"], False),
            ("ix_audit_log_document_id", ["document_id"], False),
            ("ix_audit_log_actor", ["actor"], False),
        ):
            if name not in indexes:
                batch.create_index(name, columns, unique=unique)


def downgrade() -> None:
    existing = _columns()
    indexes = _indexes()
    with op.batch_alter_table("audit_log") as batch:
        for name in ("ix_audit_log_prev_hash", "ix_audit_log_customer_number", "ix_audit_log_document_id",
                     "ix_audit_log_actor"):
            if name in indexes:
                batch.drop_index(name)
        for name in reversed(_NEW):
            if name in existing:
                batch.drop_column(name)
