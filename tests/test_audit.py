"""The audit trail (issue #10) against a real `dms serve` in DMS_AUTH_MODE=users, on embedded
defaults and on the real servers: reads and changes appear with actor, IP, user agent and
request id; 401 and 403 are recorded; only `audit:read` may read the trail. `dms audit verify`
finds an altered, a removed and a forged entry in the database itself."""

from __future__ import annotations

import base64
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from dms.catalog import Catalog, migrate
from dms.catalog.audit import verify_chain
from dms.catalog.audit_chain import GENESIS, entry_hash
from dms.catalog.models import AuditRow
from tests.docgen import make_pdf
from tests.live import TERMINAL, LiveServer, Worker

PASSWORD = "ein-sehr-geheimes-passwort"
USER_AGENT = "audit-probe/1.0"
WRITE_SCOPES = ("customers:read", "customers:write", "documents:read", "documents:write")


def basic(user: str, password: str = PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dms.cli", *args], env=env, input=stdin, capture_output=True,
                          text=True, timeout=180)


@dataclass
class Stack:
    server: LiveServer
    token: str
    customer: str = ""
    document: str = ""
    request_ids: dict[str, str] = field(default_factory=dict)

    def call(self, method: str, path: str, auth: str | None = None, *, request_id: str | None = None,
             **kw: Any) -> requests.Response:
        headers = {"User-Agent": USER_AGENT, "Authorization": auth or f"Bearer {self.token}"}
        if request_id:
            headers["X-Request-Id"] = request_id
        response = requests.request(method, self.server.url + "/api/v1" + path, headers=headers, timeout=60, **kw)
        if request_id:
            assert response.headers["X-Request-Id"] == request_id
        return response

    def trail(self, auth: str | None = None, **params: str) -> list[dict[str, Any]]:
        """Every entry matching `params`, following the cursor (as the auditor by default)."""
        entries: list[dict[str, Any]] = []
        cursor = ""
        while True:
            response = self.call("GET", "/audit", auth or basic("carla"), params={**params, "limit": "50",
                                                                                  "cursor": cursor})
            assert response.status_code == 200, response.text
            body = response.json()
            entries += body["entries"]
            if body["next_cursor"] is None:
                return entries
            cursor = str(body["next_cursor"])

    def by_request(self, request_id: str) -> dict[str, Any]:
        found = [e for e in self.trail() if e["request_id"] == request_id]
        assert len(found) == 1, (request_id, found)
        return found[0]


@pytest.fixture(scope="module", params=["embedded", pytest.param("server", marks=pytest.mark.servers)])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp(f"audit-{request.param}")
    env = {"DMS_AUTH_MODE": "users"}
    if request.param == "server":
        from tests.server_env import isolated_env

        env.update(isolated_env(request.getfixturevalue("real_servers").env(), "audit"))
    server = LiveServer(base / "data", env=env)
    server.data_dir.mkdir(parents=True)
    for name, role in (("anna", "admin"), ("bernd", "clerk"), ("carla", "auditor")):
        assert cli(server.env, "users", "add", name, "--role", role).returncode == 0
        assert cli(server.env, "users", "passwd", name, stdin=PASSWORD + "\n").returncode == 0
    created = cli(server.env, "tokens", "create", "--name", "erp", *(f"--scope={s}" for s in WRITE_SCOPES))
    assert created.returncode == 0, created.stderr
    worker = None
    try:
        server.start()
        if request.param == "server":
            worker = Worker(server.env, base / "worker.log").start()
        yield Stack(server, created.stdout.strip())
    finally:
        if worker is not None:
            worker.stop()
        server.stop()


