"""Customer master data (issue 14): persons and companies, numbers, addresses, contacts, bank
accounts, consents, communication preferences, groups, branch and custom attributes.

- `customers`: first_name, last_name, birth_date, salutation, title (natural persons); legal_form,
  register_court, register_number, vat_id (legal persons); external_number (unique when set,
  indexed), branch (indexed); the lists and objects as JSON (groups, addresses, contacts,
  bank_accounts, consents, communication, attributes); name_key and address_key (the normalised
  name and main address for duplicate search, indexed).

Existing customers keep NULL in every new column (no branch, no groups) until they are changed.
Tolerant of databases that `metadata.create_all` built from newer models: what exists is not
created again.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "customers"
INDEXES = (  # name, column, unique
    ("ix_customers_external_number", "external_number", True),
    ("ix_customers_branch", "branch", False),
    ("ix_customers_name_key", "name_key", False),
    ("ix_customers_address_key", "address_key", False),
)


def _columns() -> list[sa.Column]:
    return [
        sa.Column("salutation", sa.String(length=16), nullable=True),
        sa.Column("title", sa.String(length=50), nullable=True),
        sa.Column("first_name", sa.String(length=100), nullable=True),
        sa.Column("last_name", sa.String(length=100), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("legal_form", sa.String(length=64), nullable=True),
        sa.Column("register_court", sa.String(length=100), nullable=True),
        sa.Column("register_number", sa.String(length=32), nullable=True),
        sa.Column("vat_id", sa.String(length=32), nullable=True),
        sa.Column("external_number", sa.String(length=64), nullable=True),
        sa.Column("branch", sa.String(length=64), nullable=True),
        sa.Column("groups", sa.JSON(), nullable=True),
        sa.Column("addresses", sa.JSON(), nullable=True),
        sa.Column("contacts", sa.JSON(), nullable=True),
        sa.Column("bank_accounts", sa.JSON(), nullable=True),
        sa.Column("consents", sa.JSON(), nullable=True),
        sa.Column("communication", sa.JSON(), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=True),
        sa.Column("name_key", sa.String(length=300), nullable=True),
        sa.Column("address_key", sa.String(length=500), nullable=True),
    ]


def _inspector() -> sa.Inspector:
    return sa.inspect(op.get_bind())


def upgrade() -> None:
    existing = {column["name"] for column in _inspector().get_columns(TABLE)}
    with op.batch_alter_table(TABLE) as batch:
        for column in _columns():
            if column.name not in existing:
                batch.add_column(column)
    indexes = {index["name"] for index in _inspector().get_indexes(TABLE)}
    for name, column, unique in INDEXES:
        if name not in indexes:
            op.create_index(name, TABLE, [column], unique=unique)


def downgrade() -> None:
    indexes = {index["name"] for index in _inspector().get_indexes(TABLE)}
    for name, _column, _unique in INDEXES:
        if name in indexes:
            op.drop_index(name, table_name=TABLE)
    existing = {column["name"] for column in _inspector().get_columns(TABLE)}
    with op.batch_alter_table(TABLE) as batch:
        for column in reversed(_columns()):
            if column.name in existing:
                batch.drop_column(column.name)
