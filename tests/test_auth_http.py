"""DMS_AUTH_MODE=users against a real `dms serve`: every route of the app, every kind of caller.

The table below says which permission each route needs; a route the app has and the table
does not fails `test_the_table_covers_every_route`, so a new endpoint is classified here first.
"""

from __future__ import annotations

import base64
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from dms.config import Settings
from dms.identity.roles import PERMISSIONS
from tests.docgen import make_pdf
from tests.live import LiveServer, free_port

PUBLIC = "public"  # no credential needed
ANY = "authenticated"  # any valid credential

REQUIRED: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/health"): PUBLIC,
    ("GET", "/api/v1/openapi.json"): PUBLIC,  # the API's description, like the README
    ("GET", "/api/docs"): PUBLIC,  # the page rendering it (loads the document before any credential)
    ("GET", "/api/v1/config"): ANY,
    ("POST", "/api/v1/customers"): "customers:write",
    ("GET", "/api/v1/customers"): "customers:read",
    ("GET", "/api/v1/customers/next-number"): "customers:read",
    ("GET", "/api/v1/customers/attributes"): "customers:read",  # custom attributes, statuses, … (issue 14)
    ("POST", "/api/v1/customers/import"): "customers:write",  # import and export (issue #14)
    ("GET", "/api/v1/customers/import/template"): "customers:read",
    ("GET", "/api/v1/customers/export"): "customers:read",
    ("GET", "/api/v1/customers/<>"): "customers:read",
    ("PATCH", "/api/v1/customers/<>"): "customers:write",
    ("PUT", "/api/v1/customers/<>"): "customers:write",
    ("GET", "/api/v1/customers/<>/file"): "documents:read",
    ("POST", "/api/v1/customers/<>/merge"): "admin",  # merging customers (issue #14): cannot be undone
    ("GET", "/api/v1/customers/<>/gdpr-report"): "audit:read",  # GDPR (issue #12): it shows the audit trail
    ("POST", "/api/v1/customers/<>/erasure"): "admin",
    ("GET", "/api/v1/customers/<>/erasure"): "audit:read",
    ("POST", "/api/v1/documents"): "documents:write",
    ("POST", "/api/v1/documents/batch"): "documents:write",
    ("GET", "/api/v1/documents"): "documents:read",
    ("GET", "/api/v1/documents/<>"): "documents:read",
    ("PATCH", "/api/v1/documents/<>"): "documents:write",
    ("GET", "/api/v1/documents/<>/content"): "documents:read",
    ("GET", "/api/v1/documents/<>/preview"): "documents:read",
    ("GET", "/api/v1/documents/<>/thumbnail"): "documents:read",
    ("GET", "/api/v1/documents/<>/status"): "documents:read",
    ("POST", "/api/v1/documents/<>/versions"): "documents:write",
    ("GET", "/api/v1/search"): "documents:read",
    ("GET", "/api/v1/webhooks/deliveries"): "admin",  # webhooks (issue #10): admin only
    ("GET", "/api/v1/audit"): "audit:read",
    ("GET", "/api/v1/mail/messages"): "documents:read",  # email-in (issue #11)
    ("GET", "/api/v1/mail/messages/<>"): "documents:read",
    ("GET", "/api/v1/mail/quarantine"): "admin",  # the quarantine: admin only, reading included
    ("GET", "/api/v1/mail/quarantine/<>/raw"): "admin",
    ("POST", "/api/v1/mail/quarantine/<>/release"): "admin",
    ("DELETE", "/api/v1/mail/quarantine/<>"): "admin",
    ("DELETE", "/api/v1/documents/<>"): "admin",  # deleting (issue #12): admin only
    ("POST", "/api/v1/documents/<>/restore"): "admin",
    ("GET", "/api/v1/trash"): "admin",
    ("POST", "/api/v1/retention/runs"): "admin",
    ("GET", "/api/v1/retention/runs"): "audit:read",
    ("GET", "/api/v1/retention/runs/<>"): "audit:read",
    ("POST", "/api/v1/retention/runs/<>/approve"): "admin",
    ("POST", "/api/v1/documents/<>/legal-hold"): "admin",  # legal hold (issue #12): admin only
    ("DELETE", "/api/v1/documents/<>/legal-hold"): "admin",
    ("POST", "/api/v1/customers/<>/legal-hold"): "admin",
    ("DELETE", "/api/v1/customers/<>/legal-hold"): "admin",
    ("GET", "/api/v1/customers/<>/timeline"): "customers:read",  # timeline and follow-ups (issue #14)
    ("POST", "/api/v1/customers/<>/notes"): "customers:write",
    ("PATCH", "/api/v1/customers/<>/notes/<>"): "customers:write",
    ("GET", "/api/v1/followups"): "customers:read",
}
WRITES = {"POST", "PATCH", "PUT", "DELETE"}
PASSWORD = "ein-sehr-geheimes-passwort"


