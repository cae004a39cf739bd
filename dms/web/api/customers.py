"""Customers and their files: HTTP in, a `dms.app.customers` use case, JSON out."""

from __future__ import annotations

from flask import jsonify

from dms.app import customers as uc
from dms.app.principal import CUSTOMERS_READ, CUSTOMERS_WRITE, DOCUMENTS_READ
from dms.web.api import api_bp, services
from dms.web.auth import require
from dms.web.body import json_object
from dms.web.params import int_arg, str_arg


@api_bp.post("/customers")
def create_customer():
    principal = require(CUSTOMERS_WRITE)
    customer = uc.create_customer(services(), principal, json_object())
    return jsonify(customer.to_dict()), 201, {"Location": f"/api/v1/customers/{customer.number}"}


@api_bp.get("/customers")
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
def next_customer_number():
    principal = require(CUSTOMERS_READ)
    return jsonify({"number": uc.next_number(services(), principal)})


@api_bp.get("/customers/<number>")
def get_customer(number: str):
    principal = require(CUSTOMERS_READ)
    return jsonify(uc.get_customer(services(), principal, number).to_dict())


@api_bp.patch("/customers/<number>")
def update_customer(number: str):
    principal = require(CUSTOMERS_WRITE)
    return jsonify(uc.update_customer(services(), principal, number, json_object()).to_dict())


@api_bp.get("/customers/<number>/file")
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
