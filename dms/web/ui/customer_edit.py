"""Changing a customer from its file: the master data (`/kunden/<nr>/bearbeiten`, conditional on the
ETag the form was rendered with, so a change made meanwhile is never overwritten) and, for admins,
the customer's legal hold (`POST /kunden/<nr>/legal-hold`). Both go through the use cases
(dms.app.customers, dms.app.retention), which check the permission and audit the change."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from flask import redirect, request

from dms.app import customers as uc
from dms.app.principal import ADMIN, CUSTOMERS_WRITE, require
from dms.domain import Customer
from dms.errors import DmsError, PreconditionFailed, ValidationError
from dms.web.ui import ui_bp
from dms.web.ui.customers import KINDS, statuses
from dms.web.ui.files import file_url
from dms.web.ui.helpers import flash_error, flash_ok, page, principal, services

FIELDS = ("name", "kind", "status", "tags", "emails")
MAX_ETAG = 200
NO_STATE = '""'  # the ETag of no state: a form without one is refused like a stale one
_LIST_SEPARATORS = re.compile(r"[,;\s]+")
STALE = ("Jemand anderes hat diesen Kunden inzwischen geändert. Unten stehen die aktuellen Werte; "
         "bitte tragen Sie Ihre Änderungen erneut ein und speichern Sie noch einmal.")


def edit_url(number: str) -> str:
    return f"/kunden/{quote(number, safe='')}/bearbeiten"


def _values_of(customer: Customer) -> dict[str, str]:
    """The form's text of a customer: lists as comma (tags) or line (emails) separated text."""
    return {"name": customer.name, "kind": str(customer.kind), "status": str(customer.status),
            "tags": ", ".join(customer.tags), "emails": "\n".join(customer.emails)}


def _form_values() -> dict[str, str]:
    return {key: (request.form.get(key) or "").strip() for key in FIELDS}


def _body(values: dict[str, str]) -> dict[str, Any]:
    """The use case's input: every master data field (empty kind/status left out: they stay)."""
    body: dict[str, Any] = {"name": values["name"]}
    for key in ("kind", "status"):
        if values[key]:
            body[key] = values[key]
    body["tags"] = [t for t in (part.strip() for part in values["tags"].split(",")) if t]
    body["emails"] = [e for e in _LIST_SEPARATORS.split(values["emails"]) if e]
    return body


def _form(customer: Customer, values: dict[str, str], etag: str, **extra: Any) -> str:
    return page("ui/customer_edit.html", customer=customer, values=values, etag=etag, statuses=statuses(),
                kinds=KINDS, action=edit_url(customer.number), back=file_url(customer.number), **extra)


@ui_bp.get("/kunden/<number>/bearbeiten")
def customer_edit(number: str):
    require(principal(), CUSTOMERS_WRITE)
    customer = uc.get_customer(services(), principal(), number)
    return _form(customer, _values_of(customer), customer.etag)


@ui_bp.post("/kunden/<number>/bearbeiten")
def customer_update(number: str):
    require(principal(), CUSTOMERS_WRITE)
    values = _form_values()
    etag = (request.form.get("etag") or "").strip()[:MAX_ETAG]
    try:
        # never unconditional: a missing ETag (or `*`) names no state and is refused like a stale one
        expected = etag if etag and etag != "*" else NO_STATE
        customer = uc.update_customer(services(), principal(), number, _body(values), if_match=[expected])
    except PreconditionFailed:
        current = uc.get_customer(services(), principal(), number)  # 404 when it is gone
        return _form(current, _values_of(current), current.etag, error=STALE, mine=values), 412
    except ValidationError as exc:
        current = uc.get_customer(services(), principal(), number)
        return _form(current, values, etag, error=exc.message, error_field=str(exc.details.get("field") or "")), 422
    flash_ok(f"Die Stammdaten von Kunde {customer.number} ({customer.name}) wurden gespeichert.")
    return redirect(file_url(customer.number), code=303)


@ui_bp.post("/kunden/<number>/legal-hold")
def customer_hold(number: str):
    from dms.app import retention  # loads the archive stage: only when used

    require(principal(), ADMIN)
    on = request.form.get("aktion") == "setzen"
    try:
        result = retention.set_legal_hold(services(), principal(), customer_number=number, on=on,
                                          reason=request.form.get("grund"))
    except DmsError as exc:
        if exc.http_status == 404:
            raise
        flash_error(exc.message)
        return redirect(file_url(number), code=303)
    documents = f" ({result.documents} archivierte Dokumente betroffen)" if result.documents else ""
    flash_ok(("Legal Hold für den Kunden gesetzt." if on else "Legal Hold des Kunden aufgehoben.") + documents)
    return redirect(file_url(number), code=303)
