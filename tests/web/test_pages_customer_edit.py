"""Changing a customer in the web client (Flask's test client, users mode, embedded backends in a temp
folder): the master data form with its ETag (a change made meanwhile is a 412, never overwritten), the
header links of the customer file by role, and the customer's legal hold (admins only)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from dms.app import customers as uc
from dms.app.principal import CLI
from dms.app.services import Services, build_services
from dms.catalog.audit import AuditFilter
from dms.config import Settings
from dms.identity.repository import IdentityRepository
from dms.web import create_app

PASSWORDS = {"anna": "admin-passwort-2026", "clara": "sachbearbeiter-2026", "paul": "pruefer-passwort-2026"}
ROLES = {"anna": "admin", "clara": "clerk", "paul": "auditor"}
EDIT_LINK = '<a href="/kunden/10001/bearbeiten">Stammdaten bearbeiten</a>'
STALE = "Jemand anderes hat diesen Kunden inzwischen geändert."


@pytest.fixture(scope="module")
def template_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with one user per role, made once (hashing passwords takes a while)."""
    data = tmp_path_factory.mktemp("pages-customer-edit") / "data"
    services = build_services(Settings.from_env({"DMS_DATA_DIR": str(data)}), with_queue=False)
    try:
        repository = IdentityRepository.for_catalog(services.catalog)
        for name, password in PASSWORDS.items():
            repository.add_user(name, ROLES[name], actor="test")
            repository.set_password(name, password, actor="test")
    finally:
        services.close()
    return data


@pytest.fixture
def stack(template_dir: Path, tmp_path: Path) -> Iterator[tuple[Flask, Services]]:
    """The app in users mode on its own copy of the data folder, with customer 10001."""
    data = tmp_path / "data"
    shutil.copytree(template_dir, data)
    settings = Settings.from_env({"DMS_DATA_DIR": str(data), "DMS_AUTH_MODE": "users"})
    services = build_services(settings, with_queue=False)
    app = create_app(settings, services=services)
    app.config["TESTING"] = True
    uc.create_customer(services, CLI, {"name": "Bäckerei Sonnenschein", "number": "10001", "kind": "legal",
                                       "status": "Kunde", "tags": ["vip"], "emails": ["info@sonne.example"]})
    try:
        yield app, services
    finally:
        services.close()


class Browser:
    """A signed-in test client that sends the page's CSRF token with every form."""

    def __init__(self, app: Flask, user: str) -> None:
        self.client: FlaskClient = app.test_client()
        response = self.client.post("/login", data={"username": user, "password": PASSWORDS[user], "next": "/"})
        assert response.status_code == 302, response.text
        self.token = re.search(r'name="csrf-token" content="([^"]+)"', self.get("/kunden").text).group(1)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict[str, Any], *, csrf: bool = True) -> Any:
        return self.client.post(path, data={**data, **({"csrf_token": self.token} if csrf else {})})


def _etag(html: str) -> str:
    return unescape(re.search(r'<input type="hidden" name="etag" value="([^"]*)">', html).group(1))


def _audit(services: Services, action: str, actor: str | None = None) -> list[dict[str, Any]]:
    return services.catalog.audit.page(AuditFilter(customer_number="10001", action=action, actor=actor))


FORM = {"name": "Bäckerei Sonnenschein GmbH", "kind": "legal", "status": "Kunde", "tags": "vip, Gewerbe",
        "emails": "info@sonne.example\nbuchhaltung@sonne.example"}


def test_a_clerk_edits_the_master_data_and_the_change_is_audited(stack: tuple[Flask, Services]) -> None:
    app, services = stack
    clerk = Browser(app, "clara")
    assert EDIT_LINK in clerk.get("/kunden/10001").text
    form = clerk.get("/kunden/10001/bearbeiten")
    assert form.status_code == 200
    html = form.text
    for label in ("Name", "Art", "Status", "Tags", "E-Mail-Adressen"):
        assert re.search(rf'<label for="[^"]+">{label}</label>', html), label
    assert re.search(r'id="cust-name"[^>]*value="Bäckerei Sonnenschein"', html)
    assert "<script" not in html.split("</head>", 1)[1] and "style=" not in html
    assert _etag(html) == services.catalog.customers.get("10001").etag
    response = clerk.post("/kunden/10001/bearbeiten", {**FORM, "etag": _etag(html)})
    assert response.status_code == 303 and response.headers["Location"] == "/kunden/10001"
    customer = services.catalog.customers.get("10001")
    assert customer.name == "Bäckerei Sonnenschein GmbH" and customer.tags == ["Gewerbe", "vip"]
    assert customer.emails == ["info@sonne.example", "buchhaltung@sonne.example"]
    assert "Die Stammdaten von Kunde 10001 (Bäckerei Sonnenschein GmbH) wurden gespeichert." in \
        clerk.get("/kunden/10001").text
    [entry] = _audit(services, "customer.update", "clara")
    assert entry["details"]["old"]["name"] == "Bäckerei Sonnenschein"
    assert entry["details"]["new"]["name"] == "Bäckerei Sonnenschein GmbH"


