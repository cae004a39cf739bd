"""The audit log: who did what to which object, when and from where. Append-only, hash-chained.

There is no method to change or remove an entry. `append_entry` is the one way a row is
written (this repository and the identity repository use it inside their transactions):

1. PostgreSQL: `pg_advisory_xact_lock(AUDIT_LOCK_KEY)`, held until the transaction ends, so
   appenders queue up one by one. SQLite: the INSERT of step 2 takes the database's single
   write lock, held until commit, so the same holds there.
2. Insert the row with a placeholder `prev_hash` (unique, so the unique index holds) to get its id.
3. Read the newest other entry (highest id below ours) — committed, since every appender waits
   for the one before — and set `prev_hash` to its hash (GENESIS for the first entry) and
   `hash` to sha256 over the canonical form (dms/catalog/audit_chain.py), which includes the id.

The unique index on `prev_hash` is the last line: should two appenders ever read the same
predecessor, the second commit fails instead of forking the chain.

`verify` walks the chain in id order and names the first entry that was altered, inserted or
removed. A keyless chain cannot show that entries were cut off at its end, nor a tail that was
rewritten with freshly computed hashes: compare the newest entry's hash (`dms audit verify`
prints it) with one noted earlier for that.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dms.catalog.audit_chain import GENESIS, canonical_time, entry_hash, normalise_details
from dms.catalog.engine import Database, utcnow
from dms.catalog.models import AuditRow, CustomerRow, DocumentRow
from dms.errors import BackendUnavailable

AUDIT_LOCK_KEY = 0x61756469740A  # pg_advisory_xact_lock key, "audit\n" in hex (migrate.py uses another)
MAX_PAGE = 10_000
APPEND_ATTEMPTS = 5
_LIMITS = {"ip": 64, "user_agent": 500, "request_id": 128, "customer_number": 32, "document_id": 36,
           "actor": 200, "action": 64, "object_type": 32, "object_id": 64}


@dataclass(frozen=True)
class AuditFilter:
    """Filters of `AuditLog.page`; `before`/`after` are entry ids (the cursor)."""

    customer_number: str | None = None
    document_id: str | None = None
    actor: str | None = None
    action: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    before: int | None = None


@dataclass(frozen=True)
class ChainReport:
    """What `verify` found: `ok`, the entries checked, and the first problem (entry id and why)."""

    ok: bool
    checked: int
    last_id: int | None = None
    last_hash: str | None = None
    bad_id: int | None = None
    problem: str | None = None


def _clip(name: str, value: Any) -> Any:
    if value is None:
        return None
    value = str(value)
    return value[: _LIMITS[name]]


def _content(row: AuditRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in (
        "id", "at", "actor", "action", "object_type", "object_id", "customer_number", "document_id", "version",
        "ip", "user_agent", "request_id", "details", "prev_hash",
    )}


def append_entry(
    s: Session,
    actor: str,
    action: str,
    object_type: str,
    object_id: str | None,
    *,
    ip: str | None = None,
    user_agent: str | None = None,
    request_id: str | None = None,
    customer_number: str | None = None,
    document_id: str | None = None,
    version: int | None = None,
    details: dict[str, Any] | None = None,
) -> int:
    """Append one entry in the caller's transaction (see the module doc); returns its id.

    `document_id` defaults to `object_id` of a document and `customer_number` to that of a
    customer, or to the document's customer."""
    if document_id is None and object_type == "document":
        document_id = object_id
    if customer_number is None and object_type == "customer":
        customer_number = object_id
    if customer_number is None and document_id is not None:
        customer_number = s.scalar(
            select(CustomerRow.number).join(DocumentRow, DocumentRow.customer_id == CustomerRow.id)
            .where(DocumentRow.id == document_id)
        )
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_LOCK_KEY})
    row = AuditRow(
        at=utcnow(), actor=_clip("actor", actor), action=_clip("action", action),
        object_type=_clip("object_type", object_type), object_id=_clip("object_id", object_id),
        details=normalise_details(details or {}), ip=_clip("ip", ip), user_agent=_clip("user_agent", user_agent),
        request_id=_clip("request_id", request_id), customer_number=_clip("customer_number", customer_number),
        document_id=_clip("document_id", document_id), version=None if version is None else int(version),
        prev_hash=f"pending-{uuid.uuid4().hex}", hash="",
    )
    s.add(row)
    s.flush()
    prev = s.scalar(select(AuditRow.hash).where(AuditRow.id < row.id).order_by(AuditRow.id.desc()).limit(1))
    row.prev_hash = prev or GENESIS
    row.hash = entry_hash(_content(row))
    s.flush()
    return row.id


def entry_dict(row: AuditRow) -> dict[str, Any]:
    """An entry as the API and the CLI show it (`at` in UTC, as hashed)."""
    return {
        "id": row.id, "at": canonical_time(row.at), "actor": row.actor, "action": row.action,
        "object_type": row.object_type, "object_id": row.object_id, "customer_number": row.customer_number,
        "document_id": row.document_id, "version": row.version, "ip": row.ip, "user_agent": row.user_agent,
        "request_id": row.request_id, "details": row.details, "prev_hash": row.prev_hash, "hash": row.hash,
    }


class AuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, actor: str, action: str, object_type: str, object_id: str | None, *,
               ip: str | None = None, user_agent: str | None = None, request_id: str | None = None,
               customer_number: str | None = None, document_id: str | None = None, version: int | None = None,
               **details: Any) -> int:
        """Append one entry in its own transaction; returns its id.

        A unique index that refuses the row (an id the PostgreSQL sequence hands out again after
        someone inserted a row by hand, or a predecessor already claimed) is retried a few times:
        the sequence has moved on, the newest entry is read again."""
        for _attempt in range(APPEND_ATTEMPTS):
            try:
                with self.db.session() as s:
                    return append_entry(
                        s, actor, action, object_type, object_id, ip=ip, user_agent=user_agent,
                        request_id=request_id, customer_number=customer_number, document_id=document_id,
                        version=version, details=details,
                    )
            except IntegrityError as exc:
                refused = exc
        raise BackendUnavailable(f"Das Audit-Protokoll nimmt keinen Eintrag an: {refused.orig}")

    def entries(self, object_type: str, object_id: str) -> list[dict[str, Any]]:
        """Every entry about one object, oldest first."""
        with self.db.session() as s:
            rows = s.scalars(
                select(AuditRow)
                .where(AuditRow.object_type == object_type, AuditRow.object_id == object_id)
                .order_by(AuditRow.id)
            )
            return [entry_dict(r) for r in rows]

    def page(self, where: AuditFilter, limit: int = 100) -> list[dict[str, Any]]:
        """Entries newest first, at most `limit`; the next page is `before=<id of the last one>`."""
        query = select(AuditRow).order_by(AuditRow.id.desc()).limit(max(1, min(limit, MAX_PAGE)))
        if where.customer_number is not None:
            query = query.where(AuditRow.customer_number == where.customer_number)
        if where.document_id is not None:
            query = query.where(AuditRow.document_id == where.document_id)
        if where.actor is not None:
            query = query.where(AuditRow.actor == where.actor)
        if where.action is not None:
            query = query.where(AuditRow.action == where.action)
        if where.date_from is not None:
            query = query.where(AuditRow.at >= _day_start(where.date_from))
        if where.date_to is not None:
            query = query.where(AuditRow.at < _day_start(where.date_to + timedelta(days=1)))
        if where.before is not None:
            query = query.where(AuditRow.id < where.before)
        with self.db.session() as s:
            return [entry_dict(row) for row in s.scalars(query)]

    def rows(self, batch: int = 1000) -> Iterator[dict[str, Any]]:
        """Every entry in id order, fetched in batches (for `verify`)."""
        last = 0
        while True:
            with self.db.session() as s:
                found = list(s.scalars(select(AuditRow).where(AuditRow.id > last).order_by(AuditRow.id).limit(batch)))
                chunk = [{**_content(row), "hash": row.hash} for row in found]
            if not chunk:
                return
            yield from chunk
            last = chunk[-1]["id"]

    def verify(self) -> ChainReport:
        return verify_chain(self.rows())


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def verify_chain(entries: Iterator[dict[str, Any]]) -> ChainReport:
    """Walk entries in id order; the first altered, inserted or removed entry ends the walk.

    Each entry's hash must match its content, and its `prev_hash` the hash of the entry before.
    When a link is broken, the neighbours tell which case it is: the entry links to the one
    two back (the one between was inserted), the next entry links past it (it was inserted),
    or neither (an entry is missing before it, or its link was changed)."""
    prev2: dict[str, Any] | None = None
    prev: dict[str, Any] | None = None
    checked = 0
    pending = iter(entries)
    current = next(pending, None)
    while current is not None:
        following = next(pending, None)
        cid = current["id"]
        if entry_hash(current) != current["hash"]:
            return ChainReport(False, checked, bad_id=cid, problem=(
                f"Eintrag {cid}: der gespeicherte Hash passt nicht zum Inhalt (nachträglich verändert oder gefälscht)."
            ))
        expected = prev["hash"] if prev else GENESIS
        if current["prev_hash"] != expected:
            two_back = prev2["hash"] if prev2 else GENESIS
            if prev is not None and current["prev_hash"] == two_back:
                return ChainReport(False, checked, bad_id=prev["id"], problem=(
                    f"Eintrag {prev['id']}: eingefügt (Eintrag {cid} verweist auf den Eintrag davor)."
                ))
            if following is not None and following["prev_hash"] == expected:
                return ChainReport(False, checked, bad_id=cid, problem=(
                    f"Eintrag {cid}: eingefügt (er verweist nicht auf seinen Vorgänger, Eintrag {following['id']} "
                    "verweist an ihm vorbei)."
                ))
            before = f"nach Eintrag {prev['id']}" if prev else "am Anfang"
            return ChainReport(False, checked, bad_id=cid, problem=(
                f"Eintrag {cid}: sein Vorgänger fehlt ({before} wurde mindestens ein Eintrag entfernt) "
                "oder seine Verkettung wurde verändert."
            ))
        checked += 1
        prev2, prev, current = prev, current, following
    return ChainReport(True, checked, last_id=prev["id"] if prev else None, last_hash=prev["hash"] if prev else None)
