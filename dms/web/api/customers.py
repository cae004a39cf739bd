"""Customers and their files."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from dms import sidecars
from dms.domain import CustomerKind, CustomerStatus
from dms.validation import customer_input
from dms.web.api import api_bp, services
from dms.web.auth import require
from dms.web.body import json_object
from dms.web.params import int_arg, str_arg


@api_bp.post("/customers")
def create_customer():
    actor = require("customers:write")
    values = customer_input(json_object())
    svc = services()
    customer = svc.catalog.create_customer(
        values["name"],
        number=values.get("number"),
        kind=values.get("kind") or CustomerKind.LEGAL,
        status=values.get("status") or CustomerStatus.CUSTOMER,
        tags=values.get("tags", []),
        folders=svc.settings.folder_template,
        first_number=svc.settings.first_customer_number,
    )
    sidecars.write_customer(svc.store, customer)
    svc.catalog.audit(actor.name, "customer.create", "customer", customer.number)
    return jsonify(customer.to_dict()), 201, {"Location": f"/api/v1/customers/{customer.number}"}


@api_bp.get("/customers")
def list_customers():
    require("customers:read")
    customers = services().catalog.list_customers(
        str_arg("q"),
        limit=int_arg("limit", 100, minimum=1, maximum=1000),
        offset=int_arg("offset", 0, maximum=1_000_000),
    )
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
    changes = customer_input(json_object(), partial=True)
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
