"""The deletion lifecycle of issue #12, run once on embedded defaults (tests/test_deletion.py) and
once on the real servers (tests/scaleout/test_deletion_lifecycle.py): a `dms serve` in
`DMS_AUTH_MODE=users` with two admins, the CLI as subprocesses, and a look into the storage itself
(the data folder, or the raw minio client) to prove that nothing of a deleted document is left.

Retention runs in seconds here: `[retention.Korrespondenz] seconds = N` (from filing), so expiry
is reached by waiting for the document's own `archived_until`, never by a timed assertion.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from dms.config import Settings
from tests.docgen import make_pdf
from tests.live import Api, LiveServer, Worker

PASSWORD = "ein-sehr-geheimes-passwort"
RETAINED = "Korrespondenz"  # retained for RETENTION_SECONDS by the test configuration
UNRETAINED = "Sonstiges"  # no retention
RETENTION_SECONDS = 20


def config(*, require_approval: bool) -> str:
    return (
        f"[retention.{RETAINED}]\nseconds = {RETENTION_SECONDS}\n\n"
        f"[deletion]\ntrash_days = 0\nrequire_approval = {str(require_approval).lower()}\n"
    )


@dataclass
class Stack:
    """A server with admins `anna` and `bert`, clerk `carl`, an admin token, and its storage."""

    base: Path
    env: dict[str, str]
    server: LiveServer
    leftovers: Callable[[str], list[str]]  # object versions/markers left of a document, both buckets
    read_record: Callable[[str], dict[str, Any]]  # the deletion record, raw from the archive
    worker: Worker | None = None
    token: str = ""
    apis: dict[str, Api] = field(default_factory=dict)

    def api(self, user: str) -> Api:
        if user not in self.apis:
            api = Api(self.server.url)
            api.http.auth = (user, PASSWORD) if user != "token" else None  # type: ignore[assignment]
            if user == "token":
                api.http.headers["Authorization"] = f"Bearer {self.token}"
            self.apis[user] = api
        return self.apis[user]

    def cli(self, *args: str, approval: bool = True) -> subprocess.CompletedProcess[str]:
        """`dms …` on this stack; `approval=False`: with `[deletion] require_approval = false`."""
        env = dict(self.env)
        if not approval:
            env["DMS_CONFIG"] = str(self.base / "no-approval.toml")
        return subprocess.run([sys.executable, "-m", "dms.cli", *args], env=env, capture_output=True, text=True,
                              timeout=300)

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        self.server.stop()


def start_stack(base: Path, env: dict[str, str], *, leftovers: Callable[[str], list[str]],
                read_record: Callable[[str], dict[str, Any]], with_worker: bool = False) -> Stack:
    from dms.app.services import open_catalog
    from dms.identity.repository import IdentityRepository

    (base / "approval.toml").write_text(config(require_approval=True), encoding="utf-8")
    (base / "no-approval.toml").write_text(config(require_approval=False), encoding="utf-8")
    env = {**env, "DMS_DATA_DIR": str(base / "data"), "DMS_CONFIG": str(base / "approval.toml"),
           "DMS_AUTH_MODE": "users"}
    (base / "data").mkdir(parents=True, exist_ok=True)
    catalog = open_catalog(Settings.from_env(env))
    identity = IdentityRepository.for_catalog(catalog)
    for name, role in (("anna", "admin"), ("bert", "admin"), ("carl", "clerk")):
        identity.add_user(name, role)
        identity.set_password(name, PASSWORD)
    token = identity.create_token("root", ["admin"])[1]
    catalog.close()
    server = LiveServer(base / "data", env=env)
    stack = Stack(base, server.env, server, leftovers, read_record, token=token)
    server.start()
    if with_worker:
        stack.worker = Worker(server.env, base / "worker.log", concurrency=2).start()
    return stack


# --- helpers ------------------------------------------------------------------------------------


def new_customer(stack: Stack) -> str:
    return stack.api("anna").create_customer(f"Löschprobe {uuid.uuid4().hex[:6]} GmbH")["number"]


def upload(stack: Stack, customer: str, document_class: str, word: str, *, wait_archived: bool = False) -> dict:
    api = stack.api("anna")
    pdf = make_pdf([document_class, f"Kundennummer {customer}", f"Suchwort {word}"])
    document_id = api.upload_ok(pdf, f"{word}.pdf", customer_number=customer, document_class=document_class)
    body = api.wait(document_id)
    deadline = time.monotonic() + 120
    while wait_archived and body.get("archived_until") is None:  # the archive stage runs after filing
        assert time.monotonic() < deadline, f"{document_id} never archived: {body}"
        time.sleep(0.2)
        body = api.get(f"/documents/{document_id}").json()
    return body


def until(body: dict) -> datetime:
    return datetime.fromisoformat(body["archived_until"])


def wait_past(moment: datetime) -> None:
    """Sleep until `moment` (aware) lies in the past, plus a second of slack for clock rounding."""
    while datetime.now(UTC) <= moment:
        time.sleep(min(1.0, max(0.05, (moment - datetime.now(UTC)).total_seconds())))
    time.sleep(1.0)


def delete(stack: Stack, document_id: str, user: str = "anna", **params: Any) -> requests.Response:
    api = stack.api(user)
    return api.http.delete(f"{api.base}/documents/{document_id}", params=params, timeout=60)


def hits(stack: Stack, word: str) -> list[str]:
    return [hit["id"] for hit in stack.api("anna").search(word)["hits"]]


def listed(stack: Stack, customer: str) -> list[str]:
    return [d["id"] for d in stack.api("anna").get("/documents", params={"customer": customer}).json()["documents"]]


def set_hold(stack: Stack, *, on: bool, document_id: str | None = None, customer: str | None = None) -> None:
    """A legal hold through the archive helper's API (`dms/web/api`, issue #12)."""
    api = stack.api("anna")
    path = f"/documents/{document_id}/legal-hold" if document_id else f"/customers/{customer}/legal-hold"
    response = api.http.request("POST" if on else "DELETE", api.base + path,
                                params={"reason": "Betriebsprüfung 2026"}, timeout=60)
    assert response.status_code == 200, response.text