def shape(path: str) -> str:
    return re.sub(r"<[^>]+>", "<>", path)


def app_routes(tmp_path: Path) -> list[tuple[str, str]]:
    """(method, rule) of every API route of the real app."""
    from dms.web import create_app

    app = create_app(Settings.from_env({"DMS_DATA_DIR": str(tmp_path)}))
    try:
        return sorted(
            (method, rule.rule)
            for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")
            for method in rule.methods or () if method not in ("HEAD", "OPTIONS")
        )
    finally:
        app.extensions["dms"].close()


@dataclass
class Stack:
    server: LiveServer
    data_dir: Path
    routes: list[tuple[str, str]]
    tokens: dict[str, str] = field(default_factory=dict)
    customer: str = ""
    document: str = ""

    def url(self, rule: str) -> str:
        path = re.sub(r"<(?:\w+:)?number>", self.customer, rule)
        path = re.sub(r"<(?:\w+:)?(?:document_|mail_|run_|note_)?id>", self.document, path)  # no such mail: 404
        assert "<" not in path, f"no sample value for {rule}"
        return self.server.url + path

    def call(self, method: str, rule: str, auth: str | None = None) -> requests.Response:
        headers = {"Authorization": auth} if auth else {}
        body: dict = {"json": {}} if method in WRITES and "/documents" not in rule else {}
        return requests.request(method, self.url(rule), headers=headers, timeout=60, **body)


def bearer(token: str) -> str:
    return f"Bearer {token}"


