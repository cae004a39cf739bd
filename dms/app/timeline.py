"""A customer's timeline (Kontakthistorie): everything that happened with a customer, newest first.

Entries of six types: `document` (filed into the file; by the time received), `mail` (received
and filed; by the time received), `note`, `call`, `visit` (logged by staff, dms/app/notes.py; by
the time they happened) and `change` (master data: the audit entries `customer.create` and
`customer.update` with old → new). Reading needs `customers:read`; documents and mail are only
shown to principals that may read documents (`documents:read`), GDPR-restricted documents only to
those that see them. Every read is audited (`customer.timeline`).

Pages are cursor pages (dms/catalog/timeline.py): `next_cursor` is the position of the last
entry, `<microseconds since 1970 UTC (negative before)>.<source>.<key>`; every text of that form is a valid cursor.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dms.app.audit import record
from dms.app.branches import visible_customer
from dms.app.documents import sees_restricted
from dms.app.principal import CUSTOMERS_READ, DOCUMENTS_READ, Principal, require
from dms.app.services import Services
from dms.catalog.customer_aliases import CustomerAliases
from dms.catalog.notes import KINDS as NOTE_TYPES
from dms.catalog.timeline import RANK, SOURCES, Item, Position, TimelineSources
from dms.domain import Customer, Document
from dms.errors import ValidationError
from dms.validation import quote

TYPES = ("document", "mail", "note", "call", "visit", "change")
DOCUMENT_TYPES = ("document", "mail")  # need documents:read
BANK = "customers:bank"  # sees bank accounts unmasked
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CURSOR_PATTERN = rf"^-?[0-9]{{1,18}}\.({'|'.join(SOURCES)})\.[0-9A-Za-z-]{{1,64}}$"
TYPE_PATTERN = rf"^({'|'.join(TYPES)})(,({'|'.join(TYPES)}))*$"
_CURSOR = re.compile(CURSOR_PATTERN)
_TYPES = re.compile(TYPE_PATTERN)
CHANGE_LABELS = {"customer.create": "Kunde angelegt", "customer.update": "Stammdaten geändert"}


@dataclass
class TimelinePage:
    customer: Customer
    entries: list[dict[str, Any]]
    next_cursor: str | None
    types: list[str]

    @property
    def has_more(self) -> bool:
        return self.next_cursor is not None


def parse_types(value: str | Collection[str] | None) -> list[str]:
    """`document,note` (or a list) as the list of types; None or empty: all."""
    if value is None or value == "" or value == []:
        return list(TYPES)
    text = value if isinstance(value, str) else ",".join(value)
    if not _TYPES.match(text):
        raise ValidationError(f"type muss einer oder mehrere von {', '.join(TYPES)} sein (durch Komma getrennt), "
                              f"nicht {quote(text)!r}.", field="type")
    return [t for t in TYPES if t in text.split(",")]


def encode_cursor(position: Position) -> str:
    micros = (position.at - EPOCH) // timedelta(microseconds=1)
    return f"{micros}.{position.source}.{position.key}"


def decode_cursor(cursor: str) -> Position:
    """The position a cursor names; anything not of the cursor's form is a 400."""
    if not _CURSOR.match(cursor):
        raise ValidationError(f"Ungültiger cursor {quote(cursor)!r}.", field="cursor")
    micros, source, key = cursor.split(".", 2)
    try:
        at = EPOCH + timedelta(microseconds=int(micros))
    except OverflowError:  # beyond the years 1 to 9999: before or after every entry
        at = (datetime.min if micros.startswith("-") else datetime.max).replace(tzinfo=UTC)
    return Position(at, RANK[source], key)