def wait_run(stack: Stack, run_id: str) -> dict:
    """A run that was approved runs in the background (the queue): wait until it ended."""
    api = stack.api("anna")
    deadline = time.monotonic() + 120
    while True:
        run = api.get(f"/retention/runs/{run_id}").json()
        if run["status"] in ("done", "failed"):
            return run
        assert time.monotonic() < deadline, run
        time.sleep(0.2)


def item(run: dict, document_id: str) -> dict:
    return next(i for i in run["items"] if i["document_id"] == document_id)


def assert_gone(stack: Stack, body: dict, word: str) -> dict:
    """Nothing of the document is left but its audit entries and its deletion record; the record."""
    document_id = body["id"]
    assert stack.api("anna").get(f"/documents/{document_id}").status_code == 404
    assert hits(stack, word) == []
    assert stack.leftovers(document_id) == []
    audit = stack.api("anna").get("/audit", params={"document": document_id, "limit": 1000}).json()["entries"]
    assert "document.purge" in {e["action"] for e in audit}
    deletion = stack.read_record(document_id)
    assert deletion["document_id"] == document_id and deletion["class"] == body["class"]
    assert deletion["customer_number"] == body["customer_number"]
    assert [v["sha256"] for v in deletion["versions"]] == [v["sha256"] for v in body["versions"]]
    shown = json.loads(stack.cli("retention", "record", document_id).stdout)
    assert shown == deletion
    return deletion


# --- the scenarios --------------------------------------------------------------------------------


