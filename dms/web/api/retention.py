"""Legal hold (issue #12): `POST|DELETE /documents/<id>/legal-hold`, `POST|DELETE /customers/<number>/legal-hold`.

Admin only. The reason is required (query parameter `reason`, or `{"reason": …}` as JSON body) and
recorded in the audit trail (`document.legal_hold_set` / `…_released`, `customer.…`). The hold is
set as S3 legal hold on every archived version (use cases: dms/app/retention.py).
"""

from __future__ import annotations

from typing import Literal

from flask import jsonify, request
from pydantic import BaseModel, Field

from dms.app import retention as uc
from dms.app.principal import ADMIN
from dms.web.api import api_bp, services
from dms.web.auth import require
from dms.web.body import json_object
from dms.web.openapi import models as m
from dms.web.openapi import operation
from dms.web.params import str_arg

MAX_REASON = uc.MAX_REASON
REASON = "Why (required; recorded in the audit trail). Also accepted as JSON body `{\"reason\": …}`."


class LegalHoldQuery(BaseModel):
    reason: str = Field(min_length=1, max_length=MAX_REASON, pattern=m.VISIBLE, description=REASON)


class LegalHold(m.Response):
    target: Literal["document", "customer"]
    id: str = Field(description="The document id or customer number.")
    legal_hold: bool = Field(description="Whether the hold is now set (true) or released (false).")
    reason: str
    documents: int = Field(description="Documents whose archived versions were changed.")
    objects: int = Field(description="Archived objects whose S3 legal hold was set or released.")


def _reason() -> str | None:
    reason = str_arg("reason", max_length=MAX_REASON)
    if reason is None and request.get_data(cache=True):
        value = json_object().get("reason")
        reason = value if isinstance(value, str) else None
    return reason


def _hold(on: bool, **target: str):
    principal = require(ADMIN)
    result = uc.set_legal_hold(services(), principal, on=on, reason=_reason(), **target)
    return jsonify(result.to_dict())


DOCUMENT = {"document_id": "The document id."}
CUSTOMER = {"number": "The customer number."}


@api_bp.post("/documents/<document_id>/legal-hold")
@operation("Set a legal hold on a document", permission=ADMIN, query=LegalHoldQuery, reply=LegalHold,
           tag="retention", path=DOCUMENT,
           description="Set as S3 legal hold on every archived version, and on versions archived while it is on; "
           "it blocks deletion even after the retention expired.")
def set_document_hold(document_id: str):
    return _hold(True, document_id=document_id)


@api_bp.delete("/documents/<document_id>/legal-hold")
@operation("Release a document's legal hold", permission=ADMIN, query=LegalHoldQuery, reply=LegalHold,
           tag="retention", path=DOCUMENT,
           description="Its archived versions stay held while its customer is under legal hold.")
def release_document_hold(document_id: str):
    return _hold(False, document_id=document_id)


@api_bp.post("/customers/<number>/legal-hold")
@operation("Set a legal hold on a customer (all its documents)", permission=ADMIN, query=LegalHoldQuery,
           reply=LegalHold, tag="retention", path=CUSTOMER,
           description="Covers every document of the customer, also those archived later.")
def set_customer_hold(number: str):
    return _hold(True, customer_number=number)


@api_bp.delete("/customers/<number>/legal-hold")
@operation("Release a customer's legal hold", permission=ADMIN, query=LegalHoldQuery, reply=LegalHold,
           tag="retention", path=CUSTOMER,
           description="Documents with a legal hold of their own stay held.")
def release_customer_hold(number: str):
    return _hold(False, customer_number=number)