def timeline(services: Services, principal: Principal, number: str, *, types: str | Collection[str] | None = None,
             cursor: str | None = None, limit: int = 50) -> TimelinePage:
    require(principal, CUSTOMERS_READ)
    wanted = parse_types(types)
    after = decode_cursor(cursor) if cursor else None
    customer = visible_customer(services, principal, number)
    # a merged customer's history (its audit entries stay under its old number) belongs to the survivor's
    numbers = [customer.number, *(a.old_number for a in CustomerAliases(services.catalog.db).of(customer.number))]
    shown = [t for t in wanted if t not in DOCUMENT_TYPES or principal.can(DOCUMENTS_READ)]
    sources = {t for t in shown if t in SOURCES} | ({"note"} if set(shown) & set(NOTE_TYPES) else set())
    items = TimelineSources(services.catalog.db).items(
        numbers, sources=sources, note_kinds=[t for t in shown if t in NOTE_TYPES],
        include_restricted=sees_restricted(principal), after=after, limit=limit + 1,
    )
    page, more = items[:limit], len(items) > limit
    entries = [entry(item, principal) for item in page]
    record(services, principal, "customer.timeline", "customer", customer.number, types=shown, count=len(entries),
           cursor=cursor)
    return TimelinePage(customer, entries, encode_cursor(page[-1].position) if more else None, shown)


# --- entries -----------------------------------------------------------------------------------


def entry(item: Item, principal: Principal) -> dict[str, Any]:
    """One timeline entry: `id`, `type`, `at`, `actor`, `summary` (German) and the type's own object."""
    record_ = item.record
    if item.source == "document":
        return _document_entry(record_, item.position.at)
    if item.source == "mail":
        mail = {**record_, "received_at": record_["received_at"].isoformat() if record_["received_at"] else None}
        return {"id": f"mail:{mail['id']}", "type": "mail", "at": item.position.at.isoformat(),
                "actor": mail["sender"], "summary": mail["subject"] or "(ohne Betreff)", "mail": mail}
    if item.source == "note":
        note = record_.to_dict()
        return {"id": f"note:{record_.id}", "type": record_.kind, "at": note["at"], "actor": record_.author,
                "summary": _first_line(record_.text), "note": note}
    return _change_entry(record_, item.position.at, principal)


def _document_entry(document: Document, at: datetime) -> dict[str, Any]:
    first = min(document.versions, key=lambda v: v.number) if document.versions else None
    return {
        "id": f"document:{document.id}", "type": "document", "at": at.isoformat(),
        "actor": first.created_by if first else None, "summary": document.title,
        "document": {"id": document.id, "title": document.title, "class": document.document_class,
                     "folder": document.folder, "status": document.status, "source": str(document.source),
                     "document_date": document.document_date.isoformat() if document.document_date else None},
    }


def _first_line(text: str, length: int = 120) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= length else line[: length - 1] + "…"


def _change_entry(audit: dict[str, Any], at: datetime, principal: Principal) -> dict[str, Any]:
    details = audit.get("details") or {}
    old, new = details.get("old") or {}, details.get("new") or {}
    names = sorted(set(old) | set(new)) or sorted(details.get("fields") or [])
    if not principal.can(BANK):
        old, new = _masked(old), _masked(new)
    changes = [{"field": name, "old": old.get(name), "new": new.get(name)} for name in names]
    label = CHANGE_LABELS.get(audit["action"], audit["action"])
    summary = label if audit["action"] == "customer.create" else f"{label}: {', '.join(names) or '–'}"
    return {"id": f"change:{audit['id']}", "type": "change", "at": at.isoformat(), "actor": audit["actor"],
            "summary": summary, "change": {"action": audit["action"], "fields": names, "changes": changes}}


def _masked(value: Any) -> Any:
    """`value` with every IBAN shown as `**** <last four>` (for principals without `customers:bank`)."""
    if isinstance(value, dict):
        masked = {key: _masked(item) for key, item in value.items()}
        if isinstance(value.get("iban"), str):
            iban = value["iban"].replace(" ", "")
            masked["iban"], masked["masked"] = f"**** {iban[-4:]}", True
        return masked
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value