def basic(user: str, password: str = PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _repository(data_dir: Path):
    from dms.app.services import open_catalog
    from dms.identity.repository import IdentityRepository

    return IdentityRepository.for_catalog(open_catalog(Settings.from_env({"DMS_DATA_DIR": str(data_dir)})))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("auth")
    data = base / "data"
    data.mkdir()
    identity = _repository(data)
    for name, role in (("anna", "admin"), ("bernd", "clerk"), ("carla", "auditor"), ("dora", "clerk")):
        identity.add_user(name, role)
        identity.set_password(name, PASSWORD)
    identity.add_user("emil", "clerk")  # never got a password
    identity.set_active("dora", False)
    tokens = {"admin": identity.create_token("root", ["admin"])[1]}
    for permission in PERMISSIONS:
        if permission == "admin":
            continue
        tokens[f"only {permission}"] = identity.create_token(f"only-{permission.replace(':', '-')}", [permission])[1]
        others = [p for p in PERMISSIONS if p not in (permission, "admin")]
        tokens[f"all but {permission}"] = identity.create_token(f"not-{permission.replace(':', '-')}", others)[1]
    # admin-only routes (webhook deliveries): every permission but admin, and admin alone
    tokens["all but admin"] = identity.create_token("not-admin", [p for p in PERMISSIONS if p != "admin"])[1]
    tokens["only admin"] = tokens["admin"]
    past = datetime.now(UTC) - timedelta(seconds=1)
    tokens["expired"] = identity.create_token("expired", ["admin"], expires_at=past)[1]
    tokens["revoked"] = identity.create_token("revoked", ["admin"])[1]
    identity.revoke_token("revoked")
    identity.engine.dispose()

    server = LiveServer(data, env={"DMS_AUTH_MODE": "users"})
    try:
        server.start()
        found = Stack(server, data, app_routes(base / "routes"), tokens)
        admin = {"Authorization": bearer(tokens["admin"])}
        created = requests.post(server.url + "/api/v1/customers", json={"name": "Rechte GmbH"}, headers=admin,
                                timeout=60)
        assert created.status_code == 201, created.text
        found.customer = created.json()["number"]
        pdf = make_pdf(["Rechnung", f"Kundennummer {found.customer}", "Rechteprobe"])
        uploaded = requests.post(server.url + "/api/v1/documents", files={"file": ("r.pdf", pdf)}, headers=admin,
                                 timeout=60)
        assert uploaded.status_code == 202, uploaded.text
        found.document = uploaded.json()["id"]
        yield found
    finally:
        server.stop()


def test_the_table_covers_every_route(stack: Stack) -> None:
    assert {(method, shape(rule)) for method, rule in stack.routes} == set(REQUIRED)


def test_no_credential_is_401_with_a_challenge(stack: Stack) -> None:
    for method, rule in stack.routes:
        response = stack.call(method, rule)
        if REQUIRED[(method, shape(rule))] == PUBLIC:
            assert response.status_code == 200, (method, rule, response.text)
            continue
        assert response.status_code == 401, (method, rule, response.status_code, response.text)
        assert response.json()["error"]["code"] == "unauthorized"
        challenge = response.headers.get("WWW-Authenticate", "")
        assert "Bearer" in challenge and "Basic" in challenge, (method, rule, challenge)


@pytest.mark.parametrize(
    "auth",
    [
        "Bearer ", "Bearer nonsense", "Bearer dms_000000000000_" + "0" * 64, "Basic !!!", "Basic " + "x" * 5000,
        "Digest username=anna", basic("anna", "falsches-passwort"), basic("niemand"), basic("dora"), basic("emil"),
        basic("anna", ""), "Basic " + base64.b64encode(b"anna").decode(),
    ],
    ids=[
        "empty-bearer", "bad-token", "unknown-token", "bad-base64", "too-long", "other-scheme", "wrong-password",
        "unknown-user", "disabled-user", "no-password-set", "empty-password", "no-colon",
    ],
)
def test_invalid_credentials_are_401(stack: Stack, auth: str) -> None:
    response = stack.call("GET", "/api/v1/customers", auth)
    assert response.status_code == 401, response.text
    assert "WWW-Authenticate" in response.headers


def test_a_token_with_the_right_id_and_a_wrong_secret_is_401(stack: Stack) -> None:
    token = stack.tokens["admin"]
    forged = token[:-4] + ("0000" if not token.endswith("0000") else "1111")
    assert stack.call("GET", "/api/v1/customers", bearer(forged)).status_code == 401
    assert stack.call("GET", "/api/v1/customers", bearer(token)).status_code == 200


def test_revoked_and_expired_tokens_are_401(stack: Stack) -> None:
    for name, reason in (("revoked", "widerrufen"), ("expired", "abgelaufen")):
        response = stack.call("GET", "/api/v1/config", bearer(stack.tokens[name]))
        assert response.status_code == 401, response.text
        assert reason in response.json()["error"]["message"]
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_revoking_a_token_takes_effect_at_once(stack: Stack) -> None:
    env = {**os.environ, "DMS_DATA_DIR": str(stack.data_dir)}
    cli = [sys.executable, "-m", "dms.cli", "tokens"]
    token = subprocess.run([*cli, "create", "--name", "kurzlebig", "--scope", "customers:read"], env=env,
                           capture_output=True, text=True, check=True, timeout=120).stdout.strip()
    assert stack.call("GET", "/api/v1/customers", bearer(token)).status_code == 200
    subprocess.run([*cli, "revoke", "kurzlebig"], env=env, check=True, capture_output=True, timeout=120)
    assert stack.call("GET", "/api/v1/customers", bearer(token)).status_code == 401


def test_a_token_without_the_scope_is_403_naming_it(stack: Stack) -> None:
    for method, rule in stack.routes:
        needed = REQUIRED[(method, shape(rule))]
        if needed in (PUBLIC, ANY):
            continue
        response = stack.call(method, rule, bearer(stack.tokens[f"all but {needed}"]))
        assert response.status_code == 403, (method, rule, response.status_code, response.text)
        error = response.json()["error"]
        assert error["missing_permission"] == needed and needed in error["message"], error


def test_a_token_with_the_scope_gets_through(stack: Stack) -> None:
    for method, rule in stack.routes:
        needed = REQUIRED[(method, shape(rule))]
        token = stack.tokens["only customers:read" if needed in (PUBLIC, ANY) else f"only {needed}"]
        response = stack.call(method, rule, bearer(token))
        assert response.status_code not in (401, 403), (method, rule, response.status_code, response.text)


@pytest.mark.parametrize("user", ["anna", "bernd"])
def test_admins_and_clerks_get_through_everywhere(stack: Stack, user: str) -> None:
    """… except that a clerk may not read the audit trail (403 naming audit:read)."""
    for method, rule in stack.routes:
        response = stack.call(method, rule, basic(user))
        if user == "bernd" and REQUIRED[(method, shape(rule))] in ("audit:read", "admin"):  # admin: webhooks
            assert response.status_code == 403, (method, rule, response.status_code, response.text)
            assert response.json()["error"]["missing_permission"] == REQUIRED[(method, shape(rule))]
            continue
        assert response.status_code not in (401, 403), (user, method, rule, response.status_code, response.text)


def test_an_auditor_reads_everything_and_writes_nothing(stack: Stack) -> None:
    for method, rule in stack.routes:
        response = stack.call(method, rule, basic("carla"))
        if REQUIRED[(method, shape(rule))] == "admin":  # webhook deliveries: admin only, reading included
            assert response.status_code == 403, (method, rule, response.status_code, response.text)
            assert response.json()["error"]["missing_permission"] == "admin"
            continue
        if method in WRITES:
            assert response.status_code == 403, (method, rule, response.status_code, response.text)
            error = response.json()["error"]
            needed = REQUIRED[(method, shape(rule))]
            assert error["missing_permission"] == needed and "auditor" in error["message"], error
            assert error["roles_with_permission"] == ["admin", "clerk"]
        else:
            assert response.status_code not in (401, 403), (method, rule, response.status_code, response.text)


def test_use_is_recorded(stack: Stack) -> None:
    token = stack.tokens["only customers:write"]
    response = stack.call("POST", "/api/v1/customers", bearer(token))
    assert response.status_code == 400  # got past authorisation; the empty body is refused
    created = requests.post(stack.server.url + "/api/v1/customers", json={"name": "Token GmbH"},
                            headers={"Authorization": bearer(token)}, timeout=60)
    assert created.status_code == 201, created.text
    assert stack.call("GET", "/api/v1/customers", basic("bernd")).status_code == 200
    with sqlite3.connect(stack.data_dir / "catalog.db") as conn:
        [(last_used,)] = conn.execute("SELECT last_used_at FROM api_tokens WHERE name = 'only-customers-write'")
        [(last_login,)] = conn.execute("SELECT last_login_at FROM users WHERE username = 'bernd'")
        actors = {a for (a,) in conn.execute("SELECT actor FROM audit_log WHERE action = 'customer.create'")}
    assert last_used and last_login
    assert "token:only-customers-write" in actors


@pytest.mark.parametrize("mode", ["", "local", "bogus"])
def test_local_mode_refuses_to_listen_beyond_loopback(tmp_path: Path, mode: str) -> None:
    env = {key: value for key, value in os.environ.items() if key != "DMS_AUTH_MODE"}
    env["DMS_DATA_DIR"] = str(tmp_path / "data")
    if mode:
        env["DMS_AUTH_MODE"] = mode
    result = subprocess.run(
        [sys.executable, "-m", "dms.cli", "serve", "--host", "0.0.0.0", "--port", str(free_port())],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "DMS_AUTH_MODE" in result.stderr and "läuft auf" not in result.stdout


def test_listen_check() -> None:
    from dms.errors import ValidationError
    from dms.web.auth import check_listen_address

    for host in ("127.0.0.1", "::1", "[::1]", "localhost", "127.0.0.2"):
        check_listen_address(host, "local")
    for host in ("0.0.0.0", "::", "192.168.1.10", "example.invalid"):
        with pytest.raises(ValidationError, match="DMS_AUTH_MODE"):
            check_listen_address(host, "local")
        check_listen_address(host, "users")
