"""Webhooks end to end: a real receiver (http.server on loopback) gets signed events from a real
`dms serve` on embedded defaults, and from a real `dms worker` on the scale-out servers.

The receiver answers the first attempt of every delivery with 500, so each event arrives twice:
the retry is the proof of retrying. A second endpoint on a port nobody listens on is given up.
The outbox itself (transaction, order, leases) is tested on the repository below.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from dms.catalog.engine import utcnow
from dms.config import Settings
from dms.errors import ValidationError
from dms.services import Services
from tests.docgen import make_pdf
from tests.hostile.conftest import HostileStack
from tests.live import free_port

SECRET = "geheim-" + "x" * 24
DEAD_SECRET = "anderes-geheimnis-" + "y" * 16


# --- a real receiver -------------------------------------------------------------------------------


@dataclass
class Received:
    at: float
    headers: dict[str, str]
    body: bytes
    answer: int

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def document(self) -> dict[str, Any]:
        return self.json["document"]


@dataclass
class Receiver:
    """Answers 500 to the first attempt of each delivery, 200 afterwards; can hold one request open."""

    port: int = field(default_factory=free_port)
    requests: list[Received] = field(default_factory=list)
    hold_title: str | None = None
    released: threading.Event = field(default_factory=threading.Event)
    holding: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        delivery = headers.get("X-Kundenakte-Delivery")
        with self.lock:
            first = not any(r.headers.get("X-Kundenakte-Delivery") == delivery for r in self.requests)
            hold = first and self.hold_title is not None and json.loads(body)["document"]["title"] == self.hold_title
            if hold:
                self.hold_title = None  # one request only
        if hold:
            self.holding.set()
            self.released.wait(30)
        answer = 500 if first else 200
        with self.lock:
            self.requests.append(Received(time.monotonic(), headers, body, answer))
        return answer

    def of(self, document_id: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.document["id"] == document_id]

    def wait_delivered(self, document_id: str, count: int = 1, timeout: float = 60) -> list[Received]:
        """Requests for the document once `count` of its events were answered 200."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.of(document_id)
            if sum(r.answer == 200 for r in got) >= count:
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"{count} event(s) of {document_id} not delivered; got {[r.json for r in got]}")
            time.sleep(0.05)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            answer = state.handle(dict(self.headers.items()), body)
            self.send_response(answer)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"kaput" if answer >= 500 else b"danke")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", state.port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.released.set()
        server.shutdown()
        server.server_close()


def verify(received: Received, secret: str = SECRET) -> None:
    """What a receiver does: HMAC-SHA256 over `timestamp.body`, compared in constant time, recent timestamp."""
    timestamp = received.headers["X-Kundenakte-Timestamp"]
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + received.body,
                                    hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, received.headers["X-Kundenakte-Signature"])
    assert abs(time.time() - int(timestamp)) < 300


# --- the stacks ----------------------------------------------------------------------------------


def _config(dead_port: int) -> str:
    return f"""
[[webhooks]]
url = "http://127.0.0.1:{dead_port}/nobody-listens"
secret_env = "TEST_DEAD_HOOK_SECRET"
events = ["document.failed"]

[webhook_delivery]
max_attempts = 3
backoff_seconds = 0.2
max_backoff_seconds = 0.5
timeout_seconds = 30
poll_seconds = 0.2
"""


@pytest.fixture(scope="module", params=["embedded", pytest.param("server", marks=pytest.mark.servers)])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          receiver: Receiver) -> Iterator[HostileStack]:
    """`dms serve` (+ `dms worker` on the servers) with two endpoints: the receiver (all events, from
    DMS_WEBHOOK_URLS) and a dead one (`document.failed` only, from `[[webhooks]]` in DMS_CONFIG)."""
    base = tmp_path_factory.mktemp(f"webhooks-{request.param}")
    env: dict[str, str] = {}
    if request.param == "server":
        from tests.server_env import isolated_env

        env = isolated_env(request.getfixturevalue("real_servers").env(), "webhooks")
    config = base / "webhooks.toml"
    config.write_text(_config(free_port()), encoding="utf-8")
    env.update({
        "DMS_CONFIG": str(config), "DMS_WEBHOOK_URLS": receiver.url, "DMS_WEBHOOK_SECRET": SECRET,
        "TEST_DEAD_HOOK_SECRET": DEAD_SECRET,
    })
    found = HostileStack(request.param, base, env)
    try:
        yield found.start()
    finally:
        found.stop()


@pytest.fixture(scope="module")
def customer(stack: HostileStack) -> str:
    return stack.api.create_customer("Webhook Empfänger GmbH")["number"]


