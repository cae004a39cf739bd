"""The customer list (`/kunden`, as-you-type with `?partial=1`) and a new customer (`/kunden/neu`)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from flask import redirect, request

from dms.app import customers as uc
from dms.app.principal import CUSTOMERS_WRITE, require
from dms.customer_config import customer_config
from dms.domain import CustomerKind
from dms.errors import Conflict, ValidationError
from dms.web.ui import ui_bp
from dms.web.ui.helpers import flash_ok, int_param, page, paging, principal, services, text_param

PER_PAGE = 25
KINDS = [k.value for k in CustomerKind]


def statuses() -> list[str]:
    """The configured customer statuses (`[customers] statuses`)."""
    return list(customer_config(services().settings).statuses)
_LIST_SEPARATORS = re.compile(r"[,;\s]+")


@ui_bp.get("/kunden")
def customer_list():
    query = text_param("q", max_length=200) or None
    status = text_param("status", max_length=32) or None
    tag = text_param("tag", max_length=64) or None
    config = customer_config(services().settings)
    status, group, branch = (_known(text_param(name, max_length=64), allowed) for name, allowed in (
        ("status", config.statuses), ("group", config.groups), ("branch", config.branches)))
    number = int_param("seite", 1, maximum=100_000)
    found = uc.find_customers(services(), principal(), query, status=status, tag=tag, group=group, branch=branch,
                              limit=PER_PAGE, offset=(number - 1) * PER_PAGE)
    filters = {"q": query, "status": status, "tag": tag, "group": group, "branch": branch}
    context: dict[str, Any] = {
        "customers": found.customers, "total": found.total, "tags": found.tags,
        "paging": paging(number, PER_PAGE, total=found.total), "statuses": list(config.statuses),
        "groups": list(config.groups), "branches": list(config.branches),
        "q": query or "", "status": status or "", "tag": tag or "", "group": group or "", "branch": branch or "",
        "export_query": urlencode({k: v for k, v in filters.items() if v}),
    }
    if request.args.get("partial"):
        return page("ui/_cust_results.html", **context)
    return page("ui/customers.html", **context)


def _known(value: str | None, allowed: tuple[str, ...]) -> str | None:
    """A filter value the configuration knows; anything else shows everything, never an error page."""
    return value if value in allowed else None


def _form_values() -> dict[str, str]:
    form = request.form
    return {key: (form.get(key) or "").strip() for key in ("name", "number", "kind", "status", "tags", "emails")}


def _body(values: dict[str, str]) -> dict[str, Any]:
    """The use case's input from the form: lists from comma separated text."""
    body: dict[str, Any] = {"name": values["name"]}
    if values["number"]:
        body["number"] = values["number"]
    if values["kind"]:
        body["kind"] = values["kind"]
    if values["status"]:
        body["status"] = values["status"]
    body["tags"] = [t for t in (part.strip() for part in values["tags"].split(",")) if t]
    body["emails"] = [e for e in _LIST_SEPARATORS.split(values["emails"]) if e]
    return body


def _new_form(values: dict[str, str], error: str | None = None, field: str | None = None):
    return page("ui/customer_new.html", values=values, error=error, error_field=field, statuses=statuses(),
                kinds=KINDS)


@ui_bp.get("/kunden/neu")
def customer_new():
    require(principal(), CUSTOMERS_WRITE)
    values = {"name": "", "number": uc.next_number(services(), principal()), "kind": CustomerKind.LEGAL.value,
              "status": customer_config(services().settings).default_status, "tags": "", "emails": ""}
    return _new_form(values)


@ui_bp.post("/kunden/neu")
def customer_create():
    require(principal(), CUSTOMERS_WRITE)
    values = _form_values()
    try:
        customer = uc.create_customer(services(), principal(), _body(values))
    except ValidationError as exc:
        return _new_form(values, exc.message, str(exc.details.get("field") or "")), 422
    except Conflict as exc:
        return _new_form(values, exc.message, "number"), exc.http_status
    flash_ok(f"Kunde {customer.number} ({customer.name}) wurde angelegt.")
    return redirect(f"/kunden/{customer.number}", code=303)
