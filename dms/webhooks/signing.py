"""The signature of a webhook request.

`X-Kundenakte-Signature: sha256=<hex>` is HMAC-SHA256 with the endpoint's secret over
`<X-Kundenakte-Timestamp>.<body>` (the timestamp in Unix seconds, a dot, the raw body bytes).
A receiver recomputes it, compares in constant time and refuses old timestamps (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Kundenakte-Timestamp"
SIGNATURE_HEADER = "X-Kundenakte-Signature"
EVENT_HEADER = "X-Kundenakte-Event"
DELIVERY_HEADER = "X-Kundenakte-Delivery"
TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def headers(secret: str, body: bytes, *, event: str, delivery_id: str, now: float | None = None) -> dict[str, str]:
    timestamp = str(int(time.time() if now is None else now))
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Kundenakte-Webhook/1",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(secret, timestamp, body),
        EVENT_HEADER: event,
        DELIVERY_HEADER: delivery_id,
    }


def verify(secret: str, timestamp: str, body: bytes, received: str, *, now: float | None = None,
           tolerance: int = TOLERANCE_SECONDS) -> bool:
    """True when `received` signs `timestamp.body` and the timestamp is recent (what a receiver does)."""
    try:
        age = abs((time.time() if now is None else now) - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance and hmac.compare_digest(signature(secret, timestamp, body), received)
