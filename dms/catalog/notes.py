"""Customer notes, calls and visits and their follow-ups (Wiedervorlagen) in the catalog.

Methods take and return `NoteRecord`s, never ORM rows. The object store keeps a sidecar of every
note (dms/app/notes.py), so `dms rebuild-catalog` brings them back (`restore`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, select, update

from dms.catalog.convert import aware
from dms.catalog.engine import Database, utcnow
from dms.catalog.note_models import NoteRow
from dms.errors import NotFound

KINDS = ("note", "call", "visit")
CHANGEABLE = {"text", "due", "assignee", "done_at", "done_by", "duration_minutes"}


@dataclass(frozen=True)
class NoteRecord:
    id: str
    customer_number: str
    kind: str
    text: str
    at: datetime
    author: str
    created_at: datetime
    updated_at: datetime
    duration_minutes: int | None = None
    due: date | None = None
    assignee: str | None = None
    done_at: datetime | None = None
    done_by: str | None = None

    @property
    def done(self) -> bool:
        return self.done_at is not None

    @property
    def is_followup(self) -> bool:
        return self.due is not None

    def to_dict(self) -> dict[str, Any]:
        """The note as the API shows it (`type` for the kind)."""
        return {
            "id": self.id, "customer_number": self.customer_number, "type": self.kind, "text": self.text,
            "at": self.at.isoformat(), "duration_minutes": self.duration_minutes,
            "due": self.due.isoformat() if self.due else None, "assignee": self.assignee, "done": self.done,
            "done_at": self.done_at.isoformat() if self.done_at else None, "done_by": self.done_by,
            "author": self.author, "created_at": self.created_at.isoformat(), "updated_at": self.updated_at.isoformat(),
        }


_NAMES = [f.name for f in fields(NoteRecord)]


def note_from_row(row: NoteRow) -> NoteRecord:
    values = {name: getattr(row, name) for name in _NAMES}
    for name in ("at", "created_at", "updated_at", "done_at"):
        values[name] = aware(values[name])
    return NoteRecord(**values)


def _not_found(note_id: str) -> NotFound:
    return NotFound(f"Notiz {note_id} existiert nicht.", code="note_not_found")


class NoteRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, note: NoteRecord) -> NoteRecord:
        with self.db.session() as s:
            s.add(NoteRow(**{name: getattr(note, name) for name in _NAMES}))
        return note

    def restore(self, note: NoteRecord) -> bool:
        """Insert a note read from its sidecar unless its id exists; whether it was inserted."""
        with self.db.session() as s:
            if s.get(NoteRow, note.id) is not None:
                return False
            s.add(NoteRow(**{name: getattr(note, name) for name in _NAMES}))
        return True

    def get(self, note_id: str) -> NoteRecord:
        with self.db.session() as s:
            row = s.get(NoteRow, str(note_id))
            if row is None:
                raise _not_found(note_id)
            return note_from_row(row)

    def update(self, note_id: str, **changes: Any) -> tuple[NoteRecord, NoteRecord]:
        """Set the given fields (and `updated_at` when one changed): (before, after)."""
        unknown = set(changes) - CHANGEABLE
        if unknown:
            raise ValueError(f"not changeable: {', '.join(sorted(unknown))}")
        with self.db.session() as s:
            row = s.get(NoteRow, str(note_id), with_for_update=True)
            if row is None:
                raise _not_found(note_id)
            before = note_from_row(row)
            changed = {name: value for name, value in changes.items() if getattr(before, name) != value}
            for name, value in changed.items():
                setattr(row, name, value)
            if changed:
                row.updated_at = utcnow()
            s.flush()
            return before, note_from_row(row)

    def of_customer(self, number: str) -> list[NoteRecord]:
        """Every note of a customer, oldest first."""
        stmt = select(NoteRow).where(NoteRow.customer_number == str(number)).order_by(NoteRow.at, NoteRow.id)
        with self.db.session() as s:
            return [note_from_row(row) for row in s.scalars(stmt)]

    def move(self, old_number: str, new_number: str) -> list[str]:
        """Give every note of customer `old_number` to `new_number` (a merge); their ids."""
        with self.db.session() as s:
            ids = list(s.scalars(select(NoteRow.id).where(NoteRow.customer_number == str(old_number))))
            if ids:
                s.execute(update(NoteRow).where(NoteRow.id.in_(ids)).values(customer_number=str(new_number),
                                                                             updated_at=utcnow()))
        return ids

    def delete_of_customer(self, number: str) -> list[str]:
        """Delete every note of a customer (a GDPR erasure); their ids."""
        with self.db.session() as s:
            ids = list(s.scalars(select(NoteRow.id).where(NoteRow.customer_number == str(number))))
            if ids:
                s.execute(delete(NoteRow).where(NoteRow.id.in_(ids)))
        return ids

    def followups(self, *, assignee: str, due_by: date | None, before: date | None,
                  limit: int, offset: int = 0) -> list[NoteRecord]:
        """Open follow-ups of `assignee`, by due date (then time logged): due on or before `due_by`,
        or strictly before `before`; neither: all open ones."""
        stmt = (select(NoteRow).where(NoteRow.assignee == assignee, NoteRow.due.is_not(None),
                                      NoteRow.done_at.is_(None))
                .order_by(NoteRow.due, NoteRow.at, NoteRow.id).limit(limit).offset(offset))
        if due_by is not None:
            stmt = stmt.where(NoteRow.due <= due_by)
        if before is not None:
            stmt = stmt.where(NoteRow.due < before)
        with self.db.session() as s:
            return [note_from_row(row) for row in s.scalars(stmt)]