def deliveries(stack: HostileStack, **params: str) -> dict[str, Any]:
    response = stack.api.get("/webhooks/deliveries", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def wait_until(check: Callable[[], Any], timeout: float = 60, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out: {what}")
        time.sleep(0.1)
    return result


# --- end to end ----------------------------------------------------------------------------------


def test_a_filed_document_is_announced_signed_and_retried(stack: HostileStack, receiver: Receiver,
                                                          customer: str) -> None:
    pdf = make_pdf(["Rechnung", f"Kundennummer {customer}", "Webhookprobe Zitronenfalter"])
    document_id = stack.api.upload_ok(pdf, "rechnung.pdf", customer_number=customer)
    assert stack.api.wait(document_id)["status"] == "filed"
    first, retry = receiver.wait_delivered(document_id)
    assert (first.answer, retry.answer) == (500, 200)
    for got in (first, retry):
        verify(got)
        assert got.headers["X-Kundenakte-Event"] == "document.filed"
        assert got.headers["Content-Type"].startswith("application/json")
    assert first.headers["X-Kundenakte-Delivery"] == retry.headers["X-Kundenakte-Delivery"]
    assert first.body == retry.body  # the same bytes on every attempt, signed anew
    body = retry.json
    assert body["event"] == "document.filed" and body["event_id"] and body["timestamp"]
    assert body["document"] | {"title": None} == {
        "id": document_id, "status": "filed", "reason": None, "customer_number": customer, "class": "Rechnung",
        "folder": "04 Rechnungen", "title": None, "version": 1, "external_id": None, "external_source": None,
    }
    # a forged signature would not pass the receiver's check
    with pytest.raises(AssertionError):
        verify(retry, secret="ein-anderes-geheimnis-1234")

    page = deliveries(stack, document=document_id)
    assert page["total"] == 1
    [shown] = page["deliveries"]
    assert shown["delivery_id"] == retry.headers["X-Kundenakte-Delivery"]
    assert (shown["state"], shown["attempts"], shown["last_status"]) == ("delivered", 2, 200)
    assert shown["last_error"].startswith("HTTP 500") and shown["delivered_at"]
    assert shown["endpoint"] == receiver.url and shown["payload"] == body


def test_events_of_one_document_arrive_in_order(stack: HostileStack, receiver: Receiver, customer: str) -> None:
    """v1's event is held open at the receiver (then 500, then 200); v2's event, written meanwhile,
    is not sent before v1's was delivered."""
    receiver.hold_title = "reihenfolge"
    receiver.released.clear()
    receiver.holding.clear()
    try:
        v1 = make_pdf(["Rechnung", f"Kundennummer {customer}", "Reihenfolge Version eins"])
        document_id = stack.api.upload_ok(v1, "reihenfolge.pdf", customer_number=customer)
        assert stack.api.wait(document_id)["status"] == "filed"
        assert receiver.holding.wait(60), "v1's event never arrived"
        v2 = make_pdf(["Rechnung", f"Kundennummer {customer}", "Reihenfolge Version zwei"])
        response = stack.api.post(f"/documents/{document_id}/versions", files={"file": ("r2.pdf", v2)})
        assert response.status_code == 202, response.text
        stack.api.wait(document_id, version=2)
        pending = wait_until(lambda: deliveries(stack, document=document_id)["total"] == 2 or None,
                             what="v2's event in the outbox")
        assert pending
        rows = {r["version"]: r for r in deliveries(stack, document=document_id)["deliveries"]}
        assert rows[2]["state"] == "pending" and rows[2]["attempts"] == 0  # waits behind v1
        assert rows[1]["state"] == "pending"
        time.sleep(1.0)  # several polls: v2 still not sent while v1 is in flight
        assert [r.document["version"] for r in receiver.of(document_id)] == []
    finally:
        receiver.released.set()
    got = receiver.wait_delivered(document_id, count=2)
    assert [(r.document["version"], r.answer) for r in got] == [(1, 500), (1, 200), (2, 500), (2, 200)]
    for r in got:
        verify(r)
    # the deliverer records an answer after the receiver got it: wait for the last record
    expected = [(2, "delivered", 2), (1, "delivered", 2)]
    wait_until(lambda: [(r["version"], r["state"], r["attempts"])
                        for r in deliveries(stack, document=document_id)["deliveries"]] == expected,
               what="both deliveries recorded as delivered")


def test_failed_and_needs_review_events_and_giving_up(stack: HostileStack, receiver: Receiver) -> None:
    broken = stack.api.upload_ok(b"%PDF-1.4\n kaputt", "kaputt.pdf")
    body = stack.api.wait(broken)
    assert body["status"] == "failed"
    [first, retry] = receiver.wait_delivered(broken)
    verify(retry)
    assert retry.headers["X-Kundenakte-Event"] == "document.failed"
    assert retry.document["status"] == "failed" and retry.document["reason"] == body["status_reason"]
    assert "corrupt_pdf" in retry.document["reason"]

    inbox = stack.api.upload_ok(make_pdf(["Irgendein Schreiben ohne Kundennummer"]), "schreiben.pdf")
    assert stack.api.wait(inbox)["status"] == "needs_review"
    [_, review] = receiver.wait_delivered(inbox)
    assert review.headers["X-Kundenakte-Event"] == "document.needs_review"
    assert review.document["customer_number"] is None and review.document["reason"]

    # the dead endpoint got document.failed only, and gave up after max_attempts (3)
    dead = wait_until(
        lambda: [d for d in deliveries(stack, document=broken, state="failed")["deliveries"]] or None,
        what="the dead endpoint's delivery given up",
    )
    [gave_up] = dead
    assert gave_up["event"] == "document.failed" and gave_up["attempts"] == 3
    assert gave_up["last_status"] is None and gave_up["last_error"].startswith("Nicht erreichbar")
    assert gave_up["next_attempt_at"] is None
    assert deliveries(stack, document=inbox)["total"] == 1  # not subscribed to needs_review

    # paging and filters
    everything = deliveries(stack, limit="200")
    assert everything["total"] == len(everything["deliveries"]) >= 3
    second = deliveries(stack, limit="1", offset="1")
    assert second["deliveries"] == everything["deliveries"][1:2] and second["total"] == everything["total"]
    assert {d["event"] for d in deliveries(stack, event="document.needs_review")["deliveries"]} == {
        "document.needs_review"
    }
    assert stack.api.get("/webhooks/deliveries", params={"state": "verloren"}).status_code == 400
    assert stack.api.get("/webhooks/deliveries", params={"limit": "0"}).status_code == 400


def test_filing_by_hand_announces_the_document(stack: HostileStack, receiver: Receiver, customer: str) -> None:
    inbox = stack.api.upload_ok(make_pdf(["Ein Schreiben ohne Kundennummer, von Hand abzulegen"]), "hand.pdf")
    assert stack.api.wait(inbox)["status"] == "needs_review"
    receiver.wait_delivered(inbox)  # the needs_review event
    filed = stack.api.patch(f"/documents/{inbox}", json={"customer_number": customer})
    assert filed.status_code == 200 and filed.json()["status"] == "filed", filed.text
    got = receiver.wait_delivered(inbox, count=2)
    events = [r.headers["X-Kundenakte-Event"] for r in got if r.answer == 200]
    assert events == ["document.needs_review", "document.filed"]
    announced = [r for r in got if r.headers["X-Kundenakte-Event"] == "document.filed"][-1]
    verify(announced)
    assert announced.document["customer_number"] == customer and announced.document["status"] == "filed"
    stages = [e["stage"] for e in stack.api.get(f"/documents/{inbox}").json()["events"]]
    assert stages[-1] == "manual_filing"


# --- the outbox on its own (embedded catalog) -------------------------------------------------------


@pytest.fixture
def outbox_services(tmp_path: Path) -> Iterator[Services]:
    from dms.app.services import build_services

    env = {"DMS_DATA_DIR": str(tmp_path / "data"), "DMS_WEBHOOK_URLS": "http://127.0.0.1:9/a, http://127.0.0.1:9/b",
           "DMS_WEBHOOK_SECRET": SECRET}
    svc = build_services(Settings.from_env(env), with_queue=False)
    try:
        yield svc
    finally:
        svc.close()


def _document(services: Services) -> str:
    from dms.app.intake import Upload, receive_document
    from dms.app.principal import CLI

    return receive_document(services, CLI, Upload(make_pdf([str(time.time_ns())]), "a.pdf")).id


def test_the_final_status_and_its_events_are_one_transaction(outbox_services: Services) -> None:
    outbox = outbox_services.catalog.outbox
    document_id = _document(outbox_services)
    assert outbox.set_final_status(document_id, 1, "filed", stage="done") == 2  # one per endpoint
    assert outbox.set_final_status(document_id, 1, "processing", stage="x") == 0  # not an event
    total, rows = outbox.query(document_id=document_id)
    assert total == 2 and {r["endpoint"] for r in rows} == {"http://127.0.0.1:9/a", "http://127.0.0.1:9/b"}
    assert len({r["event_id"] for r in rows}) == 1 and len({r["delivery_id"] for r in rows}) == 2
    before = outbox.query()[0]
    with pytest.raises(Exception, match="existiert nicht"):
        outbox.set_final_status("nicht-da", 1, "filed", stage="done")
    assert outbox.query()[0] == before


def test_only_the_oldest_pending_event_of_a_document_is_due(outbox_services: Services) -> None:
    outbox = outbox_services.catalog.outbox
    outbox.set_targets([outbox.targets[0]])
    first, second = _document(outbox_services), _document(outbox_services)
    for status in ("needs_review", "filed", "failed"):
        outbox.set_final_status(first, 1, status, stage="done")
    outbox.set_final_status(second, 1, "filed", stage="done")
    claimed = outbox.claim_due(limit=10, lease_seconds=60)
    assert [(c.document_id, c.event) for c in claimed] == [(first, "document.needs_review"), (second, "document.filed")]
    assert outbox.claim_due(limit=10, lease_seconds=60) == []  # leased, and the rest wait behind them
    outbox.record_failure(claimed[0], "HTTP 500", 500, utcnow() - timedelta(seconds=1))  # due again at once
    again = outbox.claim_due(limit=10, lease_seconds=60)
    assert [(c.delivery_id, c.attempts) for c in again] == [(claimed[0].delivery_id, 1)]
    outbox.record_failure(again[0], "HTTP 500", 500, None)  # given up: the next event of `first` goes
    [nxt] = outbox.claim_due(limit=10, lease_seconds=60)
    assert (nxt.document_id, nxt.event) == (first, "document.filed")
    outbox.record_success(nxt, 204)
    assert [c.event for c in outbox.claim_due(limit=10, lease_seconds=60)] == ["document.failed"]


def test_a_lease_that_runs_out_is_delivered_again(outbox_services: Services) -> None:
    """A deliverer that died mid-request: at least once, the row comes back after its lease."""
    outbox = outbox_services.catalog.outbox
    document_id = _document(outbox_services)
    outbox.set_final_status(document_id, 1, "filed", stage="done")
    claimed = outbox.claim_due(limit=10, lease_seconds=0.5)
    assert len(claimed) == 2 and outbox.claim_due(limit=10, lease_seconds=0.5) == []
    later = utcnow() + timedelta(seconds=1)
    again = outbox.claim_due(limit=10, lease_seconds=30, now=later)
    assert {c.id for c in again} == {c.id for c in claimed}
    outbox.record_success(claimed[0], 200)  # the old claim's result no longer counts
    assert outbox.query(state="delivered")[0] == 0


def test_configuration_errors_are_reported() -> None:
    from dms.webhooks.config import endpoints, policy

    def settings(env: dict[str, str], toml: dict[str, Any] | None = None) -> Settings:
        base = Settings.from_env(env)
        if toml:
            base.rules = {**base.rules, **toml}
            base.webhook_env = {**base.webhook_env, **{k: v for k, v in env.items() if k.startswith("HOOK")}}
        return base

    assert endpoints(settings({})) == []
    for env, toml, message in (
        ({"DMS_WEBHOOK_URLS": "http://erp.example/h"}, None, "Geheimnis fehlt"),
        ({"DMS_WEBHOOK_URLS": "http://erp.example/h", "DMS_WEBHOOK_SECRET": "kurz"}, None, "kürzer"),
        ({"DMS_WEBHOOK_URLS": "ftp://erp.example/h", "DMS_WEBHOOK_SECRET": SECRET}, None, "keine http"),
        ({}, {"webhooks": [{"url": "https://erp.example/h"}]}, "secret_env"),
        ({"HOOK": SECRET}, {"webhooks": [{"url": "https://x.example", "secret_env": "HOOK", "events": ["x"]}]},
         "events"),
    ):
        with pytest.raises(ValidationError, match=message):
            endpoints(settings(env, toml))
    [hook] = endpoints(settings({"HOOK": SECRET}, {"webhooks": [
        {"url": "https://x.example/h", "secret_env": "HOOK", "events": ["document.filed"]}]}))
    assert hook.secret == SECRET and hook.events == {"document.filed"} and SECRET not in repr(hook)
    assert policy(Settings.from_env({})).delay(1) == 5 and policy(Settings.from_env({})).delay(20) == 3600


def test_the_signature_helper_matches_the_documented_recipe() -> None:
    from dms.webhooks import signing

    body = b'{"event":"document.filed"}'
    headers = signing.headers(SECRET, body, event="document.filed", delivery_id="d-1", now=1_700_000_000)
    received = Received(0, headers, body, 200)
    with pytest.raises(AssertionError):  # too old for the receiver's recipe
        verify(received)
    assert signing.verify(SECRET, "1700000000", body, headers["X-Kundenakte-Signature"], now=1_700_000_100)
    assert not signing.verify(SECRET, "1700000000", body + b" ", headers["X-Kundenakte-Signature"],
                              now=1_700_000_100)
    assert not signing.verify(SECRET, "1700000000", body, headers["X-Kundenakte-Signature"], now=1_700_001_000)
