"""SQLAlchemy 2 models of the catalog. The same models serve SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class CustomerRow(Base):
    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    folders: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Incremented by every update (the ORM checks it: an update of a stale row fails); part of the ETag.
    row_version: Mapped[int] = mapped_column(Integer, server_default=text("1"))

    __mapper_args__ = {"version_id_col": row_version}


class DocumentRow(Base):
    __tablename__ = "documents"
    __table_args__ = (
        # one document per (ERP, its document id): a repeated push is a new version, never a duplicate
        Index("uq_documents_external", "external_source", "external_id", unique=True),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id"), index=True, nullable=True)
    folder: Mapped[str | None] = mapped_column(String(200), nullable=True)
    document_class: Mapped[str | None] = mapped_column(String(64), nullable=True)
    title: Mapped[str] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    fields: Mapped[dict] = mapped_column(JSON, default=dict)
    classification: Mapped[dict] = mapped_column(JSON, default=dict)
    document_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    # The sender's own id of the document (an ERP's document number) and who sent it (the
    # principal's name, e.g. `token:erp`); unique together.
    external_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    external_source: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Metadata the sender gave (fields, document date): the pipeline adds to them, never overrides them.
    given_fields: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    given_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    # Position in the order the catalog received documents (commit order): the key of cursor pagination.
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True, index=True, nullable=True)

    customer: Mapped[CustomerRow | None] = relationship(lazy="joined")
    versions: Mapped[list[VersionRow]] = relationship(
        back_populates="document", lazy="selectin", order_by="VersionRow.number", cascade="all, delete-orphan"
    )


class VersionRow(Base):
    __tablename__ = "versions"
    __table_args__ = (UniqueConstraint("document_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    mime_type: Mapped[str | None] = mapped_column(String(128), nullable=True)
    filename: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(200))
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    storage_key: Mapped[str] = mapped_column(String(500))
    text_key: Mapped[str | None] = mapped_column(String(500), nullable=True)
    derivative_key: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # The file name as sent (`filename` is the sanitised one); NULL for versions before 0002.
    original_filename: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    # Ingest attempts started, incremented in its own transaction before any stage runs.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))

    document: Mapped[DocumentRow] = relationship(back_populates="versions")


class DocumentEventRow(Base):
    __tablename__ = "document_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    stage: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(Text, nullable=True)


class IdempotencyRow(Base):
    """The first answer to a request with an `Idempotency-Key`, per caller, for replaying it.

    `status` is NULL while the first request is still running (a second one gets 409)."""

    __tablename__ = "idempotency_keys"

    principal: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    response_headers: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class AuditRow(Base):
    """Who did what to which object, when and from where: append-only and hash-chained.

    The canonical form behind `hash` is described in dms/catalog/audit_chain.py; `prev_hash` is
    unique, so two entries can never claim the same predecessor (the chain cannot fork).
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(200), index=True)
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(500), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    customer_number: Mapped[str | None] = mapped_column(String(32), index=True, nullable=True)
    document_id: Mapped[str | None] = mapped_column(String(36), index=True, nullable=True)
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    hash: Mapped[str] = mapped_column(String(64))


# Users and API tokens live in dms/identity/models.py on this Base: imported here so that
# create_all and the migration checks see every table.
from dms.identity import models as _identity_models  # noqa: E402, F401
