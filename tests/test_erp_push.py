"""The ERP push API (issue #10) against a real `dms serve` in DMS_AUTH_MODE=users, with a token
made by `dms tokens create` as an ERP would get it: idempotent retries (also across a restart
and on the real servers with a Celery worker), external ids, metadata, batches, cursor
pagination under concurrent inserts, and customer upserts with ETags."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.docgen import make_pdf
from tests.einvoice_docs import cii_invoice, zugferd_pdf
from tests.live import TERMINAL, LiveServer, Worker

SCOPES = ("documents:write", "documents:read", "customers:write", "customers:read")


@dataclass
class ErpStack:
    """A `dms serve` (and on the real servers a `dms worker`) with an ERP token."""

    kind: str
    base: Path
    server: LiveServer
    worker: Worker | None = None
    token: str = ""

    def start(self) -> ErpStack:
        cli = [sys.executable, "-m", "dms.cli", "tokens", "create", "--name", "erp"]
        for scope in SCOPES:
            cli += ["--scope", scope]
        self.server.data_dir.mkdir(parents=True, exist_ok=True)
        self.token = subprocess.run(cli, env=self.server.env, capture_output=True, text=True, check=True,
                                    timeout=120).stdout.strip()
        self.server.start()
        if self.kind == "server":
            self.worker = Worker(self.server.env, self.base / "worker.log", concurrency=2).start()
        return self

    def restart_web(self) -> None:
        self.server.stop()
        self.server.start()

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        self.server.stop()

    # --- HTTP -------------------------------------------------------------------------------

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None, **kw: Any) -> requests.Response:
        auth = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        return requests.request(method, self.server.url + "/api/v1" + path, headers=auth, timeout=120, **kw)

    def push(self, data: bytes, name: str = "rechnung.pdf", *, key: str | None = None,
             files: dict[str, Any] | None = None, **form: str) -> requests.Response:
        headers = {"Idempotency-Key": key} if key else {}
        return self.request("POST", "/documents", headers=headers, files={"file": (name, data), **(files or {})},
                            data=form)

    def customer(self) -> str:
        response = self.request("POST", "/customers", json={"name": f"ERP-Kunde {uuid.uuid4().hex[:8]} GmbH"})
        assert response.status_code == 201, response.text
        return response.json()["number"]

    def wait(self, document_id: str, version: int = 1, timeout: float = 180) -> dict[str, Any]:
        import time

        deadline = time.monotonic() + timeout
        while True:
            body = self.request("GET", f"/documents/{document_id}").json()
            if body["status"] in TERMINAL and (body.get("latest_version") or {}).get("number") == version:
                return body
            assert time.monotonic() < deadline, f"{document_id} stuck in {body['status']}: {body.get('events')}"
            time.sleep(0.2)

    def count(self, **params: str) -> int:
        response = self.request("GET", "/documents", params={"limit": "1000", **params})
        assert response.status_code == 200, response.text
        return len(response.json()["documents"])


def _stack(request: pytest.FixtureRequest, base: Path, kind: str) -> ErpStack:
    env = {"DMS_AUTH_MODE": "users"}
    if kind == "server":
        from tests.server_env import isolated_env

        env.update(isolated_env(request.getfixturevalue("real_servers").env(), "erp"))
    return ErpStack(kind, base, LiveServer(base / "data", env=env))


@pytest.fixture(scope="module", params=["embedded", pytest.param("server", marks=pytest.mark.servers)])
def erp_stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ErpStack]:
    """Embedded defaults and the real servers (PostgreSQL, MinIO, OpenSearch, Redis + Celery worker)."""
    stack = _stack(request, tmp_path_factory.mktemp(f"erp-{request.param}"), request.param)
    try:
        yield stack.start()
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def erp(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ErpStack]:
    """Embedded defaults only."""
    stack = _stack(request, tmp_path_factory.mktemp("erp-embedded"), "embedded")
    try:
        yield stack.start()
    finally:
        stack.stop()


def _pdf(*lines: str) -> bytes:
    return make_pdf(["Rechnung", *lines, uuid.uuid4().hex])


# --- idempotency -------------------------------------------------------------------------------


def test_a_retry_with_the_same_key_gets_the_first_answer_also_after_a_restart(erp_stack: ErpStack) -> None:
    number = erp_stack.customer()
    pdf, key = _pdf(f"Kundennummer {number}"), str(uuid.uuid4())
    first = erp_stack.push(pdf, key=key, customer_number=number, document_date="2026-03-12")
    assert first.status_code == 202, first.text
    again = erp_stack.push(pdf, key=key, customer_number=number, document_date="2026-03-12")
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert erp_stack.count(customer=number) == 1

    erp_stack.restart_web()
    after_restart = erp_stack.push(pdf, key=key, customer_number=number, document_date="2026-03-12")
    assert (after_restart.status_code, after_restart.content) == (first.status_code, first.content)
    assert erp_stack.count(customer=number) == 1

    other = erp_stack.push(pdf, key=key, customer_number=number, document_date="2026-03-13")
    assert other.status_code == 422, other.text
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    other_file = erp_stack.push(_pdf("anders"), key=key, customer_number=number, document_date="2026-03-12")
    assert other_file.status_code == 422 and other_file.json()["error"]["code"] == "idempotency_key_reused"
    assert erp_stack.wait(first.json()["id"])["status"] in ("filed", "needs_review")


def test_concurrent_requests_with_one_key_make_one_document(erp_stack: ErpStack) -> None:
    number = erp_stack.customer()
    pdf, key = _pdf(f"Kundennummer {number}", "gleichzeitig"), str(uuid.uuid4())
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: erp_stack.push(pdf, key=key, customer_number=number), range(8)))
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) <= {202, 409} and 202 in statuses, [(a.status_code, a.text[:120]) for a in answers]
    accepted = {a.content for a in answers if a.status_code == 202}
    assert len(accepted) == 1  # the first answer, replayed
    for answer in answers:
        if answer.status_code == 409:
            assert answer.json()["error"]["code"] == "idempotency_in_progress"  # never reached the handler
    assert erp_stack.count(customer=number) == 1


def test_a_customer_upsert_is_idempotent_too(erp_stack: ErpStack) -> None:
    number, key = f"E{uuid.uuid4().hex[:8]}", str(uuid.uuid4())
    first, again = (erp_stack.request("PUT", f"/customers/{number}", json={"name": "Idem GmbH"},
                                      headers={"Idempotency-Key": key}) for _ in range(2))
    assert first.status_code == 201 and (again.status_code, again.content) == (201, first.content)
    assert again.headers["ETag"] == first.headers["ETag"]


def test_an_invalid_idempotency_key_is_400(erp: ErpStack) -> None:
    response = erp.push(_pdf(), key="ä" * 3)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_idempotency_key"


# --- external ids ------------------------------------------------------------------------------


def test_a_known_external_id_is_the_same_document_or_its_next_version(erp: ErpStack) -> None:
    number = erp.customer()
    external_id = f"BELEG-{uuid.uuid4().hex[:8]}"
    first_pdf = _pdf(f"Kundennummer {number}", "Fassung 1")
    created = erp.push(first_pdf, customer_number=number, external_id=external_id)
    assert created.status_code == 202, created.text
    assert created.json()["outcome"] == "created"
    document_id = created.json()["id"]
    erp.wait(document_id)

    same = erp.push(first_pdf, customer_number=number, external_id=external_id)
    assert same.status_code == 200, same.text
    assert (same.json()["id"], same.json()["version"], same.json()["outcome"]) == (document_id, 1, "unchanged")

    changed = erp.push(_pdf(f"Kundennummer {number}", "Fassung 2"), customer_number=number, external_id=external_id)
    assert changed.status_code == 202, changed.text
    assert (changed.json()["id"], changed.json()["version"], changed.json()["outcome"]) == (
        document_id, 2, "new_version"
    )
    body = erp.wait(document_id, version=2)
    assert [v["number"] for v in body["versions"]] == [1, 2]
    assert (body["external_id"], body["external_source"]) == (external_id, "token:erp")
    listed = erp.request("GET", "/documents", params={"external_id": external_id}).json()["documents"]
    assert [d["id"] for d in listed] == [document_id]
    assert erp.count(customer=number) == 1


def test_external_ids_are_per_sender(erp: ErpStack) -> None:
    """Another ERP (another token) may use the same id for its own document."""
    env = erp.server.env
    other = subprocess.run([sys.executable, "-m", "dms.cli", "tokens", "create", "--name", "erp2",
                            "--scope", "documents:write"], env=env, capture_output=True, text=True, check=True,
                           timeout=120).stdout.strip()
    external_id = f"GLEICH-{uuid.uuid4().hex[:8]}"
    mine = erp.push(_pdf("ERP eins"), external_id=external_id)
    theirs = requests.post(erp.server.url + "/api/v1/documents", files={"file": ("r.pdf", _pdf("ERP zwei"))},
                           data={"external_id": external_id}, headers={"Authorization": f"Bearer {other}"},
                           timeout=60)
    assert mine.status_code == theirs.status_code == 202, theirs.text
    assert mine.json()["id"] != theirs.json()["id"]


# --- metadata ----------------------------------------------------------------------------------


def test_metadata_is_stored_survives_the_pipeline_and_is_returned(erp: ErpStack) -> None:
    number = erp.customer()
    xml = cii_invoice(f"RE-{uuid.uuid4().hex[:6]}", number, "ERP-Kunde GmbH", issued="20260312")
    pdf = zugferd_pdf(xml, ["Rechnung", f"Kundennummer {number}"])
    fields = {"invoice_number": "ERP-4711", "cost_center": "KST 12", "amounts": {"gross": "119.00"}}
    response = erp.push(pdf, "zugferd.pdf", external_id="ERP-4711", document_date="2026-01-31",
                        fields=json.dumps(fields))
    assert response.status_code == 202, response.text
    body = erp.wait(response.json()["id"])
    assert body["status"] == "filed", body["status_reason"]
    assert body["class"] == "Rechnung" and body["customer_number"] == number
    assert body["document_date"] == "2026-01-31"  # given wins over the invoice's 2026-03-12
    for key, value in fields.items():
        assert body["fields"][key] == value  # the ERP's fields survive …
    assert body["fields"]["seller_name"] == "Kundenakte Demo Verkauf GmbH"  # … the e-invoice's are added
    assert body["fields"]["gross_total"] and body["fields"]["currency"] == "EUR"
    assert body["given"] == {"fields": fields, "document_date": "2026-01-31"}  # as the ERP sent them


def test_metadata_as_one_json_part(erp: ErpStack) -> None:
    number = erp.customer()
    meta = {"customer_number": number, "external_id": f"M-{uuid.uuid4().hex[:6]}", "document_date": "2026-02-01",
            "fields": {"invoice_number": "M-1"}, "tags": ["erp"]}
    response = erp.push(_pdf(f"Kundennummer {number}"), files={"metadata": (None, json.dumps(meta),
                                                                             "application/json")})
    assert response.status_code == 202, response.text
    body = erp.wait(response.json()["id"])
    assert (body["external_id"], body["document_date"], body["tags"]) == (meta["external_id"], "2026-02-01", ["erp"])
    assert body["fields"]["invoice_number"] == "M-1"


@pytest.mark.parametrize(
    ("form", "files", "bad"),
    [
        ({"document_date": "2026-02-30", "fields": "[1, 2]"}, {}, {"document_date", "fields"}),
        ({"document_date": "gestern"}, {}, {"document_date"}),
        ({"fields": "{kein json"}, {}, {"fields"}),
        ({"fields": json.dumps({"warnings": 1})}, {}, {"fields"}),
        ({"external_id": "x" * 300}, {}, {"external_id"}),
        ({}, {"metadata": (None, "{kein json", "application/json")}, {"metadata"}),
        ({}, {"metadata": (None, "[]", "application/json")}, {"metadata"}),
        ({}, {"metadata": (None, json.dumps({"fields": "text", "bogus": 1}), "application/json")}, {"fields", "bogus"}),
        ({"external_id": "a"}, {"metadata": (None, json.dumps({"external_id": "b"}), "application/json")},
         {"external_id"}),
    ],
    ids=["date-and-fields", "date-word", "fields-not-json", "reserved-field", "long-id", "part-not-json",
         "part-not-object", "part-fields-and-unknown", "given-twice"],
)
def test_invalid_metadata_is_422_per_field(erp: ErpStack, form: dict, files: dict, bad: set) -> None:
    response = erp.push(_pdf("ungültig"), files=files, **form)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_metadata" and error["message"]
    assert set(error["fields"]) == bad and all(error["fields"].values()), error


# --- batch -------------------------------------------------------------------------------------


def test_a_batch_of_50_with_two_bad_items(erp: ErpStack) -> None:
    number = erp.customer()
    files = [("file", (f"beleg-{i}.pdf", _pdf(f"Kundennummer {number}", f"Beleg {i}"))) for i in range(50)]
    manifest: list[dict[str, Any]] = [
        {"customer_number": number, "external_id": f"B-{i}", "fields": {"position": i}} for i in range(50)
    ]
    manifest[7]["document_date"] = "2026-02-31"
    manifest[33]["fields"] = ["kein", "objekt"]
    response = erp.request("POST", "/documents/batch", files=[*files, ("manifest", (None, json.dumps(manifest),
                                                                                      "application/json"))])
    assert response.status_code == 207, response.text
    body = response.json()
    assert (body["accepted"], body["failed"]) == (48, 2)
    results = body["results"]
    assert [r["index"] for r in results] == list(range(50))
    bad = {r["index"]: r for r in results if r["status"] >= 400}
    assert set(bad) == {7, 33}
    assert bad[7]["status"] == 422 and "document_date" in bad[7]["error"]["fields"]
    assert bad[33]["status"] == 422 and "fields" in bad[33]["error"]["fields"]
    good = [r for r in results if r["status"] < 400]
    assert all(r["status"] == 202 and r["outcome"] == "created" for r in good)
    assert len({r["id"] for r in good}) == 48
    assert erp.count(customer=number) == 48
    document = erp.request("GET", f"/documents/{good[0]['id']}").json()
    assert document["external_id"] == "B-0" and document["given"]["fields"] == {"position": 0}

    again = erp.request("POST", "/documents/batch", files=[files[0], files[7], ("manifest", (None, json.dumps(
        [manifest[0], {"customer_number": number, "external_id": "B-7"}]), "application/json"))])
    assert again.status_code == 207, again.text
    assert [(r["status"], r.get("outcome")) for r in again.json()["results"]] == [(200, "unchanged"),
                                                                                  (202, "created")]


def test_batch_limits(erp: ErpStack) -> None:
    pdf = _pdf("zu viele")
    too_many = erp.request("POST", "/documents/batch", files=[("file", (f"{i}.pdf", pdf)) for i in range(101)])
    assert too_many.status_code == 413 and too_many.json()["error"]["code"] == "too_many_items"
    mismatch = erp.request("POST", "/documents/batch", files=[("file", ("a.pdf", pdf)),
                                                              ("manifest", (None, "[{}, {}]", "application/json"))])
    assert mismatch.status_code == 422 and mismatch.json()["error"]["code"] == "invalid_manifest"
    nothing = erp.request("POST", "/documents/batch", data={"manifest": "[]"})
    assert nothing.status_code == 400


# --- cursor pagination -------------------------------------------------------------------------


def _page_through(erp: ErpStack, params: dict[str, str], busy: Callable[[], bool]) -> list[str]:
    """Follow next_cursor until nothing more comes and `busy()` is over; the ids in the order seen."""
    seen: list[str] = []
    cursor: str | None = None
    while True:
        response = erp.request("GET", "/documents", params={**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [d["id"] for d in body["documents"]]
        if body["has_more"] or busy():
            cursor = body["next_cursor"] or cursor
            continue
        if body["next_cursor"]:  # oldest first: what came after the last look
            response = erp.request("GET", "/documents", params={**params, "cursor": body["next_cursor"]})
            seen += [d["id"] for d in response.json()["documents"]]
        return seen


def test_cursor_pagination_is_stable_under_concurrent_inserts(erp: ErpStack) -> None:
    number = erp.customer()
    files = [("file", (f"{i}.pdf", _pdf(f"Kundennummer {number}", f"Seite {i}"))) for i in range(40)]
    manifest = ("manifest", (None, json.dumps([{"customer_number": number}] * 40), "application/json"))
    assert erp.request("POST", "/documents/batch", files=[*files, manifest]).json()["accepted"] == 40
    before = {d["id"] for d in erp.request("GET", "/documents", params={"customer": number, "limit": "1000"}).json()[
        "documents"]}
    inserted: list[str] = []
    done = threading.Event()

    def insert() -> None:
        try:
            for i in range(15):
                inserted.append(erp.push(_pdf(f"Kundennummer {number}", f"neu {i}"),
                                         customer_number=number).json()["id"])
        finally:
            done.set()

    thread = threading.Thread(target=insert)
    thread.start()
    oldest = _page_through(erp, {"customer": number, "order": "oldest", "limit": "4"}, lambda: not done.is_set())
    thread.join()
    assert len(oldest) == len(set(oldest)), "a document was seen twice"
    assert set(oldest) == before | set(inserted)  # every document exactly once, the new ones at the end

    newest = _page_through(erp, {"customer": number, "limit": "6"}, lambda: False)
    assert len(newest) == len(set(newest)) and set(newest) == before | set(inserted)
    assert newest == list(reversed(oldest))


def test_list_filters_and_bad_cursors(erp: ErpStack) -> None:
    number = erp.customer()
    pushed = erp.push(_pdf(f"Kundennummer {number}"), customer_number=number, document_class="Rechnung")
    assert pushed.status_code == 202
    erp.wait(pushed.json()["id"])
    found = erp.request("GET", "/documents", params={"customer": number, "class": "Rechnung",
                                                     "updated_since": "2000-01-01T00:00:00Z"}).json()
    assert [d["id"] for d in found["documents"]] == [pushed.json()["id"]]
    assert erp.request("GET", "/documents", params={"customer": number, "updated_since": "2999-01-01"}).json()[
        "documents"] == []
    assert erp.request("GET", "/documents", params={"customer": number, "class": "Vertrag"}).json()["documents"] == []
    for params in ({"cursor": "kaputt"}, {"cursor": "eyJvIjoieCIsInMiOjF9"}, {"updated_since": "gestern"},
                   {"order": "seitwärts"}):
        response = erp.request("GET", "/documents", params=params)
        assert response.status_code == 400, (params, response.text)


# --- customers from the ERP --------------------------------------------------------------------


def test_put_customer_creates_updates_and_respects_if_match(erp: ErpStack) -> None:
    number = f"K{uuid.uuid4().hex[:8]}"
    created = erp.request("PUT", f"/customers/{number}", json={"name": "Stamm GmbH", "kind": "legal", "tags": ["erp"]})
    assert created.status_code == 201, created.text
    assert created.headers["Location"] == f"/api/v1/customers/{number}"
    etag = created.headers["ETag"]
    assert erp.request("GET", f"/customers/{number}").headers["ETag"] == etag

    updated = erp.request("PUT", f"/customers/{number}", json={"name": "Stamm AG", "status": "Kunde"},
                          headers={"If-Match": etag})
    assert updated.status_code == 200, updated.text
    assert updated.json()["name"] == "Stamm AG" and updated.headers["ETag"] != etag
    new_etag = updated.headers["ETag"]

    for method in ("PUT", "PATCH"):
        stale = erp.request(method, f"/customers/{number}", json={"name": "Verloren GmbH"}, headers={"If-Match": etag})
        assert stale.status_code == 412, stale.text
        assert stale.json()["error"]["code"] == "precondition_failed"
    current = erp.request("GET", f"/customers/{number}")
    assert current.json()["name"] == "Stamm AG" and current.headers["ETag"] == new_etag  # nothing changed

    patched = erp.request("PATCH", f"/customers/{number}", json={"tags": ["erp", "vip"]}, headers={"If-Match": "*"})
    assert patched.status_code == 200 and patched.headers["ETag"] != new_etag
    unconditional = erp.request("PUT", f"/customers/{number}", json={"kind": "natural"})
    assert unconditional.status_code == 200 and unconditional.json()["kind"] == "natural"
    same = erp.request("PUT", f"/customers/{number}", json={"kind": "natural"})
    assert same.status_code == 200 and same.headers["ETag"] == unconditional.headers["ETag"]  # no change, no new state

    missing = erp.request("PUT", f"/customers/X{number}", json={"name": "Neu GmbH"}, headers={"If-Match": etag})
    assert missing.status_code == 412
    assert erp.request("GET", f"/customers/X{number}").status_code == 404
    assert erp.request("PUT", f"/customers/{number}", json={"kind": "robot"}).status_code == 400

    with sqlite3.connect(erp.server.data_dir / "catalog.db") as conn:
        rows = conn.execute("SELECT actor, action, details FROM audit_log WHERE object_type = 'customer' AND "
                            "object_id = ? AND action IN ('customer.create', 'customer.update') ORDER BY id",
                            (number,)).fetchall()
    trail = [(actor, action, json.loads(details)) for actor, action, details in rows]
    assert [action for _, action, _ in trail] == ["customer.create", "customer.update", "customer.update",
                                                  "customer.update"]
    assert {actor for actor, _, _ in trail} == {"token:erp"}
    assert trail[0][2]["new"]["name"] == "Stamm GmbH"
    assert trail[1][2]["old"] == {"name": "Stamm GmbH"} and trail[1][2]["new"] == {"name": "Stamm AG"}
    assert trail[2][2]["old"] == {"tags": ["erp"]} and trail[2][2]["new"] == {"tags": ["erp", "vip"]}
    assert trail[3][2]["old"] == {"kind": "legal"} and trail[3][2]["new"] == {"kind": "natural"}
