"""OpenAPI shapes of a customer's timeline, its notes and the follow-ups (dms/web/api/notes.py).

The rules are those of dms/app/notes.py and dms/app/timeline.py (the constants come from there).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from dms.app.notes import ASSIGNEE_PATTERN, DUE_CHOICES, MAX_DURATION, MAX_TEXT
from dms.app.timeline import CURSOR_PATTERN, TYPE_PATTERN, TYPES
from dms.catalog.notes import KINDS
from dms.web.openapi import models as m

NoteType = Literal[KINDS]  # type: ignore[valid-type]
EntryType = Literal[TYPES]  # type: ignore[valid-type]
Assignee = Annotated[str, Field(pattern=ASSIGNEE_PATTERN, max_length=64,
                                description="A user name (with `DMS_AUTH_MODE=users`: an active user).")]
Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT, pattern=m.VISIBLE,
                            description="What happened (several lines allowed).")]
Due = Annotated[date, Field(description="Follow-up (Wiedervorlage) due on this day.")]


class NoteCreate(m.Request):
    type: NoteType | m.Omitted = Field("note", description="`note` (default), `call` or `visit`.")
    text: Text
    at: datetime | None = Field(None, description="When it happened (without a zone: UTC); default now.")
    duration_minutes: int | None = Field(None, ge=0, le=MAX_DURATION, description="How long, in minutes.")
    due: Due | None = Field(None, description="Makes it a follow-up due on this day.")
    assignee: Assignee | None = Field(
        None, description="Who follows it up; default (with `due`): whoever logs it. `null`: nobody."
    )


class NoteUpdate(m.Request):
    text: Text | m.Omitted = None
    done: bool | m.Omitted = Field(None, description="`true`: the follow-up is done (no longer listed); `false`: "
                                   "open again.")
    due: Due | None = Field(None, description="A new due date; `null`: no follow-up any more.")
    assignee: Assignee | None = Field(None, description="Another assignee; `null`: nobody.")


class Note(m.Response):
    id: str
    customer_number: str
    type: NoteType
    text: str
    at: datetime
    duration_minutes: int | None
    due: date | None
    assignee: str | None
    done: bool
    done_at: datetime | None
    done_by: str | None
    author: str = Field(description="Who logged it.")
    created_at: datetime
    updated_at: datetime


class FollowUp(Note):
    customer_name: str | None = Field(description="The customer's name (null: the customer is gone).")
    overdue: bool = Field(description="Due before today (Europe/Berlin).")


class FollowUpList(m.Response):
    assignee: str = Field(description="Whose follow-ups these are.")
    due: Literal[DUE_CHOICES]  # type: ignore[valid-type]
    followups: list[FollowUp] = Field(description="Open follow-ups, earliest due first.")


class Change(m.Response):
    field: str
    old: Any = None
    new: Any = None


class ChangeDetail(m.Response):
    action: str = Field(description="`customer.create` or `customer.update`.")
    fields: list[str]
    changes: list[Change] = Field(description="Old → new per field (IBANs masked without `customers:bank`).")


class TimelineEntry(m.Response):
    id: str = Field(description="`<source>:<id>`, e.g. `note:…`, `document:…`, `mail:…`, `change:<audit id>`.")
    type: EntryType
    at: datetime
    actor: str | None = Field(description="Who: the uploader, the sender of a mail, the author, the changer.")
    summary: str = Field(description="One line in German: title, subject, first line of the note, what changed.")
    document: dict[str, Any] | None = Field(None, description="`document`: id, title, class, folder, status, source, "
                                            "document_date.")
    mail: dict[str, Any] | None = Field(None, description="`mail`: id, subject, sender, via, status, received_at, "
                                        "mail_document_id, document_ids.")
    note: Note | None = Field(None, description="`note`, `call`, `visit`: the note.")
    change: ChangeDetail | None = Field(None, description="`change`: what changed.")


class Timeline(m.Response):
    customer_number: str
    types: list[EntryType] = Field(description="The types shown (without documents:read: no `document`, `mail`).")
    entries: list[TimelineEntry] = Field(description="Newest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: no more.")
    has_more: bool


class TimelineQuery(BaseModel):
    type: str | None = Field(None, pattern=TYPE_PATTERN, max_length=100,
                             description="Only these types, comma-separated: " + ", ".join(f"`{t}`" for t in TYPES))
    cursor: str | None = Field(None, pattern=CURSOR_PATTERN, max_length=100,
                               description="`next_cursor` of the page before.")
    limit: int = Field(50, ge=1, le=200)


class FollowUpQuery(BaseModel):
    assignee: str | None = Field(None, pattern=ASSIGNEE_PATTERN, max_length=64,
                                 description="`me` (default) or a user name.")
    due: Literal[DUE_CHOICES] | None = Field(  # type: ignore[valid-type]
        None, description="`today` (default): due today or earlier; `overdue`: before today; `all`: every open one."
    )
    limit: int = Field(100, ge=1, le=500)
    offset: int = Field(0, ge=0, le=1_000_000)
