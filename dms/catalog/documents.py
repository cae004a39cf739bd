"""Documents, their versions, status events and ingest attempts in the catalog.

Methods take and return domain records, never ORM rows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import false, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dms.catalog.convert import aware, document_from_row, document_to_row, version_from_row, version_to_row
from dms.catalog.engine import Database, utcnow
from dms.catalog.models import CustomerRow, DocumentEventRow, DocumentRow, VersionRow
from dms.domain import Document, DocumentEvent, DocumentStatus, Version
from dms.errors import Conflict, NotFound, ValidationError

DOCUMENT_FIELDS = {
    "folder", "document_class", "title", "status", "status_reason", "tags", "fields",
    "classification", "document_date", "given_fields", "given_date",
    # retention (issue #12)
    "archived_until", "legal_hold", "legal_hold_reason", "restricted", "trashed_at",
}
SEQ_LOCK_KEY = 0x6B2D736571  # pg_advisory_xact_lock key of document numbering ("k-seq" in hex)


@dataclass(frozen=True)
class DocumentFilter:
    """Filters of `DocumentRepository.page`; `after_seq` is the cursor (exclusive)."""

    customer_number: str | None = None
    status: str | None = None
    folder: str | None = None
    document_class: str | None = None
    external_id: str | None = None
    updated_since: datetime | None = None
    after_seq: int | None = None
    oldest_first: bool = False
    include_restricted: bool = True  # False: without GDPR-restricted documents (dms/app/gdpr.py)
    # branch scoping (dms/app/branches.py): only documents of no customer or of customers of these
    # branches (`unset_branch`: customers without a branch too); None: all
    branches: frozenset[str] | None = None
    unset_branch: bool = False


def _customer_id(s: Session, number: str | None) -> str | None:
    if number is None:
        return None
    cid = s.scalar(select(CustomerRow.id).where(CustomerRow.number == str(number)))
    if cid is None:
        raise NotFound(f"Kunde {number} existiert nicht.", code="customer_not_found")
    return cid


def _not_found(document_id: str) -> NotFound:
    return NotFound(f"Dokument {document_id} existiert nicht.", code="document_not_found")


def write_status(
    s: Session, document_id: str, status: str, *, stage: str, reason: str | None, now: datetime
) -> None:
    """The status statements (document row + one event) inside the caller's transaction."""
    result = s.execute(
        update(DocumentRow).where(DocumentRow.id == document_id).values(status=status, status_reason=reason,
                                                                          updated_at=now)
    )
    if result.rowcount == 0:
        raise _not_found(document_id)
    s.execute(
        insert(DocumentEventRow).values(document_id=document_id, at=now, stage=stage, status=status, message=reason)
    )


