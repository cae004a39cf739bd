"""Branch scoping (issue #14): with `[customers] branch_scoping`, users and tokens see only the
customers of their branches and those customers' documents; anything else is 404 (never 403) in
the API, lists, search and uploads. Head office and `customers:all_branches` see everything.
Through the HTTP API (users mode) and the CLI, on embedded defaults."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from io import BytesIO
from typing import Any

import pytest
from flask import Flask

from dms.app.services import build_services
from dms.config import Settings
from dms.identity.repository import IdentityRepository
from dms.web import create_app
from tests.docgen import make_pdf

CONFIG = """
[customers]
branches = ["Zentrale", "Nord", "Süd"]
branch_scoping = true
head_office_branches = ["Zentrale"]
"""
USERS = {  # name: (role, branches)
    "anna": ("admin", []), "nora": ("clerk", ["Nord"]), "sven": ("clerk", ["Süd"]),
    "zoe": ("clerk", ["Zentrale"]), "paul": ("auditor", ["Nord"]), "otto": ("clerk", []),
}
PASSWORD = "filialen-passwort-2026"
TERMINAL = {"filed", "needs_review", "failed"}


class Client:
    def __init__(self, app: Flask, user: str | None = None, token: str | None = None) -> None:
        self.client = app.test_client()
        credential = f"Bearer {token}" if token else "Basic " + base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()
        self.headers = {"Authorization": credential}

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.client.open("/api/v1" + path, method=method, headers=self.headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.call("POST", path, **kwargs)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("branches")
    config = base / "config.toml"
    config.write_text(CONFIG, encoding="utf-8")
    env = {"DMS_DATA_DIR": str(base / "data"), "DMS_AUTH_MODE": "users", "DMS_CONFIG": str(config)}
    settings = Settings.from_env(env)
    services = build_services(settings, with_queue=False)
    try:
        repository = IdentityRepository.for_catalog(services.catalog)
        for name, (role, branches) in USERS.items():
            repository.add_user(name, role, actor="test", branches=branches)
            repository.set_password(name, PASSWORD, actor="test")
        tokens = {
            "sued": repository.create_token("erp-sued", ["customers:read", "documents:read"], branches=["Süd"])[1],
            "alle": repository.create_token("erp-alle", ["customers:read", "documents:read",
                                                         "customers:all_branches"])[1],
        }
    finally:
        services.close()
    app = create_app(settings)
    app.config["TESTING"] = True
    clients = {name: Client(app, name) for name in USERS}
    clients |= {f"token-{k}": Client(app, token=v) for k, v in tokens.items()}
    nord = _create(clients["nora"], {"name": "Nordlicht GmbH"})
    sued = _create(clients["sven"], {"name": "Südwind AG"})
    document = _upload(clients["nora"], nord["number"], "Zauberwort Quastenflosser")
    try:
        yield {"app": app, "env": env, "c": clients, "nord": nord, "sued": sued, "document": document}
    finally:
        app.extensions["dms"].close()


def _create(api: Client, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post("/customers", json=body)
    assert response.status_code == 201, response.text
    return response.get_json()


def _upload(api: Client, number: str, words: str) -> str:
    pdf = make_pdf(["Rechnung", f"Kundennummer {number}", words])
    response = api.post("/documents", data={"file": (BytesIO(pdf), "rechnung.pdf"), "customer_number": number},
                        content_type="multipart/form-data")
    assert response.status_code == 202, response.text
    document_id = response.get_json()["id"]
    deadline = time.monotonic() + 120
    while api.get(f"/documents/{document_id}/status").get_json()["status"] not in TERMINAL:
        assert time.monotonic() < deadline, "the document was not processed"
        time.sleep(0.1)
    return document_id


def _numbers(response: Any) -> set[str]:
    assert response.status_code == 200, response.text
    return {c["number"] for c in response.get_json()["customers"]}


def test_a_new_customer_gets_the_users_branch_and_no_foreign_one(site: dict[str, Any]) -> None:
    c = site["c"]
    assert site["nord"]["branch"] == "Nord" and site["sued"]["branch"] == "Süd"
    foreign = c["nora"].post("/customers", json={"name": "Fremd KG", "branch": "Süd"})
    assert foreign.status_code == 400 and foreign.get_json()["error"]["code"] == "foreign_branch"
    moved = c["nora"].call("PATCH", f"/customers/{site['nord']['number']}", json={"branch": "Süd"})
    assert moved.status_code == 400 and moved.get_json()["error"]["field"] == "branch"
    nobody = c["otto"].post("/customers", json={"name": "Ohne Filiale"})
    assert nobody.status_code == 400 and nobody.get_json()["error"]["code"] == "no_branch"
    assert _create(c["anna"], {"name": "Zentral GmbH", "branch": "Süd"})["branch"] == "Süd"  # admins: any


def test_another_branchs_customer_is_404_like_an_unknown_one(site: dict[str, Any]) -> None:
    sven, number = site["c"]["sven"], site["nord"]["number"]
    unknown = sven.get("/customers/99999999").get_json()["error"]
    for path in (f"/customers/{number}", f"/customers/{number}/file", f"/customers/{number}/timeline"):
        response = sven.get(path)
        assert response.status_code == 404, (path, response.text)
        assert response.get_json()["error"]["code"] == unknown["code"] == "customer_not_found"
        assert number in response.get_json()["error"]["message"]
    assert sven.call("PATCH", f"/customers/{number}", json={"name": "Gekapert"}).status_code == 404
    assert sven.post(f"/customers/{number}/notes", json={"text": "darf nicht"}).status_code == 404
    assert site["c"]["paul"].get(f"/customers/{site['sued']['number']}/gdpr-report?format=json").status_code == 404
    assert site["c"]["anna"].get(f"/customers/{number}").get_json()["name"] == "Nordlicht GmbH"


def test_another_branchs_documents_are_404_and_cannot_be_filed_there(site: dict[str, Any]) -> None:
    sven, document = site["c"]["sven"], site["document"]
    for path in (f"/documents/{document}", f"/documents/{document}/content", f"/documents/{document}/status",
                 f"/documents/{document}/preview", f"/documents/{document}/thumbnail"):
        response = sven.get(path)
        assert response.status_code == 404, (path, response.status_code)
    assert site["c"]["nora"].get(f"/documents/{document}").status_code == 200
    assert site["c"]["zoe"].get(f"/documents/{document}/content").status_code == 200  # head office
    pdf = make_pdf(["Fremde Akte"])
    upload = sven.post("/documents", data={"file": (BytesIO(pdf), "x.pdf"), "customer_number": site["nord"]["number"]},
                       content_type="multipart/form-data")
    assert upload.status_code == 400 and upload.get_json()["error"]["code"] == "customer_not_found"
    listed = {d["id"] for d in sven.get("/documents").get_json()["documents"]}
    assert document not in listed
    assert document in {d["id"] for d in site["c"]["nora"].get("/documents").get_json()["documents"]}


def test_lists_and_search_leave_other_branches_out(site: dict[str, Any]) -> None:
    c, nord, sued = site["c"], site["nord"]["number"], site["sued"]["number"]
    assert nord not in _numbers(c["sven"].get("/customers")) and sued in _numbers(c["sven"].get("/customers"))
    assert _numbers(c["sven"].get("/customers", query_string={"branch": "Nord"})) == set()
    assert {nord, sued} <= _numbers(c["zoe"].get("/customers"))
    assert {nord, sued} <= _numbers(c["anna"].get("/customers"))
    for user, expected in (("sven", 0), ("nora", 1), ("zoe", 1), ("token-sued", 0), ("token-alle", 1)):
        response = c[user].get("/search", query_string={"q": "Quastenflosser", "facets": "1"})
        assert response.status_code == 200, response.text
        body = response.get_json()
        assert body["total"] == expected, (user, body)
        customers = {value for value, _count in (tuple(f) if isinstance(f, list) else (f["value"], f["count"])
                                                 for f in body["facets"]["customer"])}
        assert (nord in customers) == bool(expected), (user, body["facets"])


def test_tokens_follow_their_branches_or_see_all(site: dict[str, Any]) -> None:
    c, nord, sued = site["c"], site["nord"]["number"], site["sued"]["number"]
    assert c["token-sued"].get(f"/customers/{nord}").status_code == 404
    assert c["token-sued"].get(f"/customers/{sued}").status_code == 200
    assert c["token-alle"].get(f"/customers/{nord}").status_code == 200
    assert c["token-alle"].get(f"/documents/{site['document']}").status_code == 200


def _dms(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dms.cli", *args], env={**os.environ, **env}, text=True,
                          capture_output=True, timeout=120)


def test_branches_of_a_user_are_set_by_the_cli_and_count_at_once(site: dict[str, Any]) -> None:
    env, number = site["env"], site["nord"]["number"]
    assert site["c"]["sven"].get(f"/customers/{number}").status_code == 404
    done = _dms(env, "users", "branches", "sven", "Süd", "Nord")
    assert done.returncode == 0, done.stderr
    assert "Nord, Süd" in done.stdout
    assert site["c"]["sven"].get(f"/customers/{number}").status_code == 200  # the next request
    bad = _dms(env, "users", "branches", "sven", "Atlantis")
    assert bad.returncode == 1 and "Unbekannte Filiale 'Atlantis'" in bad.stderr
    assert _dms(env, "users", "branches", "sven", "Süd").returncode == 0
    assert site["c"]["sven"].get(f"/customers/{number}").status_code == 404
    audit = site["c"]["anna"].get("/audit", query_string={"action": "user.branches"}).get_json()
    changes = [e["details"]["new"]["branches"] for e in audit["entries"] if e["object_id"] == "sven"]
    assert ["Süd"] in changes and ["Nord", "Süd"] in changes
