"""The sources of a customer's timeline (dms/app/timeline.py), read page by page, newest first.

Four sources, each a query of its own: documents (by the time received), mail filed into the
file (by the time received), notes/calls/visits (by the time they happened) and master-data
changes (the audit entries `customer.create`/`customer.update`). A page is a keyset page: every
item has the position (at, source, key), positions are ordered newest first (at the same instant
by source, then key), and a page continues strictly after the position of the last item of the
page before, so items that arrive meanwhile never shift it. `key` is the note's or mail's id, a
document's `seq` and an audit entry's id (both zero-padded, so that text order is number order).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, true

from dms.catalog.audit import entry_dict
from dms.catalog.convert import aware, document_from_row
from dms.catalog.engine import Database
from dms.catalog.mail import FILED, RELEASED
from dms.catalog.models import AuditRow, CustomerRow, DocumentRow, MailMessageRow
from dms.catalog.note_models import NoteRow
from dms.catalog.notes import note_from_row

# the tie order at the same instant (higher first): the order in which the sources are named here
SOURCES = ("change", "mail", "note", "document")
RANK = {name: rank for rank, name in enumerate(SOURCES)}
CHANGE_ACTIONS = ("customer.create", "customer.update")
MAIL_STATUSES = (FILED, RELEASED)  # mail that reached the file (quarantined and deleted mail did not)
KEY_DIGITS = 15


@dataclass(frozen=True, order=True)
class Position:
    """Where an item sits in the timeline; also the cursor of the page after it."""

    at: datetime  # UTC
    rank: int
    key: str

    @property
    def source(self) -> str:
        return SOURCES[self.rank]


@dataclass(frozen=True)
class Item:
    position: Position
    record: Any  # Document | NoteRecord | mail summary (dict) | audit entry (dict)

    @property
    def source(self) -> str:
        return self.position.source


def number_key(value: int | None) -> str:
    return f"{value or 0:0{KEY_DIGITS}d}"


def _int_key(key: str) -> int:
    return int(key) if key.isdigit() and len(key) <= KEY_DIGITS else 0


def _after(at: Any, key: Any, source: str, cursor: Position | None, *, numeric: bool = False) -> Any:
    """The rows of `source` that come after `cursor` in the timeline's order."""
    if cursor is None:
        return true()
    rank = RANK[source]
    if rank < cursor.rank:
        return at <= cursor.at
    if rank > cursor.rank:
        return at < cursor.at
    value = _int_key(cursor.key) if numeric else cursor.key
    return or_(at < cursor.at, and_(at == cursor.at, key < value))


def _mail_summary(row: MailMessageRow) -> dict[str, Any]:
    return {"id": row.id, "subject": row.subject, "sender": row.sender, "via": row.via, "status": row.status,
            "received_at": aware(row.received_at), "mail_document_id": row.mail_document_id,
            "document_ids": list(row.document_ids or [])}


class TimelineSources:
    def __init__(self, db: Database) -> None:
        self.db = db

    def items(
        self,
        numbers: Collection[str],
        *,
        sources: Collection[str],
        note_kinds: Collection[str],
        include_restricted: bool,
        after: Position | None,
        limit: int,
    ) -> list[Item]:
        """Up to `limit` items of the customers `numbers` after `after`, newest first."""
        numbers = [str(n) for n in numbers]
        found: list[Item] = []
        with self.db.session() as s:
            if "document" in sources:
                found += self._documents(s, numbers, include_restricted, after, limit)
            if "mail" in sources:
                found += self._mail(s, numbers, after, limit)
            if "note" in sources and note_kinds:
                found += self._notes(s, numbers, note_kinds, after, limit)
            if "change" in sources:
                found += self._changes(s, numbers, after, limit)
        found.sort(key=lambda item: item.position, reverse=True)
        return found[:limit]

    @staticmethod
    def _documents(s: Any, numbers: list[str], include_restricted: bool, after: Position | None,
                   limit: int) -> list[Item]:
        stmt = (select(DocumentRow).join(CustomerRow, CustomerRow.id == DocumentRow.customer_id)
                .where(CustomerRow.number.in_(numbers), DocumentRow.trashed_at.is_(None),
                       _after(DocumentRow.created_at, DocumentRow.seq, "document", after, numeric=True))
                .order_by(DocumentRow.created_at.desc(), DocumentRow.seq.desc()).limit(limit))
        if not include_restricted:
            stmt = stmt.where(DocumentRow.restricted.is_(False))
        items = []
        for row in s.scalars(stmt).unique():
            document = document_from_row(row)
            position = Position(aware(row.created_at), RANK["document"], number_key(row.seq))
            items.append(Item(position, document))
        return items

    @staticmethod
    def _mail(s: Any, numbers: list[str], after: Position | None, limit: int) -> list[Item]:
        stmt = (select(MailMessageRow)
                .where(MailMessageRow.customer_number.in_(numbers), MailMessageRow.status.in_(MAIL_STATUSES),
                       _after(MailMessageRow.received_at, MailMessageRow.id, "mail", after))
                .order_by(MailMessageRow.received_at.desc(), MailMessageRow.id.desc()).limit(limit))
        return [Item(Position(aware(row.received_at), RANK["mail"], row.id), _mail_summary(row))
                for row in s.scalars(stmt)]

    @staticmethod
    def _notes(s: Any, numbers: list[str], kinds: Collection[str], after: Position | None,
               limit: int) -> list[Item]:
        stmt = (select(NoteRow)
                .where(NoteRow.customer_number.in_(numbers), NoteRow.kind.in_(list(kinds)),
                       _after(NoteRow.at, NoteRow.id, "note", after))
                .order_by(NoteRow.at.desc(), NoteRow.id.desc()).limit(limit))
        return [Item(Position(aware(row.at), RANK["note"], row.id), note_from_row(row))
                for row in s.scalars(stmt)]

    @staticmethod
    def _changes(s: Any, numbers: list[str], after: Position | None, limit: int) -> list[Item]:
        stmt = (select(AuditRow)
                .where(AuditRow.customer_number.in_(numbers), AuditRow.action.in_(CHANGE_ACTIONS),
                       _after(AuditRow.at, AuditRow.id, "change", after, numeric=True))
                .order_by(AuditRow.at.desc(), AuditRow.id.desc()).limit(limit))
        return [Item(Position(aware(row.at), RANK["change"], number_key(row.id)), entry_dict(row))
                for row in s.scalars(stmt)]
