"""The audit of refused requests: every 401 and 403 response is recorded here, in one place."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from flask import current_app, g, request

if TYPE_CHECKING:
    from flask import Response

log = logging.getLogger(__name__)



def record_refusal(response: Response) -> None:
    """Record a request answered 401 (failed login: actor `anonymous`, the name or token it
    claimed in `claimed`) or 403 (refused: actor the principal, and the missing permission).

    Called for every 401/403 response (dms.web.context). A catalog that cannot take the entry
    does not turn the refusal into a 500: it is logged."""
    from dms.app.audit import record_as

    principal = getattr(g, "principal", None)
    refused = response.status_code == 403 and principal is not None
    body = response.get_json(silent=True) if response.is_json else None
    error = body.get("error") or {} if isinstance(body, dict) else {}
    view_args = request.view_args or {}
    details: dict[str, Any] = {
        "status": response.status_code, "method": request.method, "path": request.path[:500],
        "code": error.get("code"), "reason": str(error.get("message") or "")[:500],
    }
    if error.get("missing_permission"):
        details["missing_permission"] = error["missing_permission"]
    if not refused and g.get("claimed"):
        details["claimed"] = g.claimed
    try:
        record_as(
            current_app.extensions["dms"], principal.name if refused else "anonymous",
            "access.denied" if refused else "auth.failed", "request", request.endpoint,
            customer_number=view_args.get("number"), document_id=view_args.get("document_id"), **details,
        )
    except Exception:  # the refusal stands; only its entry is missing
        log.exception("audit entry of a refused request could not be written")
