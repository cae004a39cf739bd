"""The Posteingang `/posteingang`: documents waiting for review (status needs_review) with the
classifier's reasons, and assigning customer, class and folder to one or many of them
(`POST /posteingang/zuordnen`, through `dms.app.documents.refile`, which checks and audits)."""

from __future__ import annotations

from typing import Any

from flask import redirect, request

from dms.app import documents as uc
from dms.app.customers import list_customers
from dms.app.principal import CUSTOMERS_READ, DOCUMENTS_WRITE
from dms.catalog.customers import NUMBER_RE
from dms.domain import Document, DocumentStatus
from dms.errors import DmsError, Forbidden, ValidationError
from dms.web.ui import ui_bp
from dms.web.ui.helpers import can, flash_error, flash_ok, int_param, page, paging, principal, services

PER_PAGE = 25
MAX_BULK = 100  # documents in one assignment
MAX_DATALIST = 500  # customer numbers offered as suggestions
CLASS_SOURCES = {
    "given": "Die Klasse wurde beim Hochladen angegeben.",
    "rules": "Die Klasse wurde an Schlüsselwörtern erkannt.",
    "fallback": "Keine Regel einer Dokumentklasse traf zu.",
}


def reasons(document: Document) -> list[str]:
    """Why the classifier decided as it did, in German (from `classification`)."""
    found = document.classification or {}
    out: list[str] = []
    source = found.get("class_source")
    if source in CLASS_SOURCES:
        out.append(CLASS_SOURCES[source])
    if found.get("class_rules"):
        out.append("Treffer der Regeln: " + ", ".join(map(str, found["class_rules"])) + ".")
    scores = found.get("class_scores")
    if isinstance(scores, dict) and scores:
        out.append("Punkte je Klasse: " + ", ".join(f"{name} {score}" for name, score in scores.items()) + ".")
    if found.get("unknown_customer_numbers"):
        numbers = ", ".join(map(str, found["unknown_customer_numbers"]))
        out.append(f"Im Text gefundene, aber unbekannte Kundennummer(n): {numbers}.")
    if found.get("customer_source") == "text" and found.get("customer_number"):
        rule = f" (Regel {found['customer_rule']})" if found.get("customer_rule") else ""
        out.append(f"Kunde {found['customer_number']} wurde im Text erkannt{rule}.")
    elif found.get("customer_source") == "given":
        out.append("Der Kunde wurde beim Hochladen angegeben.")
    elif "customer_source" in found and not found.get("unknown_customer_numbers"):
        out.append("Im Text wurde keine Kundennummer gefunden.")
    manual = found.get("manual")
    if isinstance(manual, dict) and manual.get("by"):
        out.append(f"Zuletzt von Hand geändert von {manual['by']}.")
    return out


@ui_bp.get("/posteingang")
def inbox():
    number = int_param("seite", 1, minimum=1, maximum=10_000)
    listed = uc.list_documents(services(), principal(), status=DocumentStatus.NEEDS_REVIEW.value, limit=PER_PAGE,
                               offset=(number - 1) * PER_PAGE)
    writable = can(DOCUMENTS_WRITE)
    customers = (list_customers(services(), principal(), limit=MAX_DATALIST)
                 if writable and can(CUSTOMERS_READ) else [])
    settings = services().settings
    return page(
        "ui/inbox.html", documents=listed.documents, pager=paging(number, PER_PAGE, has_more=listed.has_more),
        writable=writable, customers=customers, classes=list(settings.document_classes),
        folders=settings.folder_template, reasons=reasons,
    )


def _customer_number(text: str) -> str:
    """A customer number as typed, or the number of the one customer with exactly this name."""
    if NUMBER_RE.match(text):
        return text
    named = services().catalog.customers.find_by_name(text)
    if len(named) == 1:
        return named[0].number
    raise ValidationError(f"Kunde „{text[:80]}“ nicht gefunden: bitte die Kundennummer angeben.", field="kunde")


def _changes() -> dict[str, Any]:
    form = request.form
    body: dict[str, Any] = {}
    customer = (form.get("kunde") or "").strip()
    if customer:
        body["customer_number"] = _customer_number(customer[:200])
    if form.get("klasse"):
        body["document_class"] = form["klasse"]
    if form.get("ordner"):
        body["folder"] = form["ordner"]
    return body


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


@ui_bp.post("/posteingang/zuordnen")
def inbox_assign():
    if not can(DOCUMENTS_WRITE):
        raise Forbidden("Keine Berechtigung: Dokumente zuordnen dürfen nur Sachbearbeiter und Administratoren.")
    back = f"/posteingang?seite={int(request.form['seite'])}" if request.form.get("seite", "").isdigit() else (
        "/posteingang")
    ids = list(dict.fromkeys(i.strip() for i in request.form.getlist("ids") if i.strip()))
    if not ids:
        flash_error("Bitte mindestens ein Dokument auswählen.")
        return redirect(back)
    if len(ids) > MAX_BULK:
        flash_error(f"Höchstens {MAX_BULK} Dokumente auf einmal zuordnen.")
        return redirect(back)
    try:
        body = _changes()
    except DmsError as exc:
        flash_error(exc.message)
        return redirect(back)
    if not body:
        flash_error("Bitte Kunde, Klasse oder Ordner angeben.")
        return redirect(back)
    filed, waiting, failed = 0, 0, []
    for document_id in ids:
        try:
            updated = uc.refile(services(), principal(), document_id, dict(body))
        except DmsError as exc:
            failed.append(f"{document_id[:8]}: {exc.message}")
            continue
        if updated.status == DocumentStatus.NEEDS_REVIEW:
            waiting += 1
        else:
            filed += 1
    if filed:
        flash_ok(_plural(filed, "Dokument", "Dokumente") + " zugeordnet und abgelegt.")
    if waiting:
        rest = "bleibt es" if waiting == 1 else "bleiben sie"
        flash_ok(_plural(waiting, "Dokument", "Dokumente") + f" geändert; ohne Kunden {rest} im Posteingang.")
    for message in failed[:10]:
        flash_error(f"Nicht zugeordnet: {message}")
    return redirect(back)
