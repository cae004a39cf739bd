"""Deletion runs, the trash and the catalog side of deleting a document for good (issue #12).

`services.catalog.deletions`: the rows of `deletion_runs` (see dms/app/deletion.py for what a run
does), the queries that find what may be deleted (expired retention without a legal hold; the
trash), and `delete_rows`, which removes every catalog row of a document except its audit entries.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update

from dms.catalog.convert import aware
from dms.catalog.engine import Database, utcnow
from dms.catalog.models import (
    ArchiveObjectRow,
    CustomerRow,
    DeletionRunRow,
    DocumentEventRow,
    DocumentRelationRow,
    DocumentRow,
    VersionRow,
)
from dms.catalog.outbox import WebhookDeliveryRow
from dms.errors import NotFound

# statuses of a run
DRY_RUN = "dry_run"  # planned only, nothing deleted, nothing to approve
AWAITING_APPROVAL = "awaiting_approval"
APPROVED = "approved"
RUNNING = "running"
DONE = "done"
FAILED = "failed"  # at least one document could not be deleted (see its item)
REJECTED = "rejected"
SWEEP, TRASH = "sweep", "trash"  # kinds


@dataclass
class DeletionRun:
    id: str
    kind: str
    status: str
    trigger: str
    created_at: datetime
    created_by: str
    cutoff: datetime
    approved_by: str | None = None
    approved_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    planned: list[dict[str, Any]] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    deleted: int = 0
    skipped: int = 0
    failed: int = 0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("created_at", "cutoff", "approved_at", "started_at", "finished_at"):
            value = data[name]
            data[name] = value.isoformat() if value is not None else None
        return data


def _run(row: DeletionRunRow) -> DeletionRun:
    return DeletionRun(
        id=row.id, kind=row.kind, status=row.status, trigger=row.trigger, created_at=aware(row.created_at),
        created_by=row.created_by, cutoff=aware(row.cutoff), approved_by=row.approved_by,
        approved_at=aware(row.approved_at), started_at=aware(row.started_at), finished_at=aware(row.finished_at),
        planned=list(row.planned or []), items=list(row.items or []), deleted=row.deleted or 0,
        skipped=row.skipped or 0, failed=row.failed or 0, error=row.error,
    )  # type: ignore[arg-type]


RUN_FIELDS = {"status", "approved_by", "approved_at", "started_at", "finished_at", "items", "deleted", "skipped",
              "failed", "error"}


class DeletionRuns:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- runs ---------------------------------------------------------------------------------

    def create(
        self, *, kind: str, status: str, trigger: str, created_by: str, cutoff: datetime,
        planned: list[dict[str, Any]],
    ) -> DeletionRun:
        run_id = str(uuid.uuid4())
        with self.db.session() as s:
            s.add(DeletionRunRow(
                id=run_id, kind=kind, status=status, trigger=trigger, created_at=utcnow(), created_by=created_by,
                cutoff=cutoff, planned=planned, items=[], deleted=0, skipped=0, failed=0,
            ))
        return self.get(run_id)

    def get(self, run_id: str) -> DeletionRun:
        with self.db.session() as s:
            row = s.get(DeletionRunRow, run_id)
            if row is None:
                raise NotFound(f"Löschlauf {run_id} existiert nicht.", code="run_not_found")
            return _run(row)

    def list(self, *, status: str | None = None, limit: int = 50, offset: int = 0) -> list[DeletionRun]:
        """Runs, newest first."""
        stmt = select(DeletionRunRow).order_by(DeletionRunRow.created_at.desc(), DeletionRunRow.id)
        if status:
            stmt = stmt.where(DeletionRunRow.status == status)
        with self.db.session() as s:
            return [_run(r) for r in s.scalars(stmt.limit(limit).offset(offset))]

    def transition(self, run_id: str, expected: set[str], status: str, **changes: Any) -> DeletionRun | None:
        """Move a run from one of the `expected` statuses to `status` (one statement: of two
        concurrent callers only one succeeds); None when it was in another status."""
        unknown = set(changes) - RUN_FIELDS
        if unknown:
            raise ValueError(f"not a field of a run: {sorted(unknown)}")
        with self.db.session() as s:
            result = s.execute(
                update(DeletionRunRow)
                .where(DeletionRunRow.id == run_id, DeletionRunRow.status.in_(sorted(expected)))
                .values(status=status, **changes)
            )
            if result.rowcount == 0:
                return None
        return self.get(run_id)

    def update(self, run_id: str, **changes: Any) -> DeletionRun:
        unknown = set(changes) - RUN_FIELDS
        if unknown:
            raise ValueError(f"not a field of a run: {sorted(unknown)}")
        with self.db.session() as s:
            s.execute(update(DeletionRunRow).where(DeletionRunRow.id == run_id).values(**changes))
        return self.get(run_id)

    # --- what may be deleted --------------------------------------------------------------------

    def expired(self, now: datetime, *, limit: int = 10_000) -> list[dict[str, Any]]:
        """Documents whose archived retention ended by `now` and that no legal hold (on the
        document or its customer) keeps: [{document_id, class, customer_number, archived_until}]."""
        stmt = (
            select(DocumentRow.id, DocumentRow.document_class, CustomerRow.number, DocumentRow.archived_until)
            .outerjoin(CustomerRow, CustomerRow.id == DocumentRow.customer_id)
            .where(
                DocumentRow.archived_until.is_not(None),
                DocumentRow.archived_until <= now,
                DocumentRow.legal_hold.is_(False),
                or_(CustomerRow.id.is_(None), CustomerRow.legal_hold.is_(False)),
            )
            .order_by(DocumentRow.archived_until, DocumentRow.id)
            .limit(limit)
        )
        with self.db.session() as s:
            return [
                {"document_id": i, "class": c, "customer_number": n, "archived_until": aware(u).isoformat()}  # type: ignore[union-attr]
                for i, c, n, u in s.execute(stmt)
            ]

    def in_trash(self, *, before: datetime | None = None, limit: int = 10_000) -> list[dict[str, Any]]:
        """Documents in the trash (since before `before`), oldest first:
        [{document_id, class, customer_number, title, trashed_at}]."""
        stmt = (
            select(DocumentRow.id, DocumentRow.document_class, CustomerRow.number, DocumentRow.title,
                   DocumentRow.trashed_at)
            .outerjoin(CustomerRow, CustomerRow.id == DocumentRow.customer_id)
            .where(DocumentRow.trashed_at.is_not(None))
            .order_by(DocumentRow.trashed_at, DocumentRow.id)
            .limit(limit)
        )
        if before is not None:
            stmt = stmt.where(DocumentRow.trashed_at <= before)
        with self.db.session() as s:
            return [
                {"document_id": i, "class": c, "customer_number": n, "title": t, "trashed_at": aware(at).isoformat()}  # type: ignore[union-attr]
                for i, c, n, t, at in s.execute(stmt)
            ]

    # --- deleting rows ----------------------------------------------------------------------------

    def delete_rows(self, document_id: str) -> dict[str, int]:
        """Every catalog row of a document in one transaction: events, versions, links (both
        directions), archived objects, webhook deliveries and the document itself. The audit trail
        stays. Counts per table; a document that is not there is no error (all zero)."""
        statements = {
            "document_events": delete(DocumentEventRow).where(DocumentEventRow.document_id == document_id),
            "versions": delete(VersionRow).where(VersionRow.document_id == document_id),
            "document_relations": delete(DocumentRelationRow).where(
                or_(DocumentRelationRow.document_id == document_id, DocumentRelationRow.related_id == document_id)
            ),
            "archive_objects": delete(ArchiveObjectRow).where(ArchiveObjectRow.document_id == document_id),
            "webhook_deliveries": delete(WebhookDeliveryRow).where(WebhookDeliveryRow.document_id == document_id),
            "documents": delete(DocumentRow).where(DocumentRow.id == document_id),
        }
        counts: dict[str, int] = {}
        with self.db.session() as s:
            for table, statement in statements.items():
                counts[table] = s.execute(statement.execution_options(synchronize_session=False)).rowcount or 0
        return counts

    def delete_version_rows(self, document_id: str, number: int) -> int:
        """The catalog rows of one version (the version and its archived objects); 1 if it was there."""
        with self.db.session() as s:
            s.execute(delete(ArchiveObjectRow).where(ArchiveObjectRow.document_id == document_id,
                                                     ArchiveObjectRow.version == number))
            result = s.execute(delete(VersionRow).where(VersionRow.document_id == document_id,
                                                        VersionRow.number == number))
            s.execute(update(DocumentRow).where(DocumentRow.id == document_id).values(updated_at=utcnow()))
            return result.rowcount or 0
