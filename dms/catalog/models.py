"""SQLAlchemy 2 models of the catalog. The same models serve SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
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
    # Known mail addresses (lower case), for routing mail to the general address (email-in).
    emails: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Retention (issue #12): a legal hold covers all the customer's documents; GDPR erasure state
    # (None | "restricted" | "erased") and when erasure was requested.
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    legal_hold_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    erasure_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    erasure_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Master data (issue 14, migration 0013; NULL for customers from before it).
    salutation: Mapped[str | None] = mapped_column(String(16), nullable=True)
    title: Mapped[str | None] = mapped_column(String(50), nullable=True)
    first_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    last_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    birth_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    legal_form: Mapped[str | None] = mapped_column(String(64), nullable=True)
    register_court: Mapped[str | None] = mapped_column(String(100), nullable=True)
    register_number: Mapped[str | None] = mapped_column(String(32), nullable=True)
    vat_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # The number in an older system or the ERP: unique when set.
    external_number: Mapped[str | None] = mapped_column(String(64), unique=True, index=True, nullable=True)
    branch: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    groups: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    addresses: Mapped[list[dict] | None] = mapped_column(JSON, nullable=True)
    contacts: Mapped[list[dict] | None] = mapped_column(JSON, nullable=True)
    bank_accounts: Mapped[list[dict] | None] = mapped_column(JSON, nullable=True)
    consents: Mapped[list[dict] | None] = mapped_column(JSON, nullable=True)
    communication: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    attributes: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    # The normalised name and main address (dms.masterdata name_key/address_key), for duplicate search.
    name_key: Mapped[str | None] = mapped_column(String(300), index=True, nullable=True)
    address_key: Mapped[str | None] = mapped_column(String(500), index=True, nullable=True)
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
    # Retention (issue #12): the latest retain-until over its archived versions; legal hold;
    # GDPR Art. 17 restriction; in the trash since.
    archived_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    legal_hold_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    restricted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    trashed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

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


class MailMessageRow(Base):
    """One mail the gateway received (SMTP or IMAP), by its dedupe key, and what became of it.

    `mail_key` is unique: claiming it (an insert) is what makes the same mail filed only once,
    across processes. `status`: filing → filed | quarantined → released | deleted."""

    __tablename__ = "mail_messages"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    mail_key: Mapped[str] = mapped_column(String(128), unique=True)
    message_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    sender: Mapped[str | None] = mapped_column(Text, nullable=True)
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    subject: Mapped[str | None] = mapped_column(Text, nullable=True)
    via: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    customer_number: Mapped[str | None] = mapped_column(String(32), index=True, nullable=True)
    route: Mapped[dict] = mapped_column(JSON, default=dict)
    mail_document_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    document_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    # object store key of the raw message while it is quarantined
    raw_key: Mapped[str | None] = mapped_column(String(500), nullable=True)
    sender_auth: Mapped[dict] = mapped_column(JSON, default=dict)
    envelope: Mapped[dict] = mapped_column(JSON, default=dict)
    forwarded: Mapped[list[dict]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DocumentRelationRow(Base):
    """A link from one document to another (a mail and its attachments), in the order linked."""

    __tablename__ = "document_relations"
    __table_args__ = (UniqueConstraint("document_id", "related_id", "kind", name="uq_document_relations"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(String(36), index=True)
    related_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ArchiveObjectRow(Base):
    """One object written to the WORM archive: a version's original, sidecar or derivative.

    Unique per (document, version, kind): the row decides whether that object is archived already.
    `retain_until`/`mode` are None for an object archived without a lock (its retention had ended)."""

    __tablename__ = "archive_objects"
    __table_args__ = (UniqueConstraint("document_id", "version", "kind", name="uq_archive_objects"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(String(36), index=True)
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(500))
    version_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    retain_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    mode: Mapped[str | None] = mapped_column(String(16), nullable=True)
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DeletionRunRow(Base):
    """One run of the retention sweep or the trash purge (issue #12, see dms/app/deletion.py):
    what it planned to delete, who approved it, and what became of each document (`items`)."""

    __tablename__ = "deletion_runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # sweep | trash
    status: Mapped[str] = mapped_column(String(24), index=True)
    trigger: Mapped[str] = mapped_column(String(16))  # cli | api | schedule
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    created_by: Mapped[str] = mapped_column(String(200))
    cutoff: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    approved_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    planned: Mapped[list[dict]] = mapped_column(JSON, default=list)
    items: Mapped[list[dict]] = mapped_column(JSON, default=list)
    deleted: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    skipped: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    failed: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class AuditSealRow(Base):
    """One seal of the audit trail in the WORM archive: entries `first_seq`..`last_seq` (ids) as the
    JSON lines object `key` (version `version_id`), its sha256 and the chain head (`head_hash`, the
    hash of entry `last_seq`). See dms/app/audit_seal.py."""

    __tablename__ = "audit_seals"
    __table_args__ = (UniqueConstraint("key", name="uq_audit_seals_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(500))
    version_id: Mapped[str] = mapped_column(String(200))
    manifest_version_id: Mapped[str] = mapped_column(String(200))
    first_seq: Mapped[int] = mapped_column(Integer)
    last_seq: Mapped[int] = mapped_column(Integer, index=True)
    count: Mapped[int] = mapped_column(Integer)
    head_hash: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))
    retain_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    mode: Mapped[str] = mapped_column(String(16))
    sealed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ErasureRequestRow(Base):
    """One GDPR Art. 17 erasure request of a customer (issue #12, see dms/app/gdpr.py): who asked
    why, its state, and which master data fields were kept (`kept`: field -> why)."""

    __tablename__ = "erasure_requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_number: Mapped[str] = mapped_column(String(32), index=True)
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    status: Mapped[str] = mapped_column(String(16))  # running | done | failed
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)  # restricted | erased
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    kept: Mapped[dict] = mapped_column(JSON, default=dict)
    explanation: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class ErasureStepRow(Base):
    """One step of an erasure request: a document purged or restricted, master data anonymised."""

    __tablename__ = "erasure_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("erasure_requests.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    action: Mapped[str] = mapped_column(String(32))  # purge | restrict | anonymise | failed
    document_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


# Users and API tokens live in dms/identity/models.py, the aliases of merged customers in
# dms/catalog/customer_aliases.py, customer notes in dms/catalog/note_models.py, on this Base:
# imported here so that create_all and the migration checks see every table.
from dms.catalog import customer_aliases as _customer_aliases  # noqa: E402, F401
from dms.catalog import note_models as _note_models  # noqa: E402, F401
from dms.identity import models as _identity_models  # noqa: E402, F401
