"""Retention (issue #12): archived objects, retention fields of documents and customers.

- `archive_objects`: one row per object written to the WORM archive (a version's original,
  sidecar or derivative) with its key, S3 version id, sha256, size, retain-until and lock mode;
  unique per (document, version, kind).
- `documents`: `archived_until` (latest retain-until of its archived versions), `legal_hold` and
  `legal_hold_reason`, `restricted` (GDPR Art. 17), `trashed_at`.
- `customers`: `legal_hold` and `legal_hold_reason`, `erasure_state`, `erasure_requested_at`.

Tolerant of databases that `metadata.create_all` built from newer models and that `migrate`
adopted by stamping 0001: what already exists is not created again.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ARCHIVE = "archive_objects"


def _flag(name: str) -> sa.Column:
    return sa.Column(name, sa.Boolean(), server_default=sa.false(), nullable=False)


def _document_columns() -> list[sa.Column]:
    return [
        sa.Column("archived_until", sa.DateTime(timezone=True), nullable=True),
        _flag("legal_hold"),
        sa.Column("legal_hold_reason", sa.Text(), nullable=True),
        _flag("restricted"),
        sa.Column("trashed_at", sa.DateTime(timezone=True), nullable=True),
    ]


def _customer_columns() -> list[sa.Column]:
    return [
        _flag("legal_hold"),
        sa.Column("legal_hold_reason", sa.Text(), nullable=True),
        sa.Column("erasure_state", sa.String(length=16), nullable=True),
        sa.Column("erasure_requested_at", sa.DateTime(timezone=True), nullable=True),
    ]


def _inspector() -> sa.Inspector:
    return sa.inspect(op.get_bind())


def _columns(table: str) -> set[str]:
    return {column["name"] for column in _inspector().get_columns(table)}


def upgrade() -> None:
    if ARCHIVE not in set(_inspector().get_table_names()):
        op.create_table(
            ARCHIVE,
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("document_id", sa.String(length=36), nullable=False),
            sa.Column("version", sa.Integer(), nullable=False),
            sa.Column("kind", sa.String(length=16), nullable=False),
            sa.Column("key", sa.String(length=500), nullable=False),
            sa.Column("version_id", sa.String(length=200), nullable=True),
            sa.Column("sha256", sa.String(length=64), nullable=False),
            sa.Column("size", sa.BigInteger(), nullable=False),
            sa.Column("retain_until", sa.DateTime(timezone=True), nullable=True),
            sa.Column("mode", sa.String(length=16), nullable=True),
            _flag("legal_hold"),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("document_id", "version", "kind", name="uq_archive_objects"),
        )
        op.create_index("ix_archive_objects_document_id", ARCHIVE, ["document_id"], unique=False)
    for table, columns in (("documents", _document_columns()), ("customers", _customer_columns())):
        existing = _columns(table)
        with op.batch_alter_table(table) as batch:
            for column in columns:
                if column.name not in existing:
                    batch.add_column(column)


def downgrade() -> None:
    for table, columns in (("customers", _customer_columns()), ("documents", _document_columns())):
        existing = _columns(table)
        with op.batch_alter_table(table) as batch:
            for column in columns:
                if column.name in existing:
                    batch.drop_column(column.name)
    if ARCHIVE in set(_inspector().get_table_names()):
        op.drop_table(ARCHIVE)
