"""Merging customers (issue #14): `POST /customers/<number>/merge`, and the 308 of a merged number.

The use case is dms/app/customer_merge.py. A merged customer's number is an alias of the survivor:
reading it (`GET /customers/<old>`, `…/file`) answers 308 Permanent Redirect to the same URL with the
survivor's number (`Location`), with a JSON error body `customer_merged` naming it (`number`).
"""

from __future__ import annotations

from flask import jsonify, request, url_for
from pydantic import Field

from dms.app import customer_merge as uc
from dms.app.customer_view import customer_json
from dms.app.principal import ADMIN
from dms.errors import Moved
from dms.web.api import api_bp, services
from dms.web.auth import require
from dms.web.body import json_object
from dms.web.errors import error_response
from dms.web.idempotency import idempotent
from dms.web.openapi import models as m
from dms.web.openapi import operation
from dms.web.openapi.customer_models import Customer


class MergeRequest(m.Request):
    into: m.NumberInput = Field(description="The number of the customer that stays (the survivor).")
    reason: str | None = Field(None, max_length=uc.MAX_REASON, description="Why (recorded in the audit trail).")


class MergedAlias(m.Response):
    old_number: str = Field(description="The merged customer's number: from now on an alias of the survivor.")
    number: str = Field(description="The survivor's number.")
    merged_at: str
    merged_by: str
    reason: str | None = None


class MergeResult(m.Response):
    customer: Customer = Field(description="The survivor after the merge.")
    merged: MergedAlias
    documents: int = Field(ge=0, description="Documents moved to the survivor.")


@api_bp.post("/customers/<number>/merge")
@operation("Merge a customer into another (its number becomes an alias)", permission=ADMIN, body=MergeRequest,
           reply=MergeResult, tag="customers", path={"number": "The customer that is merged (and goes)."},
           description="Moves documents (catalog, sidecars, search index), contacts, addresses (deduplicated), "
           "mail addresses, tags, groups, bank accounts, consents and attributes to the survivor; the audit "
           "trail keeps both histories (`customer.merge` on both). The old number then answers 308 to the "
           "survivor and mail to `akte+<old>@` is filed there. Cannot be undone.",
           errors={409: "`merge_into_itself`; `customer_merged`: one of them was merged before; "
                   "`customer_erased`: GDPR-restricted or erased; `legal_hold`: the merged customer is on hold "
                   "and the survivor is not; `merge_incomplete`: documents kept arriving, run it again."})
@idempotent(ADMIN)
def merge_customer(number: str):
    principal = require(ADMIN)
    result = uc.merge_customers(services(), principal, number, json_object())
    return jsonify({"customer": customer_json(result.customer, principal), "merged": result.alias.to_dict(),
                    "documents": len(result.documents)})


@api_bp.errorhandler(Moved)
def _moved(exc: Moved):
    """308 to the same endpoint with the survivor's number (query kept); the body says why."""
    response, status = error_response(exc.http_status, exc.code, exc.message, **exc.details)
    args = dict(request.view_args or {})
    if request.endpoint and "number" in args:
        args["number"] = exc.details["number"]
        location = url_for(request.endpoint, **args)
        if request.query_string:
            location += "?" + request.query_string.decode("latin-1")
        response.headers["Location"] = location
    return response, status
