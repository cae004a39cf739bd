"""The audit trail: `GET /api/v1/audit`, newest entries first, paged by entry id.

`cursor` is the `next_cursor` of the page before (entries with a smaller id follow); filters:
`customer`, `document`, `actor`, `action`, `from`/`to` (days, inclusive, UTC). Needs
`audit:read`; every read is itself an entry (`audit.read`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import jsonify
from pydantic import BaseModel, Field

from dms.app import audit as uc
from dms.app.principal import AUDIT_READ
from dms.catalog.audit import AuditFilter
from dms.validation import MAX_NUMBER
from dms.web.api import api_bp, services
from dms.web.auth import require
from dms.web.openapi import operation
from dms.web.openapi.models import Response
from dms.web.params import date_arg, int_arg, str_arg

MAX_LIMIT = 1000
MAX_CURSOR = 10**12 - 1  # int_arg takes at most 12 digits


class AuditQuery(BaseModel):
    customer: str | None = Field(None, max_length=MAX_NUMBER, description="Entries about this customer number.")
    document: str | None = Field(None, max_length=36, description="Entries about this document id.")
    actor: str | None = Field(None, max_length=200, description="A user name, `token:<name>`, `cli` or `anonymous`.")
    action: str | None = Field(None, max_length=64, description="e.g. `document.download`, `auth.failed`.")
    date_from: date | None = Field(None, alias="from", description="From this day (UTC).")
    date_to: date | None = Field(None, alias="to", description="Up to this day, inclusive (UTC).")
    limit: int = Field(100, ge=1, le=MAX_LIMIT)
    cursor: int | None = Field(None, ge=0, le=MAX_CURSOR, description="`next_cursor` of the page before.")


class AuditEntry(Response):
    id: int
    at: datetime = Field(description="When, in UTC.")
    actor: str = Field(description="Who: a user name, `token:<name>`, `cli`, or `anonymous` (failed login).")
    action: str
    object_type: str
    object_id: str | None
    customer_number: str | None
    document_id: str | None
    version: int | None
    ip: str | None = Field(description="The client's address as the server saw it; null from the CLI.")
    user_agent: str | None
    request_id: str | None = Field(description="`X-Request-Id` as sent, or the one the server made up.")
    details: dict[str, Any] = Field(description="The rest; for changes `old` and `new` values.")
    prev_hash: str = Field(description="`hash` of the entry before (64 zeros for the first).")
    hash: str = Field(description="sha256 over the entry's canonical form (see `dms audit verify`).")


class AuditPage(Response):
    entries: list[AuditEntry] = Field(description="Newest first.")
    next_cursor: int | None = Field(description="Pass as `cursor` for the next page; null on the last one.")


@api_bp.get("/audit")
@operation("The audit trail, newest first", permission=AUDIT_READ, query=AuditQuery, reply=AuditPage, tag="audit")
def audit_entries():
    principal = require(AUDIT_READ)
    where = AuditFilter(
        customer_number=str_arg("customer", max_length=MAX_NUMBER),
        document_id=str_arg("document", max_length=36),
        actor=str_arg("actor", max_length=200),
        action=str_arg("action", max_length=64),
        date_from=date_arg("from"),
        date_to=date_arg("to"),
        before=int_arg("cursor", 0, minimum=0, maximum=MAX_CURSOR) or None,
    )
    limit = int_arg("limit", 100, minimum=1, maximum=MAX_LIMIT)
    entries, next_cursor = uc.entries(services(), principal, where, limit=limit)
    return jsonify({"entries": entries, "next_cursor": next_cursor})
