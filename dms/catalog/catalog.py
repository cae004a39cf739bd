"""The catalog: customers, documents, versions, events and the audit log.

One class over SQLAlchemy 2; SQLite (embedded default) and PostgreSQL differ only by URL.
Methods take and return domain records, never ORM rows.
"""

from __future__ import annotations

import random
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from dms.catalog.convert import customer_from_row, document_from_row, document_to_row, version_from_row, version_to_row
from dms.catalog.models import AuditRow, Base, CustomerRow, DocumentEventRow, DocumentRow, VersionRow
from dms.domain import (
    Customer,
    CustomerKind,
    CustomerStatus,
    Document,
    DocumentEvent,
    DocumentStatus,
    Version,
)
from dms.errors import BackendUnavailable, Conflict, NotFound, ValidationError

NUMBER_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,31}$")
DOCUMENT_FIELDS = {
    "folder", "document_class", "title", "status", "status_reason", "tags", "fields",
    "classification", "document_date",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # WAL + NORMAL: commits survive a crash of the process; only a power cut may lose the last
    # ones, never corrupt the file. The originals themselves are fsync'ed by the object store.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


class Catalog:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    # --- infrastructure -------------------------------------------------------------------

    def create_schema(self) -> None:
        Base.metadata.create_all(self.engine)

    def ping(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except OperationalError as exc:
            raise BackendUnavailable(f"Katalog nicht erreichbar: {exc.orig}") from exc

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction; a lost database connection becomes BackendUnavailable (retryable)."""
        try:
            with self._sessions() as session, session.begin():
                yield session
        except (OperationalError, InterfaceError) as exc:
            raise BackendUnavailable(f"Katalog nicht erreichbar: {exc.orig}") from exc

    # --- customers ------------------------------------------------------------------------

    def next_customer_number(self, first: int = 10001) -> str:
        with self.session() as s:
            numbers = [int(n) for (n,) in s.execute(select(CustomerRow.number)) if n.isdigit()]
        return str(max([first - 1, *numbers]) + 1)

    def create_customer(
        self,
        name: str,
        *,
        folders: list[str],
        number: str | None = None,
        kind: str = CustomerKind.LEGAL,
        status: str = CustomerStatus.CUSTOMER,
        tags: list[str] | None = None,
        first_number: int = 10001,
        customer_id: str | None = None,
        created_at: datetime | None = None,
    ) -> Customer:
        name = (name or "").strip()
        if not name:
            raise ValidationError("Der Kundenname fehlt.", field="name")
        if kind not in set(CustomerKind):
            raise ValidationError(f"Unbekannte Art {kind!r}: erlaubt sind natural, legal.", field="kind")
        if status not in set(CustomerStatus):
            allowed = ", ".join(s.value for s in CustomerStatus)
            raise ValidationError(f"Unbekannter Status {status!r}: erlaubt sind {allowed}.", field="status")
        if number is not None:
            number = str(number).strip()
            if not NUMBER_RE.match(number):
                raise ValidationError(f"Ungültige Kundennummer {number!r}.", field="number")
        for attempt in range(20):  # concurrent creators race for the same next number: retry with jitter
            candidate = number or self.next_customer_number(first_number)
            row = CustomerRow(
                id=customer_id or str(uuid.uuid4()),
                number=candidate,
                name=name,
                kind=str(kind),
                status=str(status),
                tags=sorted(set(tags or [])),
                folders=list(folders),
                created_at=created_at or utcnow(),
            )
            try:
                with self.session() as s:
                    s.add(row)
                return customer_from_row(row)
            except IntegrityError as exc:
                if number is not None:
                    raise Conflict(
                        f"Die Kundennummer {number} ist bereits vergeben.", code="customer_exists", number=number
                    ) from exc
                time.sleep(random.uniform(0, 0.01 * (attempt + 1)))
        raise Conflict("Keine freie Kundennummer gefunden, bitte erneut versuchen.")

    def get_customer(self, number: str) -> Customer:
        with self.session() as s:
            row = s.scalar(select(CustomerRow).where(CustomerRow.number == str(number)))
            if row is None:
                raise NotFound(f"Kunde {number} existiert nicht.", code="customer_not_found")
            return customer_from_row(row)

    def find_customer(self, number: str) -> Customer | None:
        try:
            return self.get_customer(number)
        except NotFound:
            return None

    def find_customers_by_name(self, name: str) -> list[Customer]:
        with self.session() as s:
            rows = s.scalars(select(CustomerRow).where(func.lower(CustomerRow.name) == name.strip().lower()))
            return [customer_from_row(r) for r in rows]

    def list_customers(self, query: str | None = None, limit: int = 100, offset: int = 0) -> list[Customer]:
        with self.session() as s:
            stmt = select(CustomerRow).order_by(CustomerRow.number).limit(limit).offset(offset)
            if query:
                like = f"%{query.lower()}%"
                stmt = stmt.where(func.lower(CustomerRow.name).like(like) | CustomerRow.number.like(like))
            return [customer_from_row(r) for r in s.scalars(stmt)]

    def update_customer(self, number: str, **changes: Any) -> Customer:
        allowed = {"name", "kind", "status", "tags"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValidationError(f"Nicht änderbar: {', '.join(sorted(unknown))}.")
        if "kind" in changes and changes["kind"] not in set(CustomerKind):
            raise ValidationError(f"Unbekannte Art {changes['kind']!r}.", field="kind")
        if "status" in changes and changes["status"] not in set(CustomerStatus):
            raise ValidationError(f"Unbekannter Status {changes['status']!r}.", field="status")
        with self.session() as s:
            row = s.scalar(select(CustomerRow).where(CustomerRow.number == str(number)))
            if row is None:
                raise NotFound(f"Kunde {number} existiert nicht.", code="customer_not_found")
            for key, value in changes.items():
                setattr(row, key, sorted(set(value)) if key == "tags" else value)
            return customer_from_row(row)

    # --- documents ------------------------------------------------------------------------

    def _customer_id(self, s: Session, number: str | None) -> str | None:
        if number is None:
            return None
        cid = s.scalar(select(CustomerRow.id).where(CustomerRow.number == str(number)))
        if cid is None:
            raise NotFound(f"Kunde {number} existiert nicht.", code="customer_not_found")
        return cid

    def create_document(self, doc: Document, version: Version) -> Document:
        now = utcnow()
        with self.session() as s:
            draft = replace(doc, versions=[version])
            s.add(document_to_row(draft, self._customer_id(s, doc.customer_number), now))
            s.flush()
            s.add(DocumentEventRow(document_id=doc.id, at=now, stage="store_original", status=doc.status))
        return self.get_document(doc.id)

    def add_version(self, document_id: str, version: Version) -> Version:
        with self.session() as s:
            row = s.get(DocumentRow, document_id)
            if row is None:
                raise NotFound(f"Dokument {document_id} existiert nicht.", code="document_not_found")
            expected = max((v.number for v in row.versions), default=0) + 1
            if version.number != expected:
                raise Conflict(f"Version {version.number} erwartet {expected}.", code="version_conflict")
            row.versions.append(version_to_row(version))
            row.updated_at = utcnow()
        return version

    def update_version(self, document_id: str, number: int, **changes: Any) -> Version:
        with self.session() as s:
            row = s.scalar(
                select(VersionRow).where(VersionRow.document_id == document_id, VersionRow.number == number)
            )
            if row is None:
                raise NotFound(f"Version {number} von {document_id} existiert nicht.", code="version_not_found")
            for key in ("mime_type", "text_key", "derivative_key"):
                if key in changes:
                    setattr(row, key, changes[key])
            return version_from_row(row)

    # --- ingest attempts (see ingest/pipeline.py) -----------------------------------------------

    def _add_attempts(self, document_id: str, number: int, delta: int | None) -> int:
        """attempts += delta (None: reset to 0), never below 0, committed at once; the new count."""
        where = (VersionRow.document_id == document_id, VersionRow.number == number)
        if delta is None:
            value: Any = 0
        elif delta >= 0:
            value = VersionRow.attempts + delta
        else:
            value = func.max(VersionRow.attempts + delta, 0) if self.engine.dialect.name == "sqlite" \
                else func.greatest(VersionRow.attempts + delta, 0)
        with self.session() as s:
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

    def get_document(self, document_id: str) -> Document:
        with self.session() as s:
            row = s.get(DocumentRow, document_id)
            if row is None:
                raise NotFound(f"Dokument {document_id} existiert nicht.", code="document_not_found")
            return document_from_row(row)

    def update_document(self, document_id: str, *, customer_number: Any = ..., **changes: Any) -> Document:
        unknown = set(changes) - DOCUMENT_FIELDS
        if unknown:
            raise ValidationError(f"Nicht änderbar: {', '.join(sorted(unknown))}.")
        with self.session() as s:
            row = s.get(DocumentRow, document_id)
            if row is None:
                raise NotFound(f"Dokument {document_id} existiert nicht.", code="document_not_found")
            if customer_number is not ...:
                row.customer_id = self._customer_id(s, customer_number)
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
        return self.get_document(document_id)

    def set_status(self, document_id: str, status: str, *, stage: str, reason: str | None = None) -> None:
        """Status + one event; plain statements, since the pipeline calls this at every stage."""
        now = utcnow()
        with self.session() as s:
            result = s.execute(
                update(DocumentRow)
                .where(DocumentRow.id == document_id)
                .values(status=status, status_reason=reason, updated_at=now)
            )
            if result.rowcount == 0:
                raise NotFound(f"Dokument {document_id} existiert nicht.", code="document_not_found")
            s.execute(
                insert(DocumentEventRow).values(
                    document_id=document_id, at=now, stage=stage, status=status, message=reason
                )
            )

    def events(self, document_id: str) -> list[DocumentEvent]:
        with self.session() as s:
            rows = s.scalars(
                select(DocumentEventRow)
                .where(DocumentEventRow.document_id == document_id)
                .order_by(DocumentEventRow.id)
            )
            return [DocumentEvent(r.at, r.stage, r.status, r.message) for r in rows]

    def find_duplicate(self, sha256: str, customer_number: str | None) -> tuple[str, int] | None:
        """(document id, version) of an identical file in that customer's file (any file if None)."""
        with self.session() as s:
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

    def list_documents(
        self,
        *,
        customer_number: str | None = None,
        status: str | None = None,
        folder: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Document]:
        with self.session() as s:
            stmt = select(DocumentRow).order_by(DocumentRow.created_at.desc()).limit(limit).offset(offset)
            if customer_number is not None:
                stmt = stmt.join(CustomerRow).where(CustomerRow.number == str(customer_number))
            if status:
                stmt = stmt.where(DocumentRow.status == status)
            if folder:
                stmt = stmt.where(DocumentRow.folder == folder)
            return [document_from_row(r) for r in s.scalars(stmt).unique()]

    def pending_document_ids(self) -> list[str]:
        pending = (DocumentStatus.RECEIVED.value, DocumentStatus.PROCESSING.value)
        with self.session() as s:
            return list(s.scalars(select(DocumentRow.id).where(DocumentRow.status.in_(pending))))

    def all_document_ids(self) -> list[str]:
        with self.session() as s:
            return list(s.scalars(select(DocumentRow.id).order_by(DocumentRow.created_at)))

    def latest_version(self, document_id: str) -> Version:
        with self.session() as s:
            row = s.scalar(
                select(VersionRow)
                .where(VersionRow.document_id == document_id)
                .order_by(VersionRow.number.desc())
                .limit(1)
            )
            if row is None:
                raise NotFound(f"Dokument {document_id} hat keine Version.", code="document_not_found")
            return version_from_row(row)

    # --- audit ----------------------------------------------------------------------------

    def audit(
        self, actor: str, action: str, object_type: str, object_id: str | None, **details: Any
    ) -> None:
        with self.session() as s:
            s.add(
                AuditRow(
                    at=utcnow(), actor=actor, action=action, object_type=object_type,
                    object_id=object_id, details=details,
                )
            )

    def audit_entries(self, object_type: str, object_id: str) -> list[dict[str, Any]]:
        with self.session() as s:
            rows = s.scalars(
                select(AuditRow)
                .where(AuditRow.object_type == object_type, AuditRow.object_id == object_id)
                .order_by(AuditRow.id)
            )
            return [
                {"at": r.at.isoformat(), "actor": r.actor, "action": r.action, "details": r.details}
                for r in rows
            ]
