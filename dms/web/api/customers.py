"""Customers and their files: HTTP in, a `dms.app.customers` use case, JSON out."""

from __future__ import annotations

from flask import Response, jsonify, make_response, request

from dms.app import customers as uc
from dms.app.principal import CUSTOMERS_READ, CUSTOMERS_WRITE, DOCUMENTS_READ
from dms.domain import Customer
from dms.web.api import api_bp, services
from dms.web.auth import require
from dms.web.body import json_object
from dms.web.idempotency import idempotent
from dms.web.openapi import Header, Reply, operation
from dms.web.openapi import models as m
from dms.web.params import int_arg, str_arg

ETAG = Header("The customer's state, for `If-Match`", required=True)
LOCATION = Header("The new customer", required=True)
STALE = {409: "`conflict`: changed by others concurrently again and again; retry.",
         412: "`precondition_failed`: `If-Match` names another state than the customer's current one; nothing "
              "changed."}


@api_bp.post("/customers")
@operation("Create a customer and its file", permission=CUSTOMERS_WRITE, body=m.CustomerCreate, tag="customers",
           reply=Reply(m.Customer, "Created", headers={"Location": LOCATION, "ETag": ETAG}), status=201,
           errors={409: "`customer_exists`: the number is taken."})
@idempotent(CUSTOMERS_WRITE)
def create_customer():
    principal = require(CUSTOMERS_WRITE)
    customer = uc.create_customer(services(), principal, json_object())
    return _with_etag(customer, 201, {"Location": f"/api/v1/customers/{customer.number}"})


def _with_etag(customer: Customer, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = make_response(jsonify(customer.to_dict()), status)
    response.headers.update(headers or {})
    response.headers["ETag"] = customer.etag
    return response


def _if_match() -> list[str] | None:
    """The entity tags of `If-Match` (["*"] for any), None without the header. Weak tags never match."""
    raw = request.headers.get("If-Match")
    if raw is None:
        return None
    tags = [tag.strip() for tag in raw.split(",") if tag.strip()]
    return ["*"] if "*" in tags else tags


@api_bp.get("/customers")
@operation("List customers", permission=CUSTOMERS_READ, query=m.CustomerQuery, reply=m.CustomerList, tag="customers")
def list_customers():
    principal = require(CUSTOMERS_READ)
    customers = uc.list_customers(
        services(),
        principal,
        str_arg("q"),
        limit=int_arg("limit", 100, minimum=1, maximum=1000),
        offset=int_arg("offset", 0, maximum=1_000_000),
    )
    return jsonify({"customers": [c.to_dict() for c in customers]})


@api_bp.get("/customers/next-number")
@operation("The next free customer number", permission=CUSTOMERS_READ, reply=m.NextNumber, tag="customers")
def next_customer_number():
    principal = require(CUSTOMERS_READ)
    return jsonify({"number": uc.next_number(services(), principal)})


@api_bp.get("/customers/<number>")
@operation("One customer", permission=CUSTOMERS_READ, reply=Reply(m.Customer, headers={"ETag": ETAG}),
           tag="customers")
def get_customer(number: str):
    principal = require(CUSTOMERS_READ)
    return _with_etag(uc.get_customer(services(), principal, number))


@api_bp.patch("/customers/<number>")
@operation("Change name, kind, status, tags, emails", permission=CUSTOMERS_WRITE, body=m.CustomerUpdate,
           tag="customers", reply=Reply(m.Customer, "Changed", headers={"ETag": ETAG}), headers=("If-Match",),
           errors=STALE)
def update_customer(number: str):
    """Change the given fields; `If-Match` with a stale ETag → 412, nothing changed."""
    principal = require(CUSTOMERS_WRITE)
    return _with_etag(uc.update_customer(services(), principal, number, json_object(), if_match=_if_match()))


@api_bp.put("/customers/<number>")
@operation("Create or update a customer (master data from an ERP)", permission=CUSTOMERS_WRITE,
           body=m.CustomerUpdate, tag="customers", headers=("If-Match",),
           errors={400: "Invalid request, e.g. no `name` for a customer that does not exist yet, `number` in the body, "
                   "a number that cannot be a customer number (`field`: `number`).",
                   409: "`conflict`: changed by others concurrently again and again; retry.",
                   412: "`precondition_failed`: `If-Match` names another state than the customer's current one, or "
                   "the customer does not exist; nothing changed."},
           replies={200: Reply(m.Customer, "Updated (or unchanged: the same ETag)", headers={"ETag": ETAG}),
                    201: Reply(m.Customer, "Created with its file", headers={"Location": LOCATION, "ETag": ETAG})})
@idempotent(CUSTOMERS_WRITE)
def upsert_customer(number: str):
    """Create customer `number` (201) or change the given fields (200); `If-Match` makes it conditional (412)."""
    principal = require(CUSTOMERS_WRITE)
    customer, created = uc.upsert_customer(services(), principal, number, json_object(), if_match=_if_match())
    if created:
        return _with_etag(customer, 201, {"Location": f"/api/v1/customers/{customer.number}"})
    return _with_etag(customer)


@api_bp.get("/customers/<number>/file")
@operation("The customer file: folders with documents", permission=DOCUMENTS_READ, reply=m.CustomerFile,
           tag="customers")
def customer_file(number: str):
    """The customer file: every folder of the Aktenplan with its documents (latest version each)."""
    principal = require(DOCUMENTS_READ)
    file = uc.customer_file(services(), principal, number)
    return jsonify(
        {
            "customer": file.customer.to_dict(),
            "folders": [
                {"name": name, "documents": [d.to_dict(with_versions=False) for d in documents]}
                for name, documents in file.folders.items()
            ],
        }
    )
