"""Use cases of webhooks: what was delivered, what failed (admin only).

Events are written by the pipeline (`catalog.outbox.set_final_status`) and delivered by
dms/webhooks/delivery.py; this module only shows them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from dms.app.principal import ADMIN, Principal, require
from dms.app.services import Services


def _shown_url(url: str) -> str:
    """The endpoint without a password in its user info."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def list_deliveries(
    services: Services,
    principal: Principal,
    *,
    state: str | None = None,
    document_id: str | None = None,
    event: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """A page of deliveries, newest first, with attempts, last answer and last error."""
    require(principal, ADMIN)
    total, rows = services.catalog.outbox.query(
        state=state, document_id=document_id, event=event, limit=limit, offset=offset
    )
    for row in rows:
        row["endpoint"] = _shown_url(row["endpoint"])
    return {"total": total, "limit": limit, "offset": offset, "deliveries": rows}