def test_a_stale_form_is_a_412_that_changes_nothing_and_shows_the_current_values(
        stack: tuple[Flask, Services]) -> None:
    app, services = stack
    clerk = Browser(app, "clara")
    stale = _etag(clerk.get("/kunden/10001/bearbeiten").text)
    uc.update_customer(services, CLI, "10001", {"name": "Sonnenschein Backwaren KG"})  # someone else, meanwhile
    meanwhile = services.catalog.customers.get("10001")
    response = clerk.post("/kunden/10001/bearbeiten", {**FORM, "etag": stale})
    assert response.status_code == 412
    html = response.text
    assert 'role="alert"' in html and STALE in html
    assert re.search(r'id="cust-name"[^>]*value="Sonnenschein Backwaren KG"', html)  # the current values
    assert _etag(html) == meanwhile.etag  # saving again now is on the current state
    assert "Ihre nicht gespeicherten Eingaben" in html and "Bäckerei Sonnenschein GmbH" in html
    assert services.catalog.customers.get("10001") == meanwhile
    assert _audit(services, "customer.update", "clara") == []
    for etag in ("", "*"):  # a form without its ETag is never an unconditional change
        assert clerk.post("/kunden/10001/bearbeiten", {**FORM, "etag": etag}).status_code == 412
    assert services.catalog.customers.get("10001") == meanwhile
    again = clerk.post("/kunden/10001/bearbeiten", {**FORM, "etag": _etag(html)})
    assert again.status_code == 303
    assert services.catalog.customers.get("10001").name == "Bäckerei Sonnenschein GmbH"


def test_a_bad_value_shows_the_form_again_with_the_message(stack: tuple[Flask, Services]) -> None:
    app, services = stack
    clerk = Browser(app, "clara")
    etag = _etag(clerk.get("/kunden/10001/bearbeiten").text)
    response = clerk.post("/kunden/10001/bearbeiten", {**FORM, "name": "", "etag": etag})
    assert response.status_code == 422 and 'role="alert"' in response.text
    assert 'aria-invalid="true"' in response.text and _etag(response.text) == etag
    assert "buchhaltung@sonne.example" in response.text  # the values typed are kept
    assert services.catalog.customers.get("10001").name == "Bäckerei Sonnenschein"


def test_an_auditor_gets_no_edit_link_and_a_forged_post_is_refused(stack: tuple[Flask, Services]) -> None:
    app, services = stack
    auditor = Browser(app, "paul")
    html = auditor.get("/kunden/10001").text
    assert "Stammdaten bearbeiten" not in html and 'id="customer-hold"' not in html
    assert '<a href="/kunden/10001/aktivitaet">Aktivität</a>' in html
    assert '<a href="/api/v1/customers/10001/gdpr-report">DSGVO-Auskunft (PDF)</a>' in html
    assert auditor.get("/kunden/10001/bearbeiten").status_code == 403
    before = services.catalog.customers.get("10001")
    forged = auditor.post("/kunden/10001/bearbeiten", {**FORM, "etag": before.etag})
    assert forged.status_code == 403 and "Kundenakte" in forged.text  # the German error page
    assert services.catalog.customers.get("10001") == before
    report = auditor.get("/api/v1/customers/10001/gdpr-report")  # the link works with the web session
    assert report.status_code == 200 and report.mimetype == "application/pdf"


def test_the_legal_hold_form_is_for_admins_only(stack: tuple[Flask, Services]) -> None:
    app, services = stack
    clerk = Browser(app, "clara")
    html = clerk.get("/kunden/10001").text
    assert 'id="customer-hold"' not in html and "DSGVO-Auskunft" not in html and ">Aktivität<" not in html
    assert clerk.post("/kunden/10001/legal-hold", {"aktion": "setzen", "grund": "Prüfung"}).status_code == 403
    assert not services.catalog.customers.get("10001").legal_hold

    admin = Browser(app, "anna")
    html = admin.get("/kunden/10001").text
    assert EDIT_LINK in html and "DSGVO-Auskunft (PDF)" in html
    assert '<label for="customer-hold-reason">Grund' in html and ">Legal Hold setzen</button>" in html
    assert "badge-hold" not in html
    refused = admin.post("/kunden/10001/legal-hold", {"aktion": "setzen", "grund": "  "})
    assert refused.status_code == 303 and not services.catalog.customers.get("10001").legal_hold
    assert "Ein Grund (reason) ist erforderlich." in admin.get("/kunden/10001").text

    response = admin.post("/kunden/10001/legal-hold", {"aktion": "setzen", "grund": "Betriebsprüfung 2026"})
    assert response.status_code == 303 and response.headers["Location"] == "/kunden/10001"
    customer = services.catalog.customers.get("10001")
    assert customer.legal_hold and customer.legal_hold_reason == "Betriebsprüfung 2026"
    html = admin.get("/kunden/10001").text
    assert "Legal Hold für den Kunden gesetzt." in html
    assert '<span class="badge badge-hold" title="Betriebsprüfung 2026">Legal Hold</span>' in html
    assert ">Legal Hold aufheben</button>" in html
    assert _audit(services, "customer.legal_hold_set", "anna")[0]["details"]["reason"] == "Betriebsprüfung 2026"

    assert admin.post("/kunden/10001/legal-hold", {"aktion": "aufheben", "grund": "Prüfung beendet"}).status_code \
        == 303
    assert not services.catalog.customers.get("10001").legal_hold
    assert len(_audit(services, "customer.legal_hold_released", "anna")) == 1
    assert admin.post("/kunden/99999/legal-hold", {"aktion": "setzen", "grund": "x"}).status_code == 404


def test_the_forms_need_the_csrf_token(stack: tuple[Flask, Services]) -> None:
    app, services = stack
    admin = Browser(app, "anna")
    etag = services.catalog.customers.get("10001").etag
    assert admin.post("/kunden/10001/bearbeiten", {**FORM, "etag": etag}, csrf=False).status_code == 403
    assert admin.post("/kunden/10001/legal-hold", {"aktion": "setzen", "grund": "x"}, csrf=False).status_code == 403
    customer = services.catalog.customers.get("10001")
    assert customer.name == "Bäckerei Sonnenschein" and not customer.legal_hold