@pytest.fixture(scope="module")
def used(stack: Stack) -> Stack:
    """A customer and a document, with every read and change of the test done once, each with its
    own request id (as the token `erp`)."""
    ids = stack.request_ids
    for name in ("create", "upload", "open", "content", "preview", "file", "search", "update", "refile"):
        ids[name] = f"{name}-{uuid.uuid4().hex[:8]}"
    created = stack.call("POST", "/customers", request_id=ids["create"], json={"name": "Protokoll GmbH"})
    assert created.status_code == 201, created.text
    stack.customer = created.json()["number"]
    pdf = make_pdf(["Rechnung", f"Kundennummer {stack.customer}", "Zitronenfalter Protokollprobe"])
    uploaded = stack.call("POST", "/documents", request_id=ids["upload"], files={"file": ("r.pdf", pdf)},
                          data={"customer_number": stack.customer})
    assert uploaded.status_code == 202, uploaded.text
    stack.document = uploaded.json()["id"]
    for _ in range(600):  # polled as anna: the token's reads stay countable
        status = stack.call("GET", f"/documents/{stack.document}", basic("anna")).json()["status"]
        if status in TERMINAL:
            break
        time.sleep(0.2)
    assert status == "filed", status
    doc = f"/documents/{stack.document}"
    assert stack.call("GET", doc, request_id=ids["open"]).status_code == 200
    assert stack.call("GET", doc + "/content", request_id=ids["content"]).status_code == 200
    assert stack.call("GET", doc + "/preview", request_id=ids["preview"]).status_code == 200
    assert stack.call("GET", f"/customers/{stack.customer}/file", request_id=ids["file"]).status_code == 200
    searched = stack.call("GET", "/search", request_id=ids["search"],
                          params={"q": "Zitronenfalter", "customer": stack.customer})
    assert searched.status_code == 200 and searched.json()["total"] >= 0
    assert stack.call("PATCH", f"/customers/{stack.customer}", request_id=ids["update"],
                      json={"name": "Protokoll AG", "tags": ["vip"]}).status_code == 200
    assert stack.call("PATCH", doc, request_id=ids["refile"], json={"title": "Rechnung März"}).status_code == 200
    return stack


