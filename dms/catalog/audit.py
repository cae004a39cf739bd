"""The audit log: who did what to which object (append-only)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from dms.catalog.engine import Database, utcnow
from dms.catalog.models import AuditRow


class AuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, actor: str, action: str, object_type: str, object_id: str | None, **details: Any) -> None:
        with self.db.session() as s:
            s.add(
                AuditRow(
                    at=utcnow(), actor=actor, action=action, object_type=object_type,
                    object_id=object_id, details=details,
                )
            )

    def entries(self, object_type: str, object_id: str) -> list[dict[str, Any]]:
        with self.db.session() as s:
            rows = s.scalars(
                select(AuditRow)
                .where(AuditRow.object_type == object_type, AuditRow.object_id == object_id)
                .order_by(AuditRow.id)
            )
            return [
                {"at": r.at.isoformat(), "actor": r.actor, "action": r.action, "details": r.details}
                for r in rows
            ]
