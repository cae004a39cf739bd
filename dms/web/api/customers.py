"""Customers and their files."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request

from dms import sidecars
from dms.domain import CustomerKind, CustomerStatus
from dms.errors import ValidationError
from dms.web.api import api_bp, services
from dms.web.auth import require


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError("Erwartet wird ein JSON-Objekt im Anfragetext.")
    return body


def _tags(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise ValidationError("tags muss eine Liste von Texten sein.", field="tags")
    return [t.strip() for t in value if t.strip()]


@api_bp.post("/customers")
def create_customer():
    actor = require("customers:write")
    body = _json_body()
    svc = services()
    number = body.get("number")
    customer = svc.catalog.create_customer(
        str(body.get("name") or ""),
        number=str(number) if number not in (None, "") else None,
        kind=str(body.get("kind") or CustomerKind.LEGAL),
        status=str(body.get("status") or CustomerStatus.CUSTOMER),
        tags=_tags(body.get("tags")),
        folders=svc.settings.folder_template,
        first_number=svc.settings.first_customer_number,
    )
    sidecars.write_customer(svc.store, customer)
    svc.catalog.audit(actor.name, "customer.create", "customer", customer.number)
    return jsonify(customer.to_dict()), 201, {"Location": f"/api/v1/customers/{customer.number}"}


@api_bp.get("/customers")
def list_customers():
    require("customers:read")
    limit = min(int(request.args.get("limit", 100)), 1000)
    customers = services().catalog.list_customers(request.args.get("q"), limit=limit)
    return jsonify({"customers": [c.to_dict() for c in customers]})


@api_bp.get("/customers/next-number")
def next_customer_number():
    require("customers:read")
    svc = services()
    return jsonify({"number": svc.catalog.next_customer_number(svc.settings.first_customer_number)})


@api_bp.get("/customers/<number>")
def get_customer(number: str):
    actor = require("customers:read")
    svc = services()
    customer = svc.catalog.get_customer(number)
    svc.catalog.audit(actor.name, "customer.read", "customer", number)
    return jsonify(customer.to_dict())


@api_bp.patch("/customers/<number>")
def update_customer(number: str):
    actor = require("customers:write")
    body = _json_body()
    changes = {k: body[k] for k in ("name", "kind", "status") if k in body}
    if "tags" in body:
        changes["tags"] = _tags(body["tags"])
    svc = services()
    customer = svc.catalog.update_customer(number, **changes)
    sidecars.write_customer(svc.store, customer)
    svc.catalog.audit(actor.name, "customer.update", "customer", number, fields=sorted(changes))
    return jsonify(customer.to_dict())


@api_bp.get("/customers/<number>/file")
def customer_file(number: str):
    """The customer file: every folder of the Aktenplan with its documents (latest version each)."""
    actor = require("documents:read")
    svc = services()
    customer = svc.catalog.get_customer(number)
    documents = svc.catalog.list_documents(customer_number=number, limit=100_000)
    folders: dict[str, list[dict[str, Any]]] = {name: [] for name in customer.folders}
    for document in sorted(documents, key=lambda d: (d.document_date or d.created_at.date(), d.title)):
        folders.setdefault(document.folder or svc.settings.inbox_folder, []).append(
            document.to_dict(with_versions=False)
        )
    svc.catalog.audit(actor.name, "file.read", "customer", number)
    return jsonify(
        {
            "customer": customer.to_dict(),
            "folders": [{"name": name, "documents": docs} for name, docs in folders.items()],
        }
    )
