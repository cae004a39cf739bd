"""The audit trail: one entry per use case (who, what, which object, when, from where).

Where a request comes from (IP, user agent, request id) is not passed by every use case: the
entry point sets it once per request with `bind_context` (the web layer in a before_request
hook, reset on teardown) and `record` reads it from a context variable. Outside a request (the
CLI, background tasks) the context is `CLI`: user agent "cli", no IP, no request id.

Reading the trail (`entries`, `verify`) needs `audit:read` and is itself recorded.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any

from dms.app.branches import check_customer_number
from dms.app.principal import AUDIT_READ, Principal, require
from dms.app.services import Services
from dms.catalog.audit import AuditFilter, ChainReport
from dms.errors import DmsError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RequestContext:
    """From where the current use case was called."""

    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None


CLI = RequestContext(user_agent="cli")
_context: ContextVar[RequestContext] = ContextVar("dms_audit_context", default=CLI)


def bind_context(context: RequestContext) -> Token[RequestContext]:
    """Make `context` the one `record` uses in this thread/task until `unbind_context(token)`."""
    return _context.set(context)


def unbind_context(token: Token[RequestContext]) -> None:
    _context.reset(token)


def current_context() -> RequestContext:
    return _context.get()


def record(
    services: Services,
    principal: Principal,
    action: str,
    object_type: str,
    object_id: str | None,
    *,
    customer_number: str | None = None,
    document_id: str | None = None,
    version: int | None = None,
    **details: Any,
) -> int:
    """Append the entry of a use case. A document's id and customer and a customer's number are
    filled in by the catalog from `object_type`/`object_id` when not given; `details` holds the
    rest (for changes: `old` and `new` values)."""
    return record_as(
        services, principal.name, action, object_type, object_id, customer_number=customer_number,
        document_id=document_id, version=version, **details,
    )


def record_as(
    services: Services, actor: str, action: str, object_type: str, object_id: str | None, **fields: Any
) -> int:
    """Like `record`, for an actor that is no authenticated principal (a refused request)."""
    context = _context.get()
    return services.catalog.audit.record(
        actor, action, object_type, object_id, ip=context.ip, user_agent=context.user_agent,
        request_id=context.request_id, **fields,
    )


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`old` and `new` of the fields whose value changed (for the details of a change)."""
    changed = sorted(name for name in after if before.get(name) != after.get(name))
    return {"old": {name: before.get(name) for name in changed}, "new": {name: after.get(name) for name in changed}}


def entries(
    services: Services, principal: Principal, where: AuditFilter, *, limit: int = 100
) -> tuple[list[dict[str, Any]], int | None]:
    """Entries matching `where`, newest first, and the cursor of the next page (None: no more)."""
    require(principal, AUDIT_READ)
    check_customer_number(services, principal, where.customer_number)  # branch scoping: 404
    found = services.catalog.audit.page(where, limit=limit + 1)
    page, more = found[:limit], len(found) > limit
    filters = {key: value for key, value in vars(where).items() if value is not None}
    record(services, principal, "audit.read", "audit", None, filters=filters, count=len(page))
    return page, (page[-1]["id"] if more else None)


def verify(services: Services, principal: Principal) -> ChainReport:
    """Walk the whole chain (see dms.catalog.audit); the check is recorded after it. A log that
    takes no entry (it may have been tampered with) does not hide the report."""
    require(principal, AUDIT_READ)
    report = services.catalog.audit.verify()
    try:
        record(services, principal, "audit.verify", "audit", None, ok=report.ok, checked=report.checked,
               bad_id=report.bad_id)
    except DmsError:
        log.exception("the audit entry of a chain check could not be written")
    return report