EXPECTED = {  # request → action, and whether it concerns the document (else only the customer)
    "create": ("customer.create", False), "upload": ("document.upload", True), "open": ("document.read", True),
    "content": ("document.download", True), "preview": ("document.preview", True), "file": ("file.read", False),
    "search": ("search", False), "update": ("customer.update", False), "refile": ("document.refile", True),
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_each_read_and_change_is_in_the_trail(used: Stack, name: str) -> None:
    entry = used.by_request(used.request_ids[name])
    action, about_document = EXPECTED[name]
    assert entry["action"] == action
    assert entry["actor"] == "token:erp"
    assert entry["ip"] == "127.0.0.1" and entry["user_agent"] == USER_AGENT
    assert entry["customer_number"] == used.customer
    assert entry["document_id"] == (used.document if about_document else None)
    assert len(entry["hash"]) == 64 and len(entry["prev_hash"]) == 64
    if name in ("upload", "content", "preview"):
        assert entry["version"] == 1


def test_changes_carry_old_and_new_values(used: Stack) -> None:
    update = used.by_request(used.request_ids["update"])["details"]
    assert update["old"] == {"name": "Protokoll GmbH", "tags": []}
    assert update["new"] == {"name": "Protokoll AG", "tags": ["vip"]}
    refile = used.by_request(used.request_ids["refile"])["details"]
    assert refile["new"]["title"] == "Rechnung März" and refile["old"]["title"] != "Rechnung März"
    assert "customer_number" not in refile["new"]  # unchanged fields are not listed


def test_filters_by_customer_document_actor_and_action(used: Stack) -> None:
    about_document = used.trail(document=used.document)
    assert {e["document_id"] for e in about_document} == {used.document}
    assert {"document.upload", "document.read", "document.download", "document.preview", "document.refile"} <= {
        e["action"] for e in about_document
    }
    assert {e["customer_number"] for e in used.trail(customer=used.customer)} == {used.customer}
    assert {e["actor"] for e in used.trail(actor="token:erp")} == {"token:erp"}
    downloads = used.trail(action="document.download", document=used.document)
    assert [e["request_id"] for e in downloads] == [used.request_ids["content"]]


def test_a_request_without_an_id_gets_one(used: Stack) -> None:
    response = used.call("GET", f"/customers/{used.customer}")
    generated = response.headers["X-Request-Id"]
    assert response.status_code == 200 and len(generated) >= 16
    assert used.by_request(generated)["action"] == "customer.read"
    hostile = requests.get(used.server.url + f"/api/v1/customers/{used.customer}", timeout=60,
                           headers={"Authorization": f"Bearer {used.token}", "X-Request-Id": "x" * 500})
    assert hostile.headers["X-Request-Id"] != "x" * 500


def test_a_failed_login_is_recorded(used: Stack) -> None:
    rid = f"login-{uuid.uuid4().hex[:8]}"
    response = used.call("GET", "/customers", basic("bernd", "falsch"), request_id=rid)
    assert response.status_code == 401
    entry = used.by_request(rid)
    assert entry["action"] == "auth.failed" and entry["actor"] == "anonymous"
    assert entry["details"]["claimed"] == "bernd" and entry["details"]["status"] == 401
    assert entry["ip"] == "127.0.0.1" and entry["user_agent"] == USER_AGENT


def test_a_refused_request_is_recorded(used: Stack) -> None:
    rid = f"refused-{uuid.uuid4().hex[:8]}"
    response = used.call("GET", f"/customers/{used.customer}/file", basic("carla"), request_id=rid)
    assert response.status_code == 200  # an auditor may read the file …
    response = used.call("PATCH", f"/customers/{used.customer}", basic("carla"), request_id=rid + "w",
                         json={"name": "Auditor AG"})
    assert response.status_code == 403  # … but not change it
    entry = used.by_request(rid + "w")
    assert entry["action"] == "access.denied" and entry["actor"] == "carla"
    assert entry["details"]["missing_permission"] == "customers:write"
    assert entry["customer_number"] == used.customer


def test_only_audit_read_may_read_the_trail(used: Stack) -> None:
    rid = f"clerk-{uuid.uuid4().hex[:8]}"
    response = used.call("GET", "/audit", basic("bernd"), request_id=rid)
    assert response.status_code == 403, response.text
    assert response.json()["error"]["missing_permission"] == "audit:read"
    assert used.call("GET", "/audit", request_id=rid + "t").status_code == 403  # the token lacks the scope
    denied = used.by_request(rid)
    assert denied["action"] == "access.denied" and denied["actor"] == "bernd"
    assert used.call("GET", "/audit", basic("anna")).status_code == 200  # admin
    assert used.call("GET", "/audit", basic("carla")).status_code == 200  # auditor


def test_reading_the_trail_is_recorded(used: Stack) -> None:
    rid = f"read-{uuid.uuid4().hex[:8]}"
    response = used.call("GET", "/audit", basic("carla"), request_id=rid, params={"action": "search", "limit": "5"})
    assert response.status_code == 200
    entry = used.by_request(rid)
    assert entry["action"] == "audit.read" and entry["actor"] == "carla"
    assert entry["details"]["filters"] == {"action": "search"}


def test_pages_are_newest_first_without_gaps(used: Stack) -> None:
    first = used.call("GET", "/audit", basic("carla"), params={"limit": "3"}).json()
    second = used.call("GET", "/audit", basic("carla"), params={"limit": "3", "cursor": first["next_cursor"]}).json()
    ids = [e["id"] for e in first["entries"] + second["entries"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 6
    assert first["next_cursor"] == first["entries"][-1]["id"]
    assert used.call("GET", "/audit", basic("carla"), params={"from": "gestern"}).status_code == 400


def test_the_chain_of_the_live_trail_verifies(used: Stack) -> None:
    result = cli(used.server.env, "audit", "verify")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "intakt" in result.stdout


# --- tampering in the database itself ----------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.servers)])
def tamper_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[dict[str, str], Catalog]]:
    """A catalog with 6 entries, and the environment for `dms audit verify` on it."""
    import os

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'catalog.db'}"
    else:
        from tests.server_env import fresh_postgres_database, unique

        server_url = request.getfixturevalue("real_servers").env()["DMS_DATABASE_URL"]
        url = fresh_postgres_database(server_url, unique("tamper").replace("-", "_"))
    migrate.upgrade(url)
    catalog = Catalog(url)
    for n in range(6):
        catalog.audit.record("anna", "document.download", "document", f"doc-{n}", version=1, ip="10.1.1.1")
    env = {key: value for key, value in os.environ.items() if not key.startswith("DMS_")}
    env.update({"DMS_DATA_DIR": str(tmp_path / "data"), "DMS_DATABASE_URL": url})
    try:
        yield env, catalog
    finally:
        catalog.close()


def _verify(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return cli(env, "audit", "verify")


def _ids(catalog: Catalog) -> list[int]:
    return [row["id"] for row in catalog.audit.rows()]


def test_verify_passes_on_an_intact_chain(tamper_env: tuple[dict[str, str], Catalog]) -> None:
    env, _catalog = tamper_env
    result = _verify(env)
    assert result.returncode == 0, result.stderr
    assert "intakt: 6 Einträge" in result.stdout


def test_verify_names_an_altered_entry(tamper_env: tuple[dict[str, str], Catalog]) -> None:
    env, catalog = tamper_env
    target = _ids(catalog)[3]
    with catalog.engine.begin() as conn:
        conn.execute(sa.update(AuditRow).where(AuditRow.id == target).values(details={"harmlos": True}))
    result = _verify(env)
    assert result.returncode == 1, result.stdout
    assert f"Eintrag {target}:" in result.stderr and "verändert" in result.stderr


def test_verify_names_a_removed_entry(tamper_env: tuple[dict[str, str], Catalog]) -> None:
    env, catalog = tamper_env
    ids = _ids(catalog)
    with catalog.engine.begin() as conn:
        conn.execute(sa.delete(AuditRow).where(AuditRow.id == ids[2]))
    result = _verify(env)
    assert result.returncode == 1, result.stdout
    assert f"Eintrag {ids[3]}:" in result.stderr and "entfernt" in result.stderr
    assert f"nach Eintrag {ids[1]}" in result.stderr


@pytest.mark.parametrize("forgery", ["made-up hash", "computed hash, made-up link"])
def test_verify_names_a_forged_entry(tamper_env: tuple[dict[str, str], Catalog], forgery: str) -> None:
    env, catalog = tamper_env
    rows = list(catalog.audit.rows())
    forged = {**{k: v for k, v in rows[1].items() if k != "hash"}, "id": rows[-1]["id"] + 1, "actor": "bernd"}
    if forgery == "made-up hash":
        forged.update(prev_hash=rows[-1]["hash"], hash="0" * 63 + "1")
    else:
        forged["prev_hash"] = "a" * 64  # the last entry's hash is the only free link, see below
        forged["hash"] = entry_hash(forged)
    with catalog.engine.begin() as conn:
        conn.execute(sa.insert(AuditRow).values(**forged))
    result = _verify(env)
    assert result.returncode == 1, result.stdout
    assert f"Eintrag {forged['id']}:" in result.stderr
    # the id taken by hand (PostgreSQL's sequence does not know it) does not stop the next entries
    assert catalog.audit.record("anna", "customer.read", "customer", "10001") > forged["id"]


def test_two_entries_cannot_claim_the_same_predecessor(tamper_env: tuple[dict[str, str], Catalog]) -> None:
    """A forged entry in the middle of the chain would need a predecessor already taken."""
    _env, catalog = tamper_env
    rows = list(catalog.audit.rows())
    forged = {**rows[2], "id": rows[-1]["id"] + 1}
    with pytest.raises(sa.exc.IntegrityError), catalog.engine.begin() as conn:
        conn.execute(sa.insert(AuditRow).values(**forged))


# --- how a broken link is named (no database) --------------------------------------------


def _entries(n: int) -> list[dict[str, Any]]:
    from datetime import UTC, datetime

    chain, prev = [], GENESIS
    for i in range(1, n + 1):
        entry = {"id": i, "at": datetime(2026, 12, 1, tzinfo=UTC), "actor": "a", "action": "x", "object_type": "t",
                 "object_id": str(i), "customer_number": None, "document_id": None, "version": None, "ip": None,
                 "user_agent": None, "request_id": None, "details": {}, "prev_hash": prev}
        entry["hash"] = prev = entry_hash(entry)
        chain.append(entry)
    return chain


def test_verify_chain_tells_removed_from_inserted() -> None:
    chain = _entries(5)
    assert verify_chain(iter(chain)).ok
    removed = verify_chain(iter(chain[:2] + chain[3:]))
    assert removed.bad_id == 4 and "entfernt" in (removed.problem or "")
    first_removed = verify_chain(iter(chain[1:]))
    assert first_removed.bad_id == 2 and "am Anfang" in (first_removed.problem or "")
    intruder = {**chain[1], "id": 99, "object_id": "fremd", "prev_hash": chain[1]["hash"]}
    intruder["hash"] = entry_hash(intruder)
    inserted = verify_chain(iter([*chain[:2], intruder, *chain[2:]]))
    assert inserted.bad_id == 99 and "eingefügt" in (inserted.problem or "")
    loose = {**intruder, "prev_hash": "b" * 64}
    loose["hash"] = entry_hash(loose)
    inserted_loose = verify_chain(iter([*chain[:2], loose, *chain[2:]]))
    assert inserted_loose.bad_id == 99 and "eingefügt" in (inserted_loose.problem or "")
