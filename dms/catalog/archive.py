"""What the WORM archive holds, per document version and kind (the `archive_objects` table).

A row is written only after its object is stored under lock, so the rows decide what is done:
archiving a version again skips every kind that has a row (`find`), and the catch-up archives
the filed versions that have no "original" (or "expired") row yet (`unarchived`).
Methods take and return domain records, never ORM rows.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import and_, delete, exists, select, update
from sqlalchemy.exc import IntegrityError

from dms.catalog.convert import aware
from dms.catalog.engine import Database, utcnow
from dms.catalog.models import ArchiveObjectRow, CustomerRow, DocumentRow, VersionRow
from dms.domain import ArchivedObject, DocumentStatus
from dms.errors import NotFound

ORIGINAL, SIDECAR, DERIVATIVE, TEXT = "original", "sidecar", "derivative", "text"
EXPIRED = "expired"  # marker: not archived because the retention had already ended
KINDS = (ORIGINAL, SIDECAR, DERIVATIVE, TEXT, EXPIRED)


def _record(row: ArchiveObjectRow) -> ArchivedObject:
    return ArchivedObject(
        id=row.id, document_id=row.document_id, version=row.version, kind=row.kind, key=row.key,
        version_id=row.version_id, sha256=row.sha256, size=row.size, retain_until=aware(row.retain_until),
        mode=row.mode, legal_hold=bool(row.legal_hold), created_at=aware(row.created_at),
    )


class ArchiveObjects:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(
        self,
        document_id: str,
        version: int,
        kind: str,
        key: str,
        version_id: str | None,
        sha256: str,
        size: int,
        retain_until: datetime | None,
        mode: str | None,
        *,
        legal_hold: bool = False,
    ) -> ArchivedObject:
        """Record one archived object; idempotent on (document, version, kind): an existing row is returned."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        found = self.find(document_id, version, kind)
        if found is not None:
            return found
        row = ArchiveObjectRow(
            document_id=document_id, version=version, kind=kind, key=key, version_id=version_id, sha256=sha256,
            size=size, retain_until=retain_until, mode=mode, legal_hold=legal_hold, created_at=utcnow(),
        )
        try:
            with self.db.session() as s:
                s.add(row)
        except IntegrityError:  # recorded concurrently: that row wins
            found = self.find(document_id, version, kind)
            if found is None:
                raise
            return found
        return _record(row)

    def find(self, document_id: str, version: int, kind: str) -> ArchivedObject | None:
        with self.db.session() as s:
            row = s.scalar(select(ArchiveObjectRow).where(
                ArchiveObjectRow.document_id == document_id, ArchiveObjectRow.version == version,
                ArchiveObjectRow.kind == kind,
            ))
            return _record(row) if row is not None else None

    def for_document(self, document_id: str) -> list[ArchivedObject]:
        """Every row of a document, by version and then in the order archived."""
        stmt = (select(ArchiveObjectRow).where(ArchiveObjectRow.document_id == document_id)
                .order_by(ArchiveObjectRow.version, ArchiveObjectRow.id))
        with self.db.session() as s:
            return [_record(r) for r in s.scalars(stmt)]

    def all(self, customer_number: str | None = None) -> list[ArchivedObject]:
        """Every row (of one customer's documents), by document, version and order archived."""
        stmt = select(ArchiveObjectRow).order_by(
            ArchiveObjectRow.document_id, ArchiveObjectRow.version, ArchiveObjectRow.id
        )
        if customer_number is not None:
            stmt = (stmt.join(DocumentRow, DocumentRow.id == ArchiveObjectRow.document_id)
                    .join(CustomerRow, CustomerRow.id == DocumentRow.customer_id)
                    .where(CustomerRow.number == str(customer_number)))
        with self.db.session() as s:
            return [_record(r) for r in s.scalars(stmt)]

    def update_retention(self, id: int, retain_until: datetime) -> ArchivedObject:  # noqa: A002 - the row id
        """Record a new (later) retain-until of one archived object."""
        with self.db.session() as s:
            row = s.get(ArchiveObjectRow, id)
            if row is None:
                raise NotFound(f"Archivobjekt {id} existiert nicht.", code="archive_object_not_found")
            row.retain_until = retain_until
            return _record(row)

    def set_legal_hold(self, document_id: str, on: bool) -> int:
        """Record the legal hold state of every archived object of a document; the number of rows."""
        with self.db.session() as s:
            result = s.execute(update(ArchiveObjectRow).where(
                ArchiveObjectRow.document_id == document_id, ArchiveObjectRow.version_id.is_not(None),
            ).values(legal_hold=bool(on)))
            return int(result.rowcount or 0)

    def discard(self, id: int) -> None:  # noqa: A002 - the row id
        """Remove one row (an "expired" marker whose version is to be archived after all)."""
        with self.db.session() as s:
            s.execute(delete(ArchiveObjectRow).where(ArchiveObjectRow.id == id))

    def delete_for_document(self, document_id: str) -> int:
        """Remove every row of a document (after its archived objects were deleted); the number of rows."""
        with self.db.session() as s:
            result = s.execute(delete(ArchiveObjectRow).where(ArchiveObjectRow.document_id == document_id))
            return int(result.rowcount or 0)

    def unarchived(self, limit: int = 100, *, classes: Collection[str] | None = None) -> list[tuple[str, int]]:
        """(document id, version) of versions of filed documents (of `classes`; None: any class) that
        have neither an archived original nor an "expired" marker, oldest first; trashed ones left out."""
        done = exists().where(and_(
            ArchiveObjectRow.document_id == VersionRow.document_id, ArchiveObjectRow.version == VersionRow.number,
            ArchiveObjectRow.kind.in_((ORIGINAL, EXPIRED)),
        ))
        stmt = (
            select(VersionRow.document_id, VersionRow.number)
            .join(DocumentRow, DocumentRow.id == VersionRow.document_id)
            .where(DocumentRow.status == DocumentStatus.FILED.value, DocumentRow.trashed_at.is_(None), ~done)
            .order_by(VersionRow.id)
            .limit(limit)
        )
        if classes is not None:
            stmt = stmt.where(DocumentRow.document_class.in_(list(classes)))
        with self.db.session() as s:
            return [(document_id, number) for document_id, number in s.execute(stmt)]
