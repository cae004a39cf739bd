"""Use cases on customer notes, calls and visits (Kontakthistorie) and their follow-ups (Wiedervorlagen).

A note is logged by staff (`customers:write`): type note | call | visit, text, when it happened
(`at`, default now), duration in minutes, and optionally a follow-up: a due date and an assignee
(a user; default: whoever logs it). Follow-ups are done (and reopened) by a change. Every create
and change is audited (`note.create`, `note.update`; the text itself stays out of the audit trail,
only that it changed). The object store keeps a sidecar per note (`notes/<id>.json`), so
`dms rebuild-catalog` restores them (`restore_notes`).
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from dms.app.audit import record
from dms.app.branches import scoped_customer, sees_customer
from dms.app.principal import CUSTOMERS_READ, CUSTOMERS_WRITE, Principal, require
from dms.app.services import Services
from dms.catalog.engine import utcnow
from dms.catalog.notes import KINDS, NoteRecord, NoteRepository
from dms.errors import DmsError, NotFound, ValidationError
from dms.storage import ObjectStore, keys
from dms.validation import quote, text_field

log = logging.getLogger(__name__)

OFFICE_TIME = ZoneInfo("Europe/Berlin")  # "today" of a follow-up is the office's day
MAX_TEXT = 10_000
MAX_DURATION = 24 * 60
ASSIGNEE_RE = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")  # a user name (dms.identity.repository.USERNAME_RE)
ASSIGNEE_PATTERN = ASSIGNEE_RE.pattern
CREATE_FIELDS = {"type", "text", "at", "duration_minutes", "due", "assignee"}
CHANGE_FIELDS = {"text", "done", "due", "assignee"}
DUE_CHOICES = ("today", "overdue", "all")
NOTE_KEY = re.compile(r"^notes/([0-9a-f-]{36})\.json$")
FORMAT = 1
HIDDEN = "\x00hidden"  # names[] marker of a customer the caller may not see


def notes_of(services: Services) -> NoteRepository:
    return NoteRepository(services.catalog.db)


def office_today() -> date:
    return utcnow().astimezone(OFFICE_TIME).date()


# --- input -------------------------------------------------------------------------------------


def _unknown(body: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ValidationError(f"Unbekannte oder nicht änderbare Felder: {quote(', '.join(unknown))}.")


def _kind(value: Any) -> str:
    if value not in KINDS:
        raise ValidationError(f"type muss note, call oder visit sein, nicht {quote(value)!r}.", field="type")
    return str(value)


def _text(value: Any) -> str:
    return text_field(value, "text", max_length=MAX_TEXT, required=True, multiline=True) or ""


def _at(value: Any) -> datetime | None:
    """A date and time (ISO 8601; without a zone: UTC), as UTC."""
    if value is None:
        return None
    message = f"at muss ein Zeitpunkt JJJJ-MM-TTThh:mm:ss[+hh:mm] sein, nicht {quote(value)!r}."
    if not isinstance(value, str) or not 10 < len(value) <= 40:
        raise ValidationError(message, field="at")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError(message, field="at") from exc
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before year 1 in UTC, 9999-12-31T23:00-02:00 after 9999
        return (datetime.min if parsed.year == 1 else datetime.max).replace(tzinfo=UTC)


def _duration(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():  # JSON 15.0 is the integer 15
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_DURATION:
        raise ValidationError(f"duration_minutes muss eine ganze Zahl von 0 bis {MAX_DURATION} sein.",
                              field="duration_minutes")
    return value


def _due(value: Any) -> date | None:
    if value is None:
        return None
    try:
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError(f"due muss ein Datum JJJJ-MM-TT sein, nicht {quote(value)!r}.", field="due") from exc


def _assignee(services: Services, value: Any) -> str | None:
    """A user name; with users (`DMS_AUTH_MODE=users`) one of an active user."""
    if value is None:
        return None
    if not isinstance(value, str) or not ASSIGNEE_RE.match(value):
        raise ValidationError(f"assignee muss ein Benutzername sein, nicht {quote(value)!r}.", field="assignee")
    if services.settings.auth_mode == "users":
        from dms.identity.repository import IdentityRepository

        try:
            user = IdentityRepository.for_catalog(services.catalog).get_user(value)
        except NotFound:
            user = None
        if user is None or not user.active:
            raise ValidationError(f"Die Wiedervorlage kann nicht an {value!r} gehen: keinen aktiven Benutzer "
                                  "dieses Namens.", code="unknown_assignee", field="assignee")
    return value


def _default_assignee(principal: Principal) -> str | None:
    return principal.name if ASSIGNEE_RE.match(principal.name) else None  # tokens (`token:…`) are nobody


# --- sidecars ----------------------------------------------------------------------------------


def note_key(note_id: str) -> str:
    return f"notes/{note_id}.json"


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def note_record(note: NoteRecord) -> dict[str, Any]:
    return {"format": FORMAT, "id": note.id, "customer_number": note.customer_number, "type": note.kind,
            "text": note.text, "at": _iso(note.at), "duration_minutes": note.duration_minutes,
            "due": _iso(note.due), "assignee": note.assignee, "done_at": _iso(note.done_at), "done_by": note.done_by,
            "author": note.author, "created_at": _iso(note.created_at), "updated_at": _iso(note.updated_at)}


def read_note(data: dict[str, Any]) -> NoteRecord:
    if int(data.get("format", 1)) > FORMAT:
        raise ValueError(f"note sidecar format {data.get('format')} is newer than {FORMAT}")

    def moment(name: str) -> datetime | None:
        return datetime.fromisoformat(data[name]) if data.get(name) else None

    return NoteRecord(
        id=data["id"], customer_number=data["customer_number"], kind=data["type"], text=data["text"],
        at=moment("at"), author=data["author"], created_at=moment("created_at"),
        updated_at=moment("updated_at"), duration_minutes=data.get("duration_minutes"),
        due=date.fromisoformat(data["due"]) if data.get("due") else None, assignee=data.get("assignee"),
        done_at=moment("done_at"), done_by=data.get("done_by"),
    )


def write_sidecar(store: ObjectStore, note: NoteRecord) -> None:
    store.put(note_key(note.id), keys.dump(note_record(note)), content_type="application/json")


def restore_notes(store: ObjectStore, catalog: Any) -> int:
    """Put every note sidecar of the store into the catalog (`dms rebuild-catalog`); how many."""
    notes, restored = NoteRepository(catalog.db), 0
    for key in store.list_keys("notes/"):
        if not NOTE_KEY.match(key):
            continue
        try:
            restored += notes.restore(read_note(keys.load(store.get(key))))
        except (DmsError, KeyError, ValueError, TypeError) as exc:
            log.warning("note sidecar %s skipped: %s", key, exc)
    return restored


# --- use cases ---------------------------------------------------------------------------------


def create_note(services: Services, principal: Principal, number: str, body: dict[str, Any]) -> NoteRecord:
    """Log a note, call or visit for customer `number` (404 if there is none)."""
    require(principal, CUSTOMERS_WRITE)
    _unknown(body, CREATE_FIELDS)
    kind = _kind(body.get("type", "note"))
    text = _text(body.get("text"))
    at, duration, due = _at(body.get("at")), _duration(body.get("duration_minutes")), _due(body.get("due"))
    assignee = _assignee(services, body.get("assignee"))
    if due is not None and assignee is None and "assignee" not in body:
        assignee = _default_assignee(principal)
    customer = scoped_customer(services, principal, number)
    now = utcnow()
    note = NoteRecord(id=str(uuid.uuid4()), customer_number=customer.number, kind=kind, text=text, at=at or now,
                      author=principal.name, created_at=now, updated_at=now, duration_minutes=duration, due=due,
                      assignee=assignee)
    notes_of(services).add(note)
    write_sidecar(services.store, note)
    record(services, principal, "note.create", "note", note.id, customer_number=customer.number, type=kind,
           at=note.at.isoformat(), duration_minutes=duration, due=_iso(due), assignee=assignee)
    return note


def _note_of(services: Services, number: str, note_id: str) -> NoteRecord:
    note = notes_of(services).get(note_id)
    if note.customer_number != str(number):
        raise NotFound(f"Notiz {note_id} existiert nicht.", code="note_not_found")
    return note


def update_note(services: Services, principal: Principal, number: str, note_id: str,
                body: dict[str, Any]) -> NoteRecord:
    """Change the text, the follow-up (`due`, `assignee`; null removes) or mark it `done` (or not)."""
    require(principal, CUSTOMERS_WRITE)
    _unknown(body, CHANGE_FIELDS)
    changes: dict[str, Any] = {}
    if "text" in body:
        changes["text"] = _text(body["text"])
    if "due" in body:
        changes["due"] = _due(body["due"])
    if "assignee" in body:
        changes["assignee"] = _assignee(services, body["assignee"])
    done = body.get("done")
    if "done" in body and not isinstance(done, bool):
        raise ValidationError("done muss true oder false sein.", field="done")
    scoped_customer(services, principal, number)
    current = _note_of(services, number, note_id)
    if done is True and current.done_at is None:
        changes.update(done_at=utcnow(), done_by=principal.name)
    elif done is False and current.done_at is not None:
        changes.update(done_at=None, done_by=None)
    before, note = notes_of(services).update(note_id, **changes)
    changed = sorted(name for name in changes if getattr(before, name) != getattr(note, name))
    if changed:
        write_sidecar(services.store, note)
        shown = [name for name in changed if name != "text"]  # the text stays out of the audit trail
        record(services, principal, "note.update", "note", note.id, customer_number=note.customer_number,
               fields=changed, old={n: _plain(getattr(before, n)) for n in shown},
               new={n: _plain(getattr(note, n)) for n in shown})
    return note


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def move_notes(services: Services, old_number: str, new_number: str) -> int:
    """Give every note of `old_number` to `new_number` (a merge of customers; its caller audits it)."""
    repository = notes_of(services)
    moved = repository.move(old_number, new_number)
    for note_id in moved:
        write_sidecar(services.store, repository.get(note_id))
    return len(moved)


def erase_notes(services: Services, number: str) -> int:
    """Delete every note of customer `number` with every version of its sidecar (a GDPR erasure;
    its caller audits it, without the notes' text)."""
    deleted = notes_of(services).delete_of_customer(number)
    for note_id in deleted:
        services.store.delete(note_key(note_id))
    return len(deleted)


@dataclass(frozen=True)
class FollowUp:
    note: NoteRecord
    customer_name: str | None
    overdue: bool

    def to_dict(self) -> dict[str, Any]:
        return {**self.note.to_dict(), "customer_name": self.customer_name, "overdue": self.overdue}


def followups(services: Services, principal: Principal, *, assignee: str = "me", due: str = "today",
              limit: int = 100, offset: int = 0) -> list[FollowUp]:
    """Open follow-ups of a user (`me`: the caller), by due date: `today` = due today or earlier,
    `overdue` = due before today, `all` = every open one. Done ones are not listed."""
    require(principal, CUSTOMERS_READ)
    if due not in DUE_CHOICES:
        raise ValidationError(f"due muss today, overdue oder all sein, nicht {quote(due)!r}.", field="due")
    if assignee != "me" and not ASSIGNEE_RE.match(assignee):
        raise ValidationError(f"assignee muss me oder ein Benutzername sein, nicht {quote(assignee)!r}.",
                              field="assignee")
    who = principal.name if assignee == "me" else assignee
    today = office_today()
    found = notes_of(services).followups(assignee=who, due_by=today if due == "today" else None,
                                          before=today if due == "overdue" else None, limit=limit, offset=offset)
    names: dict[str, str | None] = {}
    result = []
    for note in found:
        if note.customer_number not in names:
            customer = services.catalog.customers.find(note.customer_number)
            if customer is not None and not sees_customer(services, principal, customer):
                names[note.customer_number] = HIDDEN
            else:
                names[note.customer_number] = customer.name if customer is not None else None
        if names[note.customer_number] is HIDDEN:  # a customer of another branch (branch scoping)
            continue
        result.append(FollowUp(note, names[note.customer_number], note.due is not None and note.due < today))
    return result
