"""Received mail: one record per mail (by its dedupe key) and what became of it.

`claim` is the lock that files a mail only once: it inserts the row with the unique `mail_key`;
a second claimer (another gateway process, a poller after a crash) gets the existing row back
with `created_now=False`, on SQLite and PostgreSQL alike. Rows are never deleted: a deleted
quarantined mail keeps its row with status `deleted`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from dms.catalog.convert import aware
from dms.catalog.engine import Database, utcnow
from dms.catalog.models import MailMessageRow
from dms.errors import NotFound

FILING, FILED, QUARANTINED, RELEASED, DELETED = "filing", "filed", "quarantined", "released", "deleted"
STATUSES = (FILING, FILED, QUARANTINED, RELEASED, DELETED)
VALUES = (
    "message_id", "sender", "recipients", "subject", "via", "received_at", "status", "code", "reason",
    "customer_number", "route", "mail_document_id", "document_ids", "raw_key", "sender_auth", "envelope",
    "forwarded",
)
_DEFAULTS: dict[str, Any] = {"recipients": list, "route": dict, "document_ids": list, "sender_auth": dict,
                             "envelope": dict, "forwarded": list}


@dataclass
class MailRecord:
    id: str
    mail_key: str
    message_id: str | None = None
    sender: str | None = None
    recipients: list[str] = field(default_factory=list)
    subject: str | None = None
    via: str = "smtp"
    received_at: datetime | None = None
    status: str = FILING
    code: str | None = None
    reason: str | None = None
    customer_number: str | None = None
    route: dict[str, Any] = field(default_factory=dict)
    mail_document_id: str | None = None
    document_ids: list[str] = field(default_factory=list)
    raw_key: str | None = None
    sender_auth: dict[str, Any] = field(default_factory=dict)
    envelope: dict[str, Any] = field(default_factory=dict)
    forwarded: list[dict[str, Any]] = field(default_factory=list)
    updated_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in ("received_at", "updated_at"):
            data[name] = data[name].isoformat() if data[name] is not None else None
        return data


def _record(row: MailMessageRow) -> MailRecord:
    values = {name: getattr(row, name) for name in ("id", "mail_key", *VALUES)}
    for name, empty in _DEFAULTS.items():
        values[name] = empty(values[name] or ())
    values["received_at"] = aware(row.received_at)
    values["updated_at"] = aware(row.updated_at)
    return MailRecord(**values)


def _checked(values: dict[str, Any]) -> dict[str, Any]:
    unknown = set(values) - set(VALUES)
    if unknown:
        raise ValueError(f"unknown mail record fields: {', '.join(sorted(unknown))}")
    if "status" in values and values["status"] not in STATUSES:
        raise ValueError(f"unknown mail status {values['status']!r}")
    return {name: (_DEFAULTS[name](value or ()) if name in _DEFAULTS else value) for name, value in values.items()}


class MailMessages:
    def __init__(self, db: Database) -> None:
        self.db = db

    def claim(self, mail_key: str, **values: Any) -> tuple[MailRecord, bool]:
        """(record, created_now): a new row for `mail_key` with `values`, or the one that exists."""
        values = _checked(values)
        now = utcnow()
        row = MailMessageRow(
            id=str(uuid.uuid4()), mail_key=mail_key, **{name: empty() for name, empty in _DEFAULTS.items()},
        )
        row.via, row.status, row.received_at, row.updated_at = "smtp", FILING, now, now
        for name, value in values.items():
            setattr(row, name, value)
        if row.received_at is None:
            row.received_at = now
        try:
            with self.db.session() as s:
                s.add(row)
            return _record(row), True
        except IntegrityError:  # claimed by someone else (the unique mail_key): theirs counts
            existing = self.find(mail_key)
            if existing is None:
                raise
            return existing, False

    def get(self, mail_id: str) -> MailRecord:
        with self.db.session() as s:
            row = s.get(MailMessageRow, str(mail_id))
            if row is None:
                raise NotFound(f"Mail {mail_id} existiert nicht.", code="mail_not_found")
            return _record(row)

    def find(self, mail_key: str) -> MailRecord | None:
        with self.db.session() as s:
            row = s.scalar(select(MailMessageRow).where(MailMessageRow.mail_key == mail_key))
            return _record(row) if row is not None else None

    def update(self, mail_id: str, **values: Any) -> MailRecord:
        """Set the given fields (and `updated_at`)."""
        values = _checked(values)
        with self.db.session() as s:
            row = s.get(MailMessageRow, str(mail_id), with_for_update=True)
            if row is None:
                raise NotFound(f"Mail {mail_id} existiert nicht.", code="mail_not_found")
            for name, value in values.items():
                setattr(row, name, value)
            row.updated_at = utcnow()
            s.flush()
            return _record(row)

    def _where(self, stmt: Any, status: str | None, customer_number: str | None) -> Any:
        if status is not None:
            stmt = stmt.where(MailMessageRow.status == status)
        if customer_number is not None:
            stmt = stmt.where(MailMessageRow.customer_number == customer_number)
        return stmt

    def list(
        self, *, status: str | None = None, customer_number: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[MailRecord]:
        """Newest first (by the time received)."""
        stmt = select(MailMessageRow).order_by(MailMessageRow.received_at.desc(), MailMessageRow.id.desc())
        stmt = self._where(stmt, status, customer_number).limit(limit).offset(offset)
        with self.db.session() as s:
            return [_record(row) for row in s.scalars(stmt)]

    def count(self, *, status: str | None = None, customer_number: str | None = None) -> int:
        stmt = self._where(select(func.count()).select_from(MailMessageRow), status, customer_number)
        with self.db.session() as s:
            return int(s.scalar(stmt) or 0)