def _number(s: Session, document_id: str) -> None:
    """Give a just inserted document the next `seq`, in commit order.

    SQLite: the INSERT before holds the database's single write lock until commit. PostgreSQL:
    an advisory lock held until commit. So no document gets a lower number than one already
    visible, and a cursor never skips a document that commits late."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SEQ_LOCK_KEY})
    s.flush()
    s.execute(
        update(DocumentRow)
        .where(DocumentRow.id == document_id)
        .values(seq=select(func.coalesce(func.max(DocumentRow.seq), 0) + 1).scalar_subquery())
        .execution_options(synchronize_session=False)
    )


def _external_conflict(exc: IntegrityError) -> bool:
    return "uq_documents_external" in str(exc.orig) or "external_source" in str(exc.orig)


class DocumentRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- documents and versions -----------------------------------------------------------

    def create(self, doc: Document, version: Version) -> Document:
        now = utcnow()
        try:
            with self.db.session() as s:
                draft = replace(doc, versions=[version])
                s.add(document_to_row(draft, _customer_id(s, doc.customer_number), now))
                _number(s, doc.id)
                s.add(DocumentEventRow(document_id=doc.id, at=now, stage="store_original", status=doc.status))
        except IntegrityError as exc:
            if doc.external_id is not None and _external_conflict(exc):
                raise Conflict(
                    f"Die externe Id {doc.external_id!r} ist bereits vergeben.", code="external_id_exists"
                ) from exc
            raise
        return self.get(doc.id)

    def find_external(self, source: str, external_id: str) -> Document | None:
        """The document `source` pushed with its id `external_id`, if any."""
        with self.db.session() as s:
            row = s.scalar(
                select(DocumentRow).where(DocumentRow.external_source == source, DocumentRow.external_id == external_id)
            )
            return document_from_row(row) if row is not None else None

    def restore(self, document: Document) -> None:
        """Insert `document` and its versions as-is (ids, numbers, times), for a catalog rebuild."""
        with self.db.session() as s:
            if s.get(DocumentRow, document.id) is not None:
                raise Conflict(f"Dokument {document.id} ist bereits im Katalog.", code="document_exists")
            now = utcnow()
            s.add(document_to_row(document, _customer_id(s, document.customer_number), now))
            _number(s, document.id)
            s.add(
                DocumentEventRow(
                    document_id=document.id, at=now, stage="restore", status=document.status,
                    message="Aus den Sidecars im Objektspeicher wiederhergestellt.",
                )
            )

    def add_version(self, document_id: str, version: Version) -> Version:
        with self.db.session() as s:
            row = s.get(DocumentRow, document_id)
            if row is None:
                raise _not_found(document_id)
            expected = max((v.number for v in row.versions), default=0) + 1
            if version.number != expected:
                raise Conflict(f"Version {version.number} erwartet {expected}.", code="version_conflict")
            row.versions.append(version_to_row(version))
            row.updated_at = utcnow()
        return version

    def update_version(self, document_id: str, number: int, **changes: Any) -> Version:
        with self.db.session() as s:
            row = s.scalar(
                select(VersionRow).where(VersionRow.document_id == document_id, VersionRow.number == number)
            )
            if row is None:
                raise NotFound(f"Version {number} von {document_id} existiert nicht.", code="version_not_found")
            for key in ("mime_type", "text_key", "derivative_key"):
                if key in changes:
                    setattr(row, key, changes[key])
            return version_from_row(row)

    def latest_version(self, document_id: str) -> Version:
        with self.db.session() as s:
            row = s.scalar(
                select(VersionRow)
                .where(VersionRow.document_id == document_id)
                .order_by(VersionRow.number.desc())
                .limit(1)
            )
            if row is None:
                raise NotFound(f"Dokument {document_id} hat keine Version.", code="document_not_found")
            return version_from_row(row)

    def get(self, document_id: str) -> Document:
        with self.db.session() as s:
            row = s.get(DocumentRow, document_id)
            if row is None:
                raise _not_found(document_id)
            return document_from_row(row)

    def update(self, document_id: str, *, customer_number: Any = ..., **changes: Any) -> Document:
        unknown = set(changes) - DOCUMENT_FIELDS
        if unknown:
            raise ValidationError(f"Nicht änderbar: {', '.join(sorted(unknown))}.")
        with self.db.session() as s:
            row = s.get(DocumentRow, document_id)
            if row is None:
                raise _not_found(document_id)
            if customer_number is not ...:
                row.customer_id = _customer_id(s, customer_number)
            for key, value in changes.items():
                setattr(row, key, value)
            row.updated_at = utcnow()
            if "status" in changes:
                s.add(
                    DocumentEventRow(
                        document_id=document_id,
                        at=row.updated_at,
                        stage="update",
                        status=changes["status"],
                        message=changes.get("status_reason"),
                    )
                )
        return self.get(document_id)

    # --- status and events ----------------------------------------------------------------

    def set_status(self, document_id: str, status: str, *, stage: str, reason: str | None = None) -> None:
        """Status + one event; plain statements, since the pipeline calls this at every stage."""
        with self.db.session() as s:
            write_status(s, document_id, status, stage=stage, reason=reason, now=utcnow())

    def add_event(self, document_id: str, *, stage: str, status: str, message: str | None = None) -> None:
        """One event without a status change (e.g. what the archive stage did, issue #12)."""
        with self.db.session() as s:
            s.add(DocumentEventRow(document_id=document_id, at=utcnow(), stage=stage, status=status, message=message))

    def events(self, document_id: str) -> list[DocumentEvent]:
        with self.db.session() as s:
            rows = s.scalars(
                select(DocumentEventRow)
                .where(DocumentEventRow.document_id == document_id)
                .order_by(DocumentEventRow.id)
            )
            return [DocumentEvent(aware(r.at), r.stage, r.status, r.message) for r in rows]  # type: ignore[arg-type]

    # --- ingest attempts (see ingest/pipeline.py) ---------------------------------------------

    def _add_attempts(self, document_id: str, number: int, delta: int | None) -> int:
        """attempts += delta (None: reset to 0), never below 0, committed at once; the new count."""
        where = (VersionRow.document_id == document_id, VersionRow.number == number)
        if delta is None:
            value: Any = 0
        elif delta >= 0:
            value = VersionRow.attempts + delta
        else:
            value = func.max(VersionRow.attempts + delta, 0) if self.db.engine.dialect.name == "sqlite" \
                else func.greatest(VersionRow.attempts + delta, 0)
        with self.db.session() as s:
            result = s.execute(update(VersionRow).where(*where).values(attempts=value))
            if result.rowcount == 0:
                raise NotFound(f"Version {number} von {document_id} existiert nicht.", code="version_not_found")
            return int(s.scalar(select(VersionRow.attempts).where(*where)) or 0)

    def start_attempt(self, document_id: str, number: int) -> int:
        """Count one more ingest attempt of a version, durably, before any work; returns its number."""
        return self._add_attempts(document_id, number, 1)

    def give_back_attempt(self, document_id: str, number: int) -> int:
        """Undo one count (an attempt that ended because a backend was unavailable)."""
        return self._add_attempts(document_id, number, -1)

    def reset_attempts(self, document_id: str, number: int) -> None:
        """Start counting from zero (a clerk asked for the version to be processed again)."""
        self._add_attempts(document_id, number, None)

    # --- queries --------------------------------------------------------------------------

    def find_duplicate(self, sha256: str, customer_number: str | None) -> tuple[str, int] | None:
        """(document id, version) of an identical file in that customer's file (any file if None)."""
        with self.db.session() as s:
            stmt = (
                select(VersionRow.document_id, VersionRow.number)
                .join(DocumentRow, DocumentRow.id == VersionRow.document_id)
                .where(VersionRow.sha256 == sha256)
                .order_by(VersionRow.id)
                .limit(1)
            )
            if customer_number is not None:
                stmt = stmt.join(CustomerRow, CustomerRow.id == DocumentRow.customer_id).where(
                    CustomerRow.number == str(customer_number)
                )
            found = s.execute(stmt).first()
            return (found[0], found[1]) if found else None

    def query(
        self,
        *,
        customer_number: str | None = None,
        status: str | None = None,
        folder: str | None = None,
        limit: int = 100,
        offset: int = 0,
        include_restricted: bool = True,
    ) -> list[Document]:
        """Documents, newest first, filtered by customer, status and folder (`include_restricted=False`:
        without GDPR-restricted documents)."""
        with self.db.session() as s:
            stmt = select(DocumentRow).order_by(DocumentRow.created_at.desc()).limit(limit).offset(offset)
            stmt = stmt.where(DocumentRow.trashed_at.is_(None))  # the trash is not listed (dms/app/deletion.py)
            if customer_number is not None:
                stmt = stmt.join(CustomerRow).where(CustomerRow.number == str(customer_number))
            if status:
                stmt = stmt.where(DocumentRow.status == status)
            if folder:
                stmt = stmt.where(DocumentRow.folder == folder)
            if not include_restricted:
                stmt = stmt.where(DocumentRow.restricted.is_(False))
            return [document_from_row(r) for r in s.scalars(stmt).unique()]

    def page(self, where: DocumentFilter, limit: int = 100, offset: int = 0) -> list[Document]:
        """Documents in the order the catalog received them (`seq`; newest first unless
        `oldest_first`), after the cursor `where.after_seq`. Stable under concurrent inserts: a new
        document only ever comes after every one already visible."""
        order = DocumentRow.seq.asc() if where.oldest_first else DocumentRow.seq.desc()
        stmt = select(DocumentRow).order_by(order).limit(limit).offset(offset)
        stmt = stmt.where(DocumentRow.trashed_at.is_(None))  # the trash is not listed (dms/app/deletion.py)
        if where.customer_number is not None:
            stmt = stmt.join(CustomerRow, CustomerRow.id == DocumentRow.customer_id).where(
                CustomerRow.number == str(where.customer_number)
            )
        for column, value in (
            (DocumentRow.status, where.status), (DocumentRow.folder, where.folder),
            (DocumentRow.document_class, where.document_class), (DocumentRow.external_id, where.external_id),
        ):
            if value:
                stmt = stmt.where(column == value)
        if where.updated_since is not None:
            stmt = stmt.where(DocumentRow.updated_at >= where.updated_since)
        if not where.include_restricted:
            stmt = stmt.where(DocumentRow.restricted.is_(False))
        if where.branches is not None:
            inside = CustomerRow.branch.in_(sorted(where.branches)) if where.branches else false()
            if where.unset_branch:
                inside = or_(inside, CustomerRow.branch.is_(None))
            allowed = select(CustomerRow.id).where(inside)
            stmt = stmt.where(or_(DocumentRow.customer_id.is_(None), DocumentRow.customer_id.in_(allowed)))
        if where.after_seq is not None:
            after = DocumentRow.seq > where.after_seq if where.oldest_first else DocumentRow.seq < where.after_seq
            stmt = stmt.where(after)
        with self.db.session() as s:
            return [document_from_row(r) for r in s.scalars(stmt).unique()]

    def pending_ids(self) -> list[str]:
        pending = (DocumentStatus.RECEIVED.value, DocumentStatus.PROCESSING.value)
        with self.db.session() as s:
            return list(s.scalars(select(DocumentRow.id).where(DocumentRow.status.in_(pending))))

    def all_ids(self) -> list[str]:
        with self.db.session() as s:
            return list(s.scalars(select(DocumentRow.id).order_by(DocumentRow.created_at)))
