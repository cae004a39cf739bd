"""The webhook outbox: document events waiting for (or done with) delivery to each endpoint.

`set_final_status` is what the pipeline calls when a document ends (filed, needs_review, failed):
status, status event and one outbox row per subscribed endpoint are written in one transaction,
so an event exists exactly when the status does. The deliverer (dms/webhooks/delivery.py) claims
due rows with a lease, so several deliverers (one per `dms worker`) never send a row at the same
time, and a row whose deliverer died is sent again when its lease runs out (at least once).

Order per document and endpoint: only the oldest `pending` row of a (document, endpoint) chain is
ever due; a later event waits until the earlier one was delivered or given up (`failed`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, Index, Integer, String, Text, exists, func, or_, select, text, update
from sqlalchemy.orm import Mapped, aliased, mapped_column

from dms.catalog.convert import aware
from dms.catalog.documents import write_status
from dms.catalog.engine import Database, utcnow
from dms.catalog.models import Base, DocumentRow
from dms.webhooks.config import STATUS_EVENTS, Target

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
STATES = (PENDING, DELIVERED, FAILED)


class WebhookDeliveryRow(Base):
    """One event for one endpoint. `id` orders the events; `delivery_id` is sent as a header."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
        Index("ix_webhook_deliveries_chain", "document_id", "endpoint", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(String(36), unique=True)
    event_id: Mapped[str] = mapped_column(String(36))
    event: Mapped[str] = mapped_column(String(32))
    document_id: Mapped[str] = mapped_column(String(36))
    version: Mapped[int] = mapped_column(Integer)
    endpoint: Mapped[str] = mapped_column(String(1000))
    # the exact body sent on every attempt (the signature covers these bytes)
    payload: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    lease_token: Mapped[str | None] = mapped_column(String(36), nullable=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


@dataclass(frozen=True)
class Claimed:
    """A row claimed for one attempt; `token` proves the claim when the result is recorded."""

    id: int
    delivery_id: str
    event: str
    document_id: str
    endpoint: str
    payload: bytes
    attempts: int
    token: str


def _iso(value: datetime | None) -> str | None:
    value = aware(value)
    return value.isoformat() if value is not None else None


def delivery_to_dict(row: WebhookDeliveryRow) -> dict[str, Any]:
    return {
        "delivery_id": row.delivery_id,
        "event_id": row.event_id,
        "event": row.event,
        "document_id": row.document_id,
        "version": row.version,
        "endpoint": row.endpoint,
        "state": row.state,
        "attempts": row.attempts,
        "last_status": row.last_status,
        "last_error": row.last_error,
        "created_at": _iso(row.created_at),
        "last_attempt_at": _iso(row.last_attempt_at),
        "next_attempt_at": _iso(row.next_attempt_at) if row.state == PENDING else None,
        "delivered_at": _iso(row.delivered_at),
        "payload": json.loads(row.payload),
    }


def _document_payload(row: DocumentRow, version: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": row.id,
        "status": row.status,
        "reason": row.status_reason,
        "customer_number": row.customer.number if row.customer is not None else None,
        "class": row.document_class,
        "folder": row.folder,
        "title": row.title,
        "version": version,
    }
    for name in ("external_id", "external_source"):  # the sender's (ERP's) id of the document, if the column exists
        if hasattr(DocumentRow, name):
            body[name] = getattr(row, name, None)
    return body


class OutboxRepository:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._targets: tuple[Target, ...] = ()

    def set_targets(self, targets: Iterable[Target]) -> None:
        """The endpoints new events are written for (set once from the settings by build_services)."""
        self._targets = tuple(targets)

    @property
    def targets(self) -> tuple[Target, ...]:
        return self._targets

    # --- writing (the pipeline, through ingest.ports.StatusOutbox) -----------------------------

    def set_final_status(
        self, document_id: str, version: int, status: str, *, stage: str, reason: str | None = None
    ) -> int:
        """Set a final status (+ its event) and queue its webhook events, in one transaction.

        The status statements are those of `DocumentRepository.set_status`. Returns how many
        outbox rows were written (0 without subscribed endpoints).
        """
        now = utcnow()
        with self.db.session() as s:
            write_status(s, document_id, status, stage=stage, reason=reason, now=now)
            event = STATUS_EVENTS.get(status)
            targets = [t for t in self._targets if event in t.events]
            if event is None or not targets:
                return 0
            row = s.get(DocumentRow, document_id, populate_existing=True)
            assert row is not None
            event_id = str(uuid.uuid4())
            payload = json.dumps(
                {"event": event, "event_id": event_id, "timestamp": now.isoformat(),
                 "document": _document_payload(row, version)},
                ensure_ascii=False, separators=(",", ":"),
            )
            for target in targets:
                s.add(
                    WebhookDeliveryRow(
                        delivery_id=str(uuid.uuid4()), event_id=event_id, event=event, document_id=document_id,
                        version=version, endpoint=target.url, payload=payload, state=PENDING, attempts=0,
                        created_at=now, next_attempt_at=now,
                    )
                )
            return len(targets)

    # --- delivering (dms/webhooks/delivery.py) -----------------------------------------------

    def claim_due(self, *, limit: int, lease_seconds: float, now: datetime | None = None) -> list[Claimed]:
        """Claim up to `limit` due rows, each the oldest pending one of its document and endpoint."""
        now = now or utcnow()
        row, earlier = WebhookDeliveryRow, aliased(WebhookDeliveryRow)
        blocked = exists().where(
            earlier.document_id == row.document_id, earlier.endpoint == row.endpoint,
            earlier.state == PENDING, earlier.id < row.id,
        )
        free = or_(row.lease_until.is_(None), row.lease_until < now)
        with self.db.session() as s:
            ids = list(s.scalars(
                select(row.id).where(row.state == PENDING, row.next_attempt_at <= now, free, ~blocked)
                .order_by(row.id).limit(limit)
            ))
        claimed: list[Claimed] = []
        for row_id in ids:
            token = str(uuid.uuid4())
            with self.db.session() as s:
                won = s.execute(
                    update(row).where(row.id == row_id, row.state == PENDING, free)
                    .values(lease_until=now + timedelta(seconds=lease_seconds), lease_token=token)
                ).rowcount
                if not won:
                    continue  # another deliverer was quicker
                found = s.get(row, row_id, populate_existing=True)
                assert found is not None
                claimed.append(Claimed(
                    found.id, found.delivery_id, found.event, found.document_id, found.endpoint,
                    found.payload.encode("utf-8"), found.attempts, token,
                ))
        return claimed

    def record_success(self, claimed: Claimed, status_code: int) -> None:
        now = utcnow()
        # last_error stays: the error of the latest failed attempt, if there was one
        self._record(claimed, state=DELIVERED, last_status=status_code, delivered_at=now, last_attempt_at=now)

    def record_failure(self, claimed: Claimed, error: str, status_code: int | None, retry_at: datetime | None) -> None:
        """A failed attempt: due again at `retry_at`, or given up (`failed`) when it is None."""
        values: dict[str, Any] = {"last_status": status_code, "last_error": error[:2000], "last_attempt_at": utcnow()}
        if retry_at is None:
            values["state"] = FAILED
        else:
            values["next_attempt_at"] = retry_at
        self._record(claimed, **values)

    def _record(self, claimed: Claimed, **values: Any) -> None:
        row = WebhookDeliveryRow
        with self.db.session() as s:
            s.execute(
                update(row).where(row.id == claimed.id, row.lease_token == claimed.token)
                .values(attempts=row.attempts + 1, lease_until=None, lease_token=None, **values)
            )

    # --- reading (GET /api/v1/webhooks/deliveries) ---------------------------------------------

    def query(
        self, *, state: str | None = None, document_id: str | None = None, event: str | None = None,
        limit: int = 50, offset: int = 0,
    ) -> tuple[int, list[dict[str, Any]]]:
        """(total, page) of deliveries, newest first."""
        row = WebhookDeliveryRow
        where = []
        if state:
            where.append(row.state == state)
        if document_id:
            where.append(row.document_id == document_id)
        if event:
            where.append(row.event == event)
        with self.db.session() as s:
            total = int(s.scalar(select(func.count()).select_from(row).where(*where)) or 0)
            rows = s.scalars(select(row).where(*where).order_by(row.id.desc()).limit(limit).offset(offset))
            return total, [delivery_to_dict(r) for r in rows]
