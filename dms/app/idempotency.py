"""Safe retries: an `Idempotency-Key` makes a repeated request get the first answer again.

The entry point fingerprints the request and asks `claim` first: None means "answer it, then
`complete` (or `release` on a failure worth retrying)"; a stored answer means "send this again".
Keys are per caller (principal name) and live in the catalog for `[api] idempotency_hours`, so
the answer survives restarts and is the same on every web process.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dms.app.principal import Principal
from dms.app.services import Services
from dms.catalog.idempotency import StoredResponse
from dms.errors import IdempotencyInProgress, IdempotencyKeyReused

__all__ = ["StoredResponse", "claim", "complete", "release"]


def claim(services: Services, principal: Principal, key: str, fingerprint: str) -> StoredResponse | None:
    """The stored answer of an earlier request with this key, or None (this request now owns the key)."""
    limit = services.settings.limit
    found = services.catalog.idempotency.claim(
        principal.name, key, fingerprint, ttl=timedelta(hours=limit("api", "idempotency_hours")),
        abandoned_after=timedelta(seconds=limit("api", "idempotency_running_seconds")),
    )
    if found.outcome == "reused":
        raise IdempotencyKeyReused(
            "Dieser Idempotency-Key wurde schon für eine andere Anfrage verwendet; bitte einen neuen Schlüssel "
            "je Vorgang senden."
        )
    if found.outcome == "running":
        raise IdempotencyInProgress(
            "Eine Anfrage mit diesem Idempotency-Key wird gerade bearbeitet; bitte gleich erneut senden."
        )
    return found.response


def complete(
    services: Services, principal: Principal, key: str, status: int, body: str, headers: dict[str, Any]
) -> None:
    services.catalog.idempotency.complete(principal.name, key, status, body, headers)


def release(services: Services, principal: Principal, key: str) -> None:
    services.catalog.idempotency.release(principal.name, key)
