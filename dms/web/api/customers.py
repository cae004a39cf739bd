"""Customers and their files: HTTP in, a `dms.app.customers` use case, JSON out."""

from __future__ import annotations

from flask import Response, jsonify, make_response, request

from dms.app import customers as uc
from dms.app.customer_view import customer_json
from dms.app.principal import CUSTOMERS_READ, CUSTOMERS_WRITE, DOCUMENTS_READ, Principal
from dms.domain import Customer
from dms.web.api import api_bp, services
from dms.web.auth import require
from dms.web.body import json_object
from dms.web.idempotency import idempotent
from dms.web.openapi import Header, Reply, operation
from dms.web.openapi import customer_models as cm
from dms.web.params import int_arg, str_arg

ETAG = Header("The customer's state, for `If-Match`", required=True)
LOCATION = Header("The new customer", required=True)
STALE = {409: "`conflict`: changed by others concurrently again and again; retry. `external_number_exists`: "
              "another customer has that external number.",
         412: "`precondition_failed`: `If-Match` names another state than the customer's current one; nothing "
              "changed."}
INVALID = ("Invalid request: every bad field is named (`field`: the first, `fields`: {path: message}, `codes`: "
           "{path: code}; paths like `addresses.0.postal_code`, `attributes.<key>`).")
ATTRIBUTE_PREFIX = "attr."
MOVED = {308: "`moved`: the number belonged to a customer merged into another; `Location` is the same URL with "
              "the surviving customer's number (also `number` in the error)."}


@api_bp.post("/customers")
@operation("Create a customer and its file", permission=CUSTOMERS_WRITE, body=cm.CustomerCreate, tag="customers",
           reply=Reply(cm.Customer, "Created", headers={"Location": LOCATION, "ETag": ETAG}), status=201,
           errors={400: INVALID, 409: "`customer_exists`: the number is taken; `external_number_exists`: the "
                   "external number is."})
@idempotent(CUSTOMERS_WRITE)
def create_customer():
    principal = require(CUSTOMERS_WRITE)
    customer = uc.create_customer(services(), principal, json_object())
    return _with_etag(customer, principal, 201, {"Location": f"/api/v1/customers/{customer.number}"})


def _with_etag(customer: Customer, principal: Principal, status: int = 200,
               headers: dict[str, str] | None = None) -> Response:
    response = make_response(jsonify(customer_json(customer, principal)), status)
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


def _attribute_filters() -> dict[str, str]:
    """`attr.<key>=value` parameters (empty values are ignored)."""
    filters = {}
    for name in request.args:
        if name.startswith(ATTRIBUTE_PREFIX):
            value = str_arg(name, max_length=200)
            if value is not None:
                filters[name[len(ATTRIBUTE_PREFIX):]] = value
    return filters


@api_bp.get("/customers")
@operation("List customers", permission=CUSTOMERS_READ, query=cm.CustomerQuery, reply=cm.CustomerList,
           tag="customers", description="Filters combine (AND); `total` counts every match. Custom attributes "
           "filter with `attr.<key>=value` (any number of them; an undefined attribute is a 400).")
def list_customers():
    principal = require(CUSTOMERS_READ)
    found = uc.find_customers(
        services(),
        principal,
        str_arg("q"),
        status=str_arg("status", max_length=64),
        tag=str_arg("tag", max_length=64),
        group=str_arg("group", max_length=64),
        branch=str_arg("branch", max_length=64),
        attributes=_attribute_filters(),
        limit=int_arg("limit", 100, minimum=1, maximum=1000),
        offset=int_arg("offset", 0, maximum=1_000_000),
        with_tags=False,
    )
    return jsonify({"customers": [customer_json(c, principal) for c in found.customers], "total": found.total})


@api_bp.get("/customers/next-number")
@operation("The next free customer number", permission=CUSTOMERS_READ, reply=cm.NextNumber, tag="customers")
def next_customer_number():
    principal = require(CUSTOMERS_READ)
    return jsonify({"number": uc.next_number(services(), principal)})


@api_bp.get("/customers/attributes")
@operation("Custom attributes, statuses, groups and branches of the configuration", permission=CUSTOMERS_READ,
           reply=cm.CustomerSettings, tag="customers")
def customer_attributes():
    """What a customer form offers: the attribute definitions (`[customers.attributes.<key>]`) and the
    configured statuses, groups and branches with their defaults."""
    principal = require(CUSTOMERS_READ)
    return jsonify(uc.customer_settings(services(), principal).to_dict())


@api_bp.get("/customers/<number>")
@operation("One customer", permission=CUSTOMERS_READ, reply=Reply(cm.Customer, headers={"ETag": ETAG}),
           tag="customers", errors=MOVED)
def get_customer(number: str):
    principal = require(CUSTOMERS_READ)
    return _with_etag(uc.get_customer(services(), principal, number), principal)


@api_bp.patch("/customers/<number>")
@operation("Change master data", permission=CUSTOMERS_WRITE, body=cm.CustomerUpdate,
           tag="customers", reply=Reply(cm.Customer, "Changed", headers={"ETag": ETAG}), headers=("If-Match",),
           errors={400: INVALID, **STALE})
def update_customer(number: str):
    """Change the given fields (a list or object replaces the whole of it); `If-Match` with a stale ETag
    → 412, nothing changed."""
    principal = require(CUSTOMERS_WRITE)
    customer = uc.update_customer(services(), principal, number, json_object(), if_match=_if_match())
    return _with_etag(customer, principal)


@api_bp.put("/customers/<number>")
@operation("Create or update a customer (master data from an ERP)", permission=CUSTOMERS_WRITE,
           body=cm.CustomerUpdate, tag="customers", headers=("If-Match",),
           errors={400: "Invalid request, e.g. no `name` for a customer that does not exist yet, `number` in the body, "
                   "a number that cannot be a customer number (`field`: `number`); every bad field is named "
                   "(`fields`).",
                   409: "`conflict`: changed by others concurrently again and again; retry. "
                   "`external_number_exists`: another customer has that external number.",
                   412: "`precondition_failed`: `If-Match` names another state than the customer's current one, or "
                   "the customer does not exist; nothing changed."},
           replies={200: Reply(cm.Customer, "Updated (or unchanged: the same ETag)", headers={"ETag": ETAG}),
                    201: Reply(cm.Customer, "Created with its file", headers={"Location": LOCATION, "ETag": ETAG})})
@idempotent(CUSTOMERS_WRITE)
def upsert_customer(number: str):
    """Create customer `number` (201) or change the given fields (200); `If-Match` makes it conditional (412)."""
    principal = require(CUSTOMERS_WRITE)
    customer, created = uc.upsert_customer(services(), principal, number, json_object(), if_match=_if_match())
    if created:
        return _with_etag(customer, principal, 201, {"Location": f"/api/v1/customers/{customer.number}"})
    return _with_etag(customer, principal)


@api_bp.get("/customers/<number>/file")
@operation("The customer file: folders with documents", permission=DOCUMENTS_READ, reply=cm.CustomerFile,
           tag="customers", errors=MOVED)
def customer_file(number: str):
    """The customer file: every folder of the Aktenplan with its documents (latest version each)."""
    principal = require(DOCUMENTS_READ)
    file = uc.customer_file(services(), principal, number)
    return jsonify(
        {
            "customer": customer_json(file.customer, principal),
            "folders": [
                {"name": name, "documents": [d.to_dict(with_versions=False) for d in documents]}
                for name, documents in file.folders.items()
            ],
        }
    )