def trash_and_restore(stack: Stack) -> None:
    """No retention: DELETE moves to the trash (hidden, restorable); the purge deletes every trace."""
    customer = new_customer(stack)
    word = f"Papierkorb{uuid.uuid4().hex[:8]}"
    body = upload(stack, customer, UNRETAINED, word)
    document_id = body["id"]
    assert hits(stack, word) == [document_id]

    refused = delete(stack, document_id, user="carl")
    assert refused.status_code == 403 and refused.json()["error"]["missing_permission"] == "admin"
    trashed = delete(stack, document_id)
    assert trashed.status_code == 200, trashed.text
    assert trashed.json()["outcome"] == "trashed" and trashed.json()["purge_after"]
    assert document_id not in listed(stack, customer) and hits(stack, word) == []
    assert stack.api("anna").get(f"/documents/{document_id}").json()["trashed_at"]
    assert document_id in [d["document_id"] for d in stack.api("anna").get("/trash").json()["documents"]]
    assert delete(stack, document_id).json()["error"]["code"] == "already_in_trash"

    restored = stack.api("anna").post(f"/documents/{document_id}/restore")
    assert restored.status_code == 200 and restored.json()["trashed_at"] is None, restored.text
    assert document_id in listed(stack, customer) and hits(stack, word) == [document_id]

    assert delete(stack, document_id).status_code == 200
    dry = stack.cli("retention", "purge-trash", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert document_id in {p["document_id"] for p in json.loads(dry.stdout)["planned"]}
    assert stack.api("anna").get(f"/documents/{document_id}").status_code == 200  # dry run: still there
    purged = stack.cli("retention", "purge-trash", "--json")
    assert purged.returncode == 0, purged.stdout + purged.stderr
    run = json.loads(purged.stdout)
    assert item(run, document_id)["status"] == "deleted"
    deletion = assert_gone(stack, body, word)
    assert deletion["reason"] == "trash_expired" and deletion["trashed_at"]


def delete_a_version(stack: Stack) -> None:
    """An older version of an unretained document is deleted at once; the latest alone is refused."""
    customer = new_customer(stack)
    word = f"Versionen{uuid.uuid4().hex[:8]}"
    body = upload(stack, customer, UNRETAINED, word)
    document_id = body["id"]
    api = stack.api("anna")
    second = api.post(f"/documents/{document_id}/versions",
                      files={"file": ("v2.pdf", make_pdf([UNRETAINED, f"Suchwort {word}", "Version 2"]))})
    assert second.status_code == 202, second.text
    api.wait(document_id, version=2)

    latest = delete(stack, document_id, version=2)
    assert latest.status_code == 409 and latest.json()["error"]["code"] == "latest_version"
    older = delete(stack, document_id, version=1)
    assert older.status_code == 200 and older.json()["outcome"] == "version_deleted", older.text
    assert api.get(f"/documents/{document_id}/content", params={"version": 1}).status_code == 404
    assert [v["number"] for v in api.get(f"/documents/{document_id}").json()["versions"]] == [2]
    assert api.get(f"/documents/{document_id}/content").status_code == 200
    assert not [left for left in stack.leftovers(document_id) if "/v1/" in left]
    assert hits(stack, word) == [document_id]


def retention_hold_sweep_and_approval(stack: Stack) -> None:
    """Retained: refused with the date; after expiry the sweep (approved by a second admin)
    deletes every trace and writes the record; a legal hold keeps a document past its expiry."""
    customer, held_customer = new_customer(stack), new_customer(stack)
    words = {name: f"{name}{uuid.uuid4().hex[:8]}" for name in ("frei", "gehalten", "kundenhold")}
    free = upload(stack, customer, RETAINED, words["frei"], wait_archived=True)
    refused = delete(stack, free["id"])
    if datetime.now(UTC) < until(free):  # (always, unless the request took the whole retention)
        assert refused.status_code == 409, refused.text
        error = refused.json()["error"]
        assert error["code"] == "retention_active"
        assert datetime.fromisoformat(error["deletable_from"]) == until(free)
        assert error["deletable_from_text"] in error["message"]
        cli = stack.cli("retention", "delete", free["id"])
        assert cli.returncode == 1 and "retention_active" in cli.stderr and "deletable_from" in cli.stderr

    held = upload(stack, customer, RETAINED, words["gehalten"], wait_archived=True)
    by_customer = upload(stack, held_customer, RETAINED, words["kundenhold"], wait_archived=True)
    set_hold(stack, on=True, document_id=held["id"])
    set_hold(stack, on=True, customer=held_customer)
    wait_past(max(until(free), until(held), until(by_customer)))

    for body, where in ((held, "document"), (by_customer, "customer")):
        response = delete(stack, body["id"])
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "legal_hold_active"
        assert response.json()["error"]["legal_hold"] == where

    dry = stack.cli("retention", "sweep", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    planned = {p["document_id"] for p in json.loads(dry.stdout)["planned"]}
    assert free["id"] in planned and not planned & {held["id"], by_customer["id"]}
    assert stack.api("anna").get(f"/documents/{free['id']}").status_code == 200  # a dry run deletes nothing

    started = stack.api("anna").post("/retention/runs")
    assert started.status_code == 201, started.text
    run = started.json()
    assert run["status"] == "awaiting_approval" and run["created_by"] == "anna"
    assert free["id"] in {p["document_id"] for p in run["planned"]}
    assert stack.api("anna").get(f"/documents/{free['id']}").status_code == 200  # not before approval

    approve = f"/retention/runs/{run['id']}/approve"
    same = stack.api("anna").post(approve)
    assert same.status_code == 403 and same.json()["error"]["code"] == "second_admin_required"
    token = stack.api("token").post(approve)
    assert token.status_code == 403 and token.json()["error"]["code"] == "approver_not_admin"
    clerk = stack.api("carl").post(approve)
    assert clerk.status_code == 403
    cli_same = stack.cli("retention", "approve", run["id"], "--user", "anna")
    assert cli_same.returncode == 1 and "second_admin_required" in cli_same.stderr
    approved = stack.api("bert").post(approve)
    assert approved.status_code == 200, approved.text
    assert approved.json()["approved_by"] == "bert"
    again = stack.api("bert").post(approve)
    assert again.status_code == 409 and again.json()["error"]["code"] == "run_not_awaiting_approval", again.text
    done = wait_run(stack, run["id"])
    assert done["status"] == "done", done
    deleted = item(done, free["id"])
    assert deleted["status"] == "deleted" and deleted["record_key"] == f"deletions/{free['id']}.json"

    deletion = assert_gone(stack, free, words["frei"])
    assert deletion["approved_by"] == "bert" and deletion["requested_by"] == "anna"
    assert deletion["reason"] == "retention_expired" and deletion["run_id"] == run["id"]
    assert deletion["policy"]["class"] == RETAINED and deletion["policy"]["seconds"] == RETENTION_SECONDS
    assert datetime.fromisoformat(deletion["archived_until"]) == until(free)
    runs = stack.cli("retention", "runs", "--json")
    assert run["id"] in {json.loads(line)["id"] for line in runs.stdout.splitlines()}

    for body, word in ((held, words["gehalten"]), (by_customer, words["kundenhold"])):  # held: all still there
        assert stack.api("anna").get(f"/documents/{body['id']}").status_code == 200
        assert hits(stack, word) == [body["id"]]
        assert any("/original" in left for left in stack.leftovers(body["id"]))

    set_hold(stack, on=False, document_id=held["id"])
    set_hold(stack, on=False, customer=held_customer)
    swept = stack.cli("retention", "sweep", "--json", approval=False)
    assert swept.returncode == 0, swept.stdout + swept.stderr
    final = json.loads(swept.stdout)
    assert final["status"] == "done" and final["approved_by"] is None
    for body, word in ((held, words["gehalten"]), (by_customer, words["kundenhold"])):
        assert item(final, body["id"])["status"] == "deleted"
        assert_gone(stack, body, word)


def environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("DMS_")}
