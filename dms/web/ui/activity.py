"""Activity from the audit trail: who viewed, downloaded, changed what and when, per customer
(`/kunden/<nr>/aktivitaet`) and per document (`/dokumente/<id>/aktivitaet`). Auditors and
admins only (`audit:read`); reading the trail is itself recorded (dms.app.audit.entries)."""

from __future__ import annotations

import json
from typing import Any

from dms.app import audit as uc
from dms.app import customers as customers_uc
from dms.app import documents as documents_uc
from dms.app.principal import AUDIT_READ, require
from dms.catalog.audit import AuditFilter
from dms.web.ui import ui_bp
from dms.web.ui.helpers import int_param, page, principal, services

PER_PAGE = 50
MAX_CURSOR = 10**12 - 1
MAX_DETAIL = 160  # characters of one detail value shown
ACTION_LABELS = {
    "document.upload": "hochgeladen",
    "document.new_version": "neue Version hochgeladen",
    "document.read": "angesehen",
    "document.preview": "Vorschau angezeigt",
    "document.download": "heruntergeladen",
    "document.refile": "Ablage/Metadaten geändert",
    "document.edit_fields": "Felder geändert",
    "document.archived": "archiviert",
    "document.trash": "in den Papierkorb gelegt",
    "document.restore": "aus dem Papierkorb geholt",
    "document.version_delete": "Version gelöscht",
    "document.purge": "endgültig gelöscht",
    "document.restrict": "gesperrt (DSGVO)",
    "document.legal_hold_set": "Legal Hold gesetzt",
    "document.legal_hold_released": "Legal Hold aufgehoben",
    "customer.create": "Kunde angelegt",
    "customer.read": "Kunde angesehen",
    "customer.update": "Stammdaten geändert",
    "customer.legal_hold_set": "Legal Hold gesetzt",
    "customer.legal_hold_released": "Legal Hold aufgehoben",
    "customer.gdpr_report": "DSGVO-Auskunft erstellt",
    "customer.erasure_requested": "Löschung beantragt (DSGVO)",
    "customer.erasure_done": "gelöscht (DSGVO)",
    "customer.erasure_failed": "Löschung fehlgeschlagen (DSGVO)",
    "customer.anonymise": "anonymisiert",
    "file.read": "Akte geöffnet",
    "search": "gesucht",
    "mail.read": "E-Mail gelesen",
}
# details that are shown elsewhere (or are noise)
HIDDEN_DETAILS = {"old", "new"}


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= MAX_DETAIL else text[:MAX_DETAIL] + "…"


def entry_view(entry: dict[str, Any]) -> dict[str, Any]:
    """One row of the activity table: the entry with a German action and its details as text."""
    details = entry.get("details") or {}
    old, new = details.get("old") or {}, details.get("new") or {}
    changes = [(name, _text(old.get(name)), _text(new.get(name))) for name in sorted(set(old) | set(new))] \
        if isinstance(old, dict) and isinstance(new, dict) else []
    others = [(key, _text(value)) for key, value in details.items() if key not in HIDDEN_DETAILS]
    return {**entry, "label": ACTION_LABELS.get(entry["action"], entry["action"]), "changes": changes,
            "others": others}


SAME = ("actor", "action", "document_id", "version", "ip")


def collapse(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Runs of the same plain entry (a document polled while it is processed, pages opened again and
    again) as one row with `count` and the time of the first (`since`); entries are newest first."""
    rows: list[dict[str, Any]] = []
    for entry in entries:
        last = rows[-1] if rows else None
        plain = not entry["changes"] and not entry["others"]
        if last is not None and plain and last["plain"] and all(last[k] == entry[k] for k in SAME):
            last["count"] += 1
            last["since"] = entry["at"]
        else:
            rows.append({**entry, "plain": plain, "count": 1, "since": entry["at"]})
    return rows


def _entries(where: AuditFilter) -> tuple[list[dict[str, Any]], int | None]:
    found, next_cursor = uc.entries(services(), principal(), where, limit=PER_PAGE)
    return collapse([entry_view(e) for e in found]), next_cursor


def _before() -> int | None:
    return int_param("vor", 0, minimum=0, maximum=MAX_CURSOR) or None


@ui_bp.get("/kunden/<number>/aktivitaet")
def customer_activity(number: str):
    require(principal(), AUDIT_READ)  # before anything is read: others get 403 and leave no trace
    customer = customers_uc.get_customer(services(), principal(), number)
    entries, next_cursor = _entries(AuditFilter(customer_number=customer.number, before=_before()))
    return page("ui/activity.html", customer=customer, doc=None, entries=entries, next_cursor=next_cursor,
                back=f"/kunden/{customer.number}", heading=f"Aktivität: {customer.number} {customer.name}")


@ui_bp.get("/dokumente/<document_id>/aktivitaet")
def document_activity(document_id: str):
    require(principal(), AUDIT_READ)
    document, _events = documents_uc.get_document(services(), principal(), document_id)
    entries, next_cursor = _entries(AuditFilter(document_id=document.id, before=_before()))
    return page("ui/activity.html", customer=None, doc=document, entries=entries, next_cursor=next_cursor,
                back=f"/dokumente/{document.id}", heading=f"Aktivität: {document.title}")
