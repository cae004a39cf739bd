"""The tabs of a customer page: Stammdaten (`/kunden/<nr>/stammdaten`), Kontakte (`…/kontakte`), Akte
(the customer file, `/kunden/<nr>`, dms/web/ui/files.py) and Verlauf (`…/verlauf`: the timeline with
a type filter and the form to log a note, call or visit, optionally a follow-up); marking a
follow-up done (`POST …/verlauf/<id>/erledigt`); and the due follow-ups of the start page. Every
read and write goes through the use cases (dms.app.customers, dms.app.timeline, dms.app.notes),
which check the permission and audit."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from flask import redirect, request

from dms.app import customers as customers_uc
from dms.app import notes as notes_uc
from dms.app.principal import CUSTOMERS_READ, CUSTOMERS_WRITE, require
from dms.app.timeline import TYPES, timeline
from dms.errors import ValidationError
from dms.web.ui import ui_bp
from dms.web.ui.customer_fields import ENTRY_LABELS, contacts_view, display, field_label, master_data, note_body
from dms.web.ui.helpers import can, flash_error, flash_ok, page, principal, services, text_param

PER_PAGE = 30
FOLLOWUPS_SHOWN = 20
FILTERS = [("", "Alle")] + [(t, ENTRY_LABELS[t]) for t in TYPES]
NOTE_KINDS = [("note", "Notiz"), ("call", "Anruf"), ("visit", "Besuch")]


def tab_url(number: str, tab: str = "", **params: str | None) -> str:
    query = urlencode({k: v for k, v in params.items() if v})
    path = f"/kunden/{quote(number, safe='')}" + (f"/{tab}" if tab else "")
    return path + (f"?{query}" if query else "")


def _page(template: str, customer: Any, active: str, **context: Any) -> str:
    return page(template, customer=customer, active=active, **context)


@ui_bp.get("/kunden/<number>/stammdaten")
def customer_master_data(number: str):
    customer = customers_uc.get_customer(services(), principal(), number)
    return _page("ui/customer_stammdaten.html", customer, "stammdaten",
                 data=master_data(customer, services().settings, can("customers:bank")))


@ui_bp.get("/kunden/<number>/kontakte")
def customer_contacts(number: str):
    customer = customers_uc.get_customer(services(), principal(), number)
    return _page("ui/customer_kontakte.html", customer, "kontakte", **contacts_view(customer))


def _users() -> list[str]:
    """Who a follow-up can go to: the active users (none in `local` mode)."""
    if services().settings.auth_mode != "users":
        return []
    from dms.identity.repository import IdentityRepository

    return [u.username for u in IdentityRepository.for_catalog(services().catalog).list_users() if u.active]


def _timeline_page(number: str, *, values: dict[str, str] | None = None, error: str | None = None,
                   error_field: str = "") -> str:
    chosen = text_param("typ", max_length=16)
    chosen = chosen if chosen in TYPES else ""
    cursor = text_param("vor", max_length=100) or None
    try:
        found = timeline(services(), principal(), number, types=chosen or None, cursor=cursor, limit=PER_PAGE)
    except ValidationError:  # a cursor that is no cursor: the newest entries, never an error page
        cursor = None
        found = timeline(services(), principal(), number, types=chosen or None, limit=PER_PAGE)
    customer = found.customer
    filters = [{"key": key, "label": label, "url": tab_url(customer.number, "verlauf", typ=key or None),
                "current": key == chosen} for key, label in FILTERS]
    defaults = {"type": "note", "text": "", "at": "", "duration": "", "due": "",
                "assignee": principal().name if notes_uc.ASSIGNEE_RE.match(principal().name) else ""}
    return _page(
        "ui/customer_verlauf.html", customer, "verlauf", entries=found.entries, filters=filters, chosen=chosen,
        next_url=tab_url(customer.number, "verlauf", typ=chosen or None, vor=found.next_cursor)
        if found.next_cursor else None,
        first_url=tab_url(customer.number, "verlauf", typ=chosen or None) if cursor else None,
        note_kinds=NOTE_KINDS, users=_users(), values=values or defaults, error=error, error_field=error_field,
        action=tab_url(customer.number, "verlauf"), labels=ENTRY_LABELS, field_label=field_label, show=display,
    )


@ui_bp.get("/kunden/<number>/verlauf")
def customer_timeline(number: str):
    return _timeline_page(number)


@ui_bp.post("/kunden/<number>/verlauf")
def customer_note(number: str):
    require(principal(), CUSTOMERS_WRITE)
    values = {key: (request.form.get(key) or "").strip()
              for key in ("type", "text", "at", "duration", "due", "assignee")}
    values["text"] = (request.form.get("text") or "").strip()  # keeps its line breaks
    try:
        note = notes_uc.create_note(services(), principal(), number, note_body(values))
    except ValidationError as exc:
        return _timeline_page(number, values=values, error=exc.message,
                              error_field=str(exc.details.get("field") or "")), 422
    kind = dict(NOTE_KINDS).get(note.kind, note.kind)
    followup = f" Wiedervorlage am {note.due:%d.%m.%Y}" + (f" für {note.assignee}." if note.assignee else ".") \
        if note.due else ""
    flash_ok(f"{kind} gespeichert.{followup}")
    return redirect(tab_url(number, "verlauf"), code=303)


def _back(number: str) -> str:
    """Where a form goes back to: a local path it names (`zurueck`), else the Verlauf tab."""
    target = (request.form.get("zurueck") or "").strip()
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return tab_url(number, "verlauf")


@ui_bp.post("/kunden/<number>/verlauf/<note_id>/erledigt")
def customer_note_done(number: str, note_id: str):
    require(principal(), CUSTOMERS_WRITE)
    done = request.form.get("aktion", "erledigt") != "wieder-oeffnen"
    try:
        notes_uc.update_note(services(), principal(), number, note_id, {"done": done})
    except ValidationError as exc:
        flash_error(exc.message)
        return redirect(_back(number), code=303)
    flash_ok("Wiedervorlage erledigt." if done else "Wiedervorlage wieder geöffnet.")
    return redirect(_back(number), code=303)


def due_followups() -> list[notes_uc.FollowUp]:
    """The signed-in user's follow-ups due today or earlier (for the start page)."""
    if not can(CUSTOMERS_READ):
        return []
    return notes_uc.followups(services(), principal(), due="today", limit=FOLLOWUPS_SHOWN)

