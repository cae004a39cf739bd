"""Delivering the outbox: POST each due event to its endpoint, record the outcome, back off on failure.

One `Deliverer.run_round` claims due rows one at a time (the oldest pending event of each
document and endpoint, see dms/catalog/outbox.py), sends it and records the result: a 2xx answer
is `delivered`; anything else (another status, a redirect, a timeout, a refused connection) is
retried after `backoff_seconds * 2**(attempts-1)` (capped at `max_backoff_seconds`, plus up to 10 %
jitter) until `max_attempts`, then given up (`failed`), which lets the document's next event go.

`DeliveryThread` runs rounds until stopped: in `dms serve` on embedded defaults
(`start_embedded`), in the main process of `dms worker` on the scale-out queue (`start_for_worker`).
Several deliverers on one catalog are safe: a claim is a lease, and a lease that runs out (its
deliverer died mid-request) makes the row due again: at least once, never lost.
"""

from __future__ import annotations

import http.client
import logging
import os
import random
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from dms.catalog.engine import utcnow
from dms.catalog.outbox import Claimed, OutboxRepository
from dms.config import Settings
from dms.webhooks import signing
from dms.webhooks.config import DeliveryPolicy, Endpoint, endpoints, policy

if TYPE_CHECKING:
    from dms.catalog import Catalog

log = logging.getLogger(__name__)

MAX_PER_ROUND = 200
LEASE_MARGIN_SECONDS = 60.0
ANSWER_BYTES = 300  # of an error answer kept as `last_error`


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer like any other non-2xx: the signed body is never re-sent elsewhere."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int | None, str | None]:
    """(HTTP status or None, error or None) of one POST."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read(65536)
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        try:
            answer = exc.read(ANSWER_BYTES).decode("utf-8", "replace").strip()
        except (OSError, http.client.HTTPException):
            answer = ""
        return exc.code, f"HTTP {exc.code}" + (f": {answer}" if answer else "")
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return None, f"Nicht erreichbar: {reason}"
    if 200 <= status < 300:
        return status, None
    return status, f"HTTP {status}"


class Deliverer:
    def __init__(self, outbox: OutboxRepository, endpoint_list: list[Endpoint], delivery_policy: DeliveryPolicy):
        self.outbox = outbox
        self.endpoints = {e.url: e for e in endpoint_list}
        self.policy = delivery_policy

    def run_round(self) -> int:
        """Send what is due (at most MAX_PER_ROUND attempts); returns the attempts made."""
        lease = self.policy.timeout_seconds + LEASE_MARGIN_SECONDS
        done = 0
        while done < MAX_PER_ROUND:
            claimed = self.outbox.claim_due(limit=1, lease_seconds=lease)
            if not claimed:
                break
            self.attempt(claimed[0])
            done += 1
        return done

    def attempt(self, claimed: Claimed) -> None:
        endpoint = self.endpoints.get(claimed.endpoint)
        if endpoint is None:
            status, error = None, "Dieser Webhook-Endpunkt ist nicht (mehr) konfiguriert."
        else:
            headers = signing.headers(endpoint.secret, claimed.payload, event=claimed.event,
                                      delivery_id=claimed.delivery_id)
            status, error = post(endpoint.url, claimed.payload, headers, self.policy.timeout_seconds)
        if error is None:
            self.outbox.record_success(claimed, status or 200)
            log.info("webhook %s %s → %s: %s", claimed.event, claimed.delivery_id, claimed.endpoint, status)
            return
        attempts = claimed.attempts + 1
        retry_at = None
        if attempts < self.policy.max_attempts:
            delay = self.policy.delay(attempts) * (1 + random.random() * 0.1)
            retry_at = utcnow() + timedelta(seconds=delay)
        self.outbox.record_failure(claimed, error, status, retry_at)
        log.warning(
            "webhook %s %s → %s: attempt %d failed (%s)%s", claimed.event, claimed.delivery_id, claimed.endpoint,
            attempts, error, "" if retry_at else ", given up",
        )


class DeliveryThread:
    """Runs `Deliverer.run_round` every `poll_seconds` (at once again while there is work) until stopped."""

    def __init__(self, deliverer: Deliverer, poll_seconds: float) -> None:
        self.deliverer, self.poll_seconds = deliverer, poll_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="dms-webhooks", daemon=True)

    def start(self) -> DeliveryThread:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.deliverer.run_round() > 0
            except Exception:  # noqa: BLE001 - a backend hiccup must not end delivery for good
                log.exception("webhook delivery round failed")
                busy = False
            if not busy:
                self._stop.wait(self.poll_seconds)

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)


def _start(catalog: Catalog, settings: Settings) -> DeliveryThread | None:
    found = endpoints(settings)
    if not found:
        return None
    delivery_policy = policy(settings)
    log.info("webhook delivery to %d endpoint(s)", len(found))
    return DeliveryThread(Deliverer(catalog.outbox, found, delivery_policy), delivery_policy.poll_seconds).start()


def start_embedded(catalog: Catalog, settings: Settings) -> DeliveryThread | None:
    """`dms serve` on the in-process queue delivers itself; on Celery the workers do (None)."""
    if settings.redis_url:
        return None
    return _start(catalog, settings)


def start_for_worker(settings: Settings, open_catalog: Callable[[Settings], Catalog]) -> DeliveryThread | None:
    """The deliverer of a `dms worker` main process, on a catalog engine of its own.

    The prefork pool forks after this thread started: a child drops the inherited connections
    without closing them (SQLAlchemy's recipe), so it never touches the parent's sessions.
    """
    if not endpoints(settings):
        return None
    catalog = open_catalog(settings)
    os.register_at_fork(after_in_child=lambda: catalog.engine.dispose(close=False))
    return _start(catalog, settings)
