"""GDPR (issue #12): the Art. 15 report and Art. 17 erasure of a customer.

- `GET /customers/<number>/gdpr-report[?format=pdf|json]` (`audit:read`: admins and auditors; the
  report shows the audit trail, so it needs the permission to read it): PDF by default.
- `POST /customers/<number>/erasure` (admin, `{"reason": …}`): erase what no retention keeps,
  restrict the rest, anonymise the master data; answers the request with its steps.
- `GET /customers/<number>/erasure` (`audit:read`): the latest request with its steps.
Use cases: dms/app/gdpr.py; the PDF: dms/app/gdpr_report.py.
"""

from __future__ import annotations

from typing import Any, Literal

from flask import Response, jsonify
from pydantic import BaseModel, Field

from dms.app import gdpr as uc
from dms.app.gdpr_report import render_pdf
from dms.app.principal import ADMIN, AUDIT_READ
from dms.errors import ValidationError
from dms.web.api import api_bp, services
from dms.web.auth import require
from dms.web.body import json_object
from dms.web.openapi import Reply, operation
from dms.web.openapi import models as m
from dms.web.params import choice_arg

CUSTOMER = {"number": "The customer number."}
FORMATS = ("pdf", "json")


class ReportQuery(BaseModel):
    format: Literal["pdf", "json"] = Field("pdf", description="`pdf` (default) or `json`.")


class ErasureBody(m.Request):
    reason: str = Field(min_length=1, max_length=uc.MAX_REASON, pattern=m.VISIBLE,
                        description="Why (required; recorded in the audit trail and the deletion records).")


class ErasureStep(m.Response):
    at: str
    action: Literal["purge", "restrict", "anonymise", "failed"]
    document_id: str | None = None


class Erasure(m.Response):
    id: str
    customer_number: str
    reason: str
    requested_by: str
    requested_at: str
    finished_at: str | None = None
    status: Literal["running", "done", "failed"]
    outcome: Literal["restricted", "erased"] | None = Field(
        None, description="`erased`: nothing of the customer is left but the anonymised master data; `restricted`: "
        "documents under retention or legal hold remain, restricted (admins and auditors only).")
    legal_hold: bool = Field(description="A legal hold on the customer: everything was restricted, nothing deleted.")
    kept: dict[str, str] = Field(description="Master data fields kept, and why.")
    explanation: str | None = None
    purged: int
    restricted: int
    failed: int
    steps: list[ErasureStep]


@api_bp.get("/customers/<number>/gdpr-report")
@operation("GDPR Art. 15 report of a customer", permission=AUDIT_READ, query=ReportQuery, tag="gdpr", path=CUSTOMER,
           reply=Reply(description="The report: PDF, or JSON with `format=json` ({customer, erasure, documents, mail, "
                       "accesses})", media_types=("application/pdf", "application/json")),
           description="Master data, every document (restricted ones and the trash included) with class, dates, "
           "source and retention, the mail history and every audit entry about the customer or its documents. "
           "The request is audited (`customer.gdpr_report`) and appears in the report itself.")
def gdpr_report(number: str):
    principal = require(AUDIT_READ)
    form = choice_arg("format", FORMATS) or "pdf"
    data = uc.report(services(), principal, number)
    if form == "json":
        return jsonify(data)
    response = Response(render_pdf(data), mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="dsgvo-auskunft-{number}.pdf"'
    return response


def _reason() -> Any:
    body = json_object()
    unknown = sorted(set(body) - {"reason"})
    if unknown:
        raise ValidationError(f"Unbekannte Felder: {', '.join(unknown)}.", field=unknown[0])
    return body.get("reason")


@api_bp.post("/customers/<number>/erasure")
@operation("GDPR Art. 17 erasure of a customer", permission=ADMIN, body=ErasureBody, reply=Erasure, tag="gdpr",
           path=CUSTOMER,
           description="Deletes at once every document no retention or legal hold keeps (with a deletion record); "
           "restricts the others (hidden from lists, search and reads for everyone but admins and auditors; the "
           "retention sweep deletes them when their retention ends); anonymises the master data where nothing needs "
           "it any more (`kept` names what stays and why). Under a legal hold on the customer everything is "
           "restricted and nothing deleted. Every step is audited; repeat the request to finish after the sweep.")
def erase_customer(number: str):
    principal = require(ADMIN)
    return jsonify(uc.erase(services(), principal, number, _reason()).to_dict())


@api_bp.get("/customers/<number>/erasure")
@operation("The latest erasure request of a customer, with its steps", permission=AUDIT_READ, reply=Erasure,
           tag="gdpr", path=CUSTOMER, errors={404: "`erasure_not_found`: no erasure was requested."})
def get_erasure(number: str):
    principal = require(AUDIT_READ)
    return jsonify(uc.erasure(services(), principal, number).to_dict())
