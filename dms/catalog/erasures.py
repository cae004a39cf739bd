"""GDPR (issue #12) in the catalog: erasure requests with their steps, and the two reads the
Art. 15 report needs — every document of a customer (the trash included) and every audit entry
about the customer or one of its documents.

`services.catalog.erasures`; the use cases are in dms/app/gdpr.py.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update

from dms.catalog.audit import entry_dict
from dms.catalog.convert import aware, document_from_row
from dms.catalog.engine import Database, utcnow
from dms.catalog.models import AuditRow, CustomerRow, DocumentRow, ErasureRequestRow, ErasureStepRow
from dms.domain import Document
from dms.errors import NotFound

RUNNING, DONE, FAILED = "running", "done", "failed"  # states of a request
ID_CHUNK = 500  # document ids per IN (…) of the audit query


@dataclass
class ErasureStep:
    at: datetime
    action: str  # purge | restrict | anonymise | failed
    document_id: str | None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "action": self.action, "document_id": self.document_id, **self.detail}


@dataclass
class ErasureRequest:
    id: str
    customer_number: str
    reason: str
    requested_by: str
    requested_at: datetime
    status: str
    finished_at: datetime | None = None
    outcome: str | None = None
    legal_hold: bool = False
    kept: dict[str, str] = field(default_factory=dict)
    explanation: str | None = None
    error: str | None = None
    steps: list[ErasureStep] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = {"purged": 0, "restricted": 0, "failed": 0}
        for step in self.steps:
            key = {"purge": "purged", "restrict": "restricted", "failed": "failed"}.get(step.action)
            if key:
                out[key] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "customer_number": self.customer_number, "reason": self.reason,
            "requested_by": self.requested_by, "requested_at": self.requested_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None, "status": self.status,
            "outcome": self.outcome, "legal_hold": self.legal_hold, "kept": dict(self.kept),
            "explanation": self.explanation, "error": self.error, **self.counts(),
            "steps": [step.to_dict() for step in self.steps],
        }


def _request(row: ErasureRequestRow, steps: list[ErasureStepRow]) -> ErasureRequest:
    return ErasureRequest(
        id=row.id, customer_number=row.customer_number, reason=row.reason, requested_by=row.requested_by,
        requested_at=aware(row.requested_at) or utcnow(), status=row.status, finished_at=aware(row.finished_at),
        outcome=row.outcome, legal_hold=bool(row.legal_hold), kept=dict(row.kept or {}),
        explanation=row.explanation, error=row.error,
        steps=[ErasureStep(aware(s.at) or utcnow(), s.action, s.document_id, dict(s.detail or {})) for s in steps],
    )


class Erasures:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- erasure requests -------------------------------------------------------------------

    def create(self, customer_number: str, *, reason: str, requested_by: str, legal_hold: bool) -> ErasureRequest:
        row = ErasureRequestRow(
            id=str(uuid.uuid4()), customer_number=customer_number, reason=reason, requested_by=requested_by,
            requested_at=utcnow(), status=RUNNING, legal_hold=legal_hold, kept={},
        )
        with self.db.session() as s:
            s.add(row)
            request_id = row.id
        return self.get(request_id)

    def add_step(self, request_id: str, action: str, document_id: str | None = None, **detail: Any) -> None:
        with self.db.session() as s:
            s.add(ErasureStepRow(request_id=request_id, at=utcnow(), action=action, document_id=document_id,
                                 detail=detail))

    def finish(self, request_id: str, *, status: str, outcome: str | None, kept: dict[str, str],
               explanation: str | None, error: str | None = None) -> ErasureRequest:
        with self.db.session() as s:
            s.execute(update(ErasureRequestRow).where(ErasureRequestRow.id == request_id).values(
                status=status, outcome=outcome, kept=kept, explanation=explanation, error=error,
                finished_at=utcnow()))
        return self.get(request_id)

    def get(self, request_id: str) -> ErasureRequest:
        with self.db.session() as s:
            row = s.get(ErasureRequestRow, request_id)
            if row is None:
                raise NotFound(f"Löschantrag {request_id} existiert nicht.", code="erasure_not_found")
            steps = list(s.scalars(select(ErasureStepRow).where(ErasureStepRow.request_id == request_id)
                                   .order_by(ErasureStepRow.id)))
            return _request(row, steps)

    def latest(self, customer_number: str) -> ErasureRequest | None:
        """The customer's newest erasure request, None when there is none."""
        with self.db.session() as s:
            request_id = s.scalar(select(ErasureRequestRow.id).where(
                ErasureRequestRow.customer_number == customer_number).order_by(
                ErasureRequestRow.requested_at.desc()).limit(1))
        return self.get(request_id) if request_id else None

    # --- what the report reads ----------------------------------------------------------------

    def documents_of(self, customer_number: str) -> list[Document]:
        """Every document of the customer, oldest first: restricted ones and the trash included."""
        with self.db.session() as s:
            rows = s.scalars(
                select(DocumentRow).join(CustomerRow, CustomerRow.id == DocumentRow.customer_id)
                .where(CustomerRow.number == customer_number).order_by(DocumentRow.created_at, DocumentRow.id)
            ).unique()
            return [document_from_row(row) for row in rows]

    def accesses(self, customer_number: str, document_ids: list[str]) -> list[dict[str, Any]]:
        """Every audit entry whose customer is `customer_number` or whose document is one of
        `document_ids` (entries from before a document was filed for the customer), oldest first."""
        found: dict[int, dict[str, Any]] = {}
        chunks = [document_ids[i:i + ID_CHUNK] for i in range(0, len(document_ids), ID_CHUNK)] or [[]]
        with self.db.session() as s:
            for chunk in chunks:
                where = AuditRow.customer_number == customer_number
                if chunk:
                    where = or_(where, AuditRow.document_id.in_(chunk))
                for row in s.scalars(select(AuditRow).where(where)):
                    found.setdefault(row.id, entry_dict(row))
        return [found[key] for key in sorted(found)]
