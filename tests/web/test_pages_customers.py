"""The customer pages over HTTP (Flask's test client, users mode, embedded backends in a temp folder):
the list with its as-you-type partial, filters and paging; a new customer; the customer file's
Aktenplan; the customer's activity. What a role may not do is neither shown nor allowed."""

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
from dms.config import Settings
from dms.errors import ValidationError
from dms.identity.repository import IdentityRepository
from dms.web import create_app

PASSWORDS = {"anna": "admin-passwort-2026", "clara": "sachbearbeiter-2026", "paul": "pruefer-passwort-2026"}
ROLES = {"anna": "admin", "clara": "clerk", "paul": "auditor"}
FOLDERS = ["01 Stammdaten & Verträge", "02 Korrespondenz", "99 Posteingang"]


@pytest.fixture(scope="module")
def template_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with the catalog and one user per role, made once (hashing passwords takes a while)."""
    data = tmp_path_factory.mktemp("pages-customers") / "data"
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
    """The app in users mode on its own copy of the template data folder (no queue: no documents here)."""
    data = tmp_path / "data"
    shutil.copytree(template_dir, data)
    settings = Settings.from_env({"DMS_DATA_DIR": str(data), "DMS_AUTH_MODE": "users"})
    services = build_services(settings, with_queue=False)
    app = create_app(settings, services=services)
    app.config["TESTING"] = True
    try:
        yield app, services
    finally:
        services.close()


class Browser:
    """A signed-in test client that sends the page's CSRF token with every form."""

    def __init__(self, app: Flask, user: str) -> None:
        self.client: FlaskClient = app.test_client()
        response = self.client.post("/login", data={"username": user, "password": PASSWORDS[user], "next": "/kunden"})
        assert response.status_code == 302, response.text
        self.token = re.search(r'name="csrf-token" content="([^"]+)"', self.get("/kunden").text).group(1)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict[str, Any], *, csrf: bool = True) -> Any:
        return self.client.post(path, data={**data, **({"csrf_token": self.token} if csrf else {})})


def _customer(services: Services, name: str, **body: Any) -> str:
    return uc.create_customer(services, CLI, {"name": name, **body}).number


def _numbers(html: str) -> list[str]:
    return re.findall(r'<tr data-customer="([^"]+)">', html)


def test_an_empty_list_invites_to_create_the_first_customer(stack: tuple[Flask, Services]) -> None:
    app, _ = stack
    html = Browser(app, "clara").get("/kunden").text
    assert "Noch keine Kunden angelegt." in html
    assert '<a class="btn btn-primary" href="/kunden/neu">Neuer Kunde</a>' in html
    assert 'data-customer-search' in html and 'id="customer-results"' in html


def test_a_new_customer_is_created_by_form_and_its_file_shows_the_aktenplan(stack: tuple[Flask, Services]) -> None:
    app, services = stack
    clerk = Browser(app, "clara")
    form = clerk.get("/kunden/neu").text
    assert re.search(r'id="cust-number"[^>]*value="10001"', form)  # the next free number, prefilled
    for label in ("Name", "Kundennummer", "Art", "Status", "Tags", "E-Mail-Adressen"):
        assert re.search(rf'<label for="[^"]+">{label}</label>', form), label
    assert ">Anlegen</button>" in form
    response = clerk.post("/kunden/neu", {"name": "Bäckerei Sonnenschein", "number": "10001", "kind": "natural",
                                          "status": "Interessent", "tags": "vip, Gewerbe",
                                          "emails": "info@sonnenschein.example\nchef@sonnenschein.example"})
    assert response.status_code == 303 and response.headers["Location"] == "/kunden/10001"
    customer = services.catalog.customers.get("10001")
    assert (customer.kind, customer.status, customer.tags) == ("natural", "Interessent", ["Gewerbe", "vip"])
    assert customer.emails == ["info@sonnenschein.example", "chef@sonnenschein.example"]
    page = clerk.get("/kunden/10001").text
    assert "Kunde 10001 (Bäckerei Sonnenschein) wurde angelegt." in page
    assert '<nav aria-label="Aktenplan"' in page
    for folder in FOLDERS:
        assert f'data-folder="{folder.replace("&", "&amp;")}"' in page
    assert "Dieser Ordner ist leer." in page and "Dokument wählen" in page
    assert 'class="dropzone" data-dropzone data-customer="10001" data-folder="01 Stammdaten &amp; Verträge"' in page
    assert 'id="uploads"' in page and 'id="version-dialog"' in page


def test_a_bad_form_is_shown_again_with_the_message_and_the_values(stack: tuple[Flask, Services]) -> None:
    app, services = stack
    clerk = Browser(app, "clara")
    response = clerk.post("/kunden/neu", {"name": "  ", "number": "", "tags": "a", "emails": ""})
    assert response.status_code == 422
    assert 'role="alert"' in response.text and 'id="cust-name"' in response.text
    _customer(services, "Erste GmbH", number="20000")
    response = clerk.post("/kunden/neu", {"name": "Zweite GmbH", "number": "20000", "emails": "keine-adresse"})
    assert response.status_code == 422 and "keine gültige E-Mail-Adresse" in response.text
    assert 'value="Zweite GmbH"' in response.text  # what was typed stays
    response = clerk.post("/kunden/neu", {"name": "Zweite GmbH", "number": "20000"})
    assert response.status_code == 409 and "bereits vergeben" in response.text
    assert services.catalog.customers.query("Zweite") == []


def test_search_filters_and_the_partial_for_typing(stack: tuple[Flask, Services]) -> None:
    app, services = stack
    mueller = _customer(services, "Müller Haustechnik", tags=["VIP"], status="Kunde")
    meier = _customer(services, "Meier & Söhne", tags=["Gewerbe"], status="Interessent")
    _customer(services, "Schulze AG", tags=["vip", "Gewerbe"], status="ehemaliger Kunde")
    auditor = Browser(app, "paul")
    assert _numbers(auditor.get("/kunden?q=m%C3%BCller").text) == [mueller]
    assert _numbers(auditor.get(f"/kunden?q={meier}").text) == [meier]
    assert _numbers(auditor.get("/kunden?status=Interessent").text) == [meier]
    assert len(_numbers(auditor.get("/kunden?tag=vip").text)) == 2  # tags match regardless of case
    assert _numbers(auditor.get("/kunden?tag=gewerbe&status=Interessent").text) == [meier]
    assert len(_numbers(auditor.get("/kunden?status=unbekannt").text)) == 3  # an unknown filter filters nothing
    partial = auditor.get("/kunden?q=Meier&partial=1").text
    assert "<html" not in partial and "<form" not in partial
    assert _numbers(partial) == [meier] and "Meier &amp; Söhne" in partial
    assert "Keine Kunden gefunden." in auditor.get("/kunden?q=niemand&partial=1").text


def test_the_list_pages_by_25(stack: tuple[Flask, Services]) -> None:
    app, services = stack
    for i in range(30):
        _customer(services, f"Kunde {i:02d}", tags=["serie"])
    browser = Browser(app, "clara")
    first = browser.get("/kunden?tag=serie").text
    assert len(_numbers(first)) == 25 and "30 Kunden" in first and "Seite 1 von 2" in first
    assert 'href="/kunden?tag=serie&amp;seite=2" rel="next"' in first
    second = browser.get("/kunden?tag=serie&seite=2").text
    assert len(_numbers(second)) == 5 and 'rel="prev"' in second and 'rel="next"' not in second
    assert _numbers(browser.get("/kunden?seite=abc").text) == _numbers(first)  # unreadable page: the first


def test_find_customers_use_case(stack: tuple[Flask, Services]) -> None:
    _, services = stack
    for i in range(3):
        _customer(services, f"Firma {i}", tags=["A"] if i else [])
    found = uc.find_customers(services, CLI, "Firma", tag="a", limit=1, offset=1)
    assert found.total == 2 and len(found.customers) == 1 and found.tags == ["A"]
    with pytest.raises(ValidationError):
        uc.find_customers(services, CLI, status="Lieferant")


def test_user_text_is_escaped(stack: tuple[Flask, Services]) -> None:
    app, services = stack
    number = _customer(services, "<script>alert(1)</script>", tags=['"><img src=x onerror=alert(2)>'])
    browser = Browser(app, "clara")
    for path in ("/kunden", f"/kunden/{number}", "/kunden?partial=1"):
        html = browser.get(path).text
        assert "<script>alert(1)" not in html and "<img src=x" not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_an_auditor_sees_no_controls_and_is_refused(stack: tuple[Flask, Services]) -> None:
    app, services = stack
    number = _customer(services, "Prüfbar GmbH")
    auditor = Browser(app, "paul")
    listing = auditor.get("/kunden").text
    assert "Neuer Kunde" not in listing and "/kunden/neu" not in listing
    file = auditor.get(f"/kunden/{number}").text
    for forbidden in ("data-dropzone", "data-version-drop", "version-dialog", "/hochladen", 'id="uploads"'):
        assert forbidden not in file, forbidden
    assert f'<li data-folder="{FOLDERS[1]}">' in file
    assert auditor.get("/kunden/neu").status_code == 403
    response = auditor.post("/kunden/neu", {"name": "Gefälscht GmbH"})
    assert response.status_code == 403 and "Keine Berechtigung" in response.text
    response = auditor.post(f"/kunden/{number}/hochladen", {"folder": FOLDERS[1]})
    assert response.status_code == 403
    assert services.catalog.customers.query("Gefälscht") == []


def test_a_form_without_csrf_token_is_refused(stack: tuple[Flask, Services]) -> None:
    app, services = stack
    clerk = Browser(app, "clara")
    response = clerk.post("/kunden/neu", {"name": "Ohne Token GmbH"}, csrf=False)
    assert response.status_code == 403 and "CSRF" in unescape(response.text)
    assert services.catalog.customers.query("Ohne Token") == []


def test_activity_is_for_auditors_and_admins(stack: tuple[Flask, Services]) -> None:
    app, services = stack
    number = _customer(services, "Protokoll KG")
    clerk = Browser(app, "clara")
    clerk.get(f"/kunden/{number}")
    assert clerk.get(f"/kunden/{number}/aktivitaet").status_code == 403
    assert f"/kunden/{number}/aktivitaet" not in clerk.get(f"/kunden/{number}").text
    auditor = Browser(app, "paul")
    assert f'href="/kunden/{number}/aktivitaet"' in auditor.get(f"/kunden/{number}").text
    html = auditor.get(f"/kunden/{number}/aktivitaet").text
    assert "Aktivität: " in html and 'id="activity"' in html
    assert "Kunde angelegt" in html and "Akte geöffnet" in html and ">clara<" in html
    assert auditor.get("/kunden/77777/aktivitaet").status_code == 404


def test_an_unknown_customer_is_a_german_404(stack: tuple[Flask, Services]) -> None:
    app, _ = stack
    response = Browser(app, "clara").get("/kunden/77777")
    assert response.status_code == 404 and "Kunde 77777 existiert nicht." in response.text


def test_the_list_exports_what_its_filters_show(stack: tuple[Flask, Services]) -> None:
    app, services = stack
    _customer(services, "Export Eins GmbH", tags=["messe"])
    _customer(services, "Export Zwei GmbH")
    clerk = Browser(app, "clara")
    html = clerk.get("/kunden", query_string={"q": "Export", "tag": "messe"}).text
    link = unescape(re.search(r'<a href="([^"]+)" download id="export-csv">', html).group(1))
    assert link.startswith("/api/v1/customers/export?") and "tag=messe" in link and "q=Export" in link
    exported = clerk.get(link)
    assert exported.status_code == 200, exported.text
    text = exported.data.decode("utf-8-sig")
    assert "Export Eins GmbH" in text and "Export Zwei GmbH" not in text
    xlsx = unescape(re.search(r'<a href="([^"]+)" download id="export-xlsx">', html).group(1))
    assert clerk.get(xlsx).data[:2] == b"PK"  # a zip: the XLSX


def test_an_admin_sets_a_users_branches_on_the_users_page(stack: tuple[Flask, Services]) -> None:
    app, services = stack
    admin = Browser(app, "anna")
    page = admin.get("/admin/benutzer").text
    assert 'name="branches" multiple' in page and ">Filialen setzen</button>" in page
    response = admin.post("/admin/benutzer/clara", {"aktion": "filialen", "branches": "Zentrale"})
    assert response.status_code in (302, 303), response.text
    assert IdentityRepository.for_catalog(services.catalog).get_user("clara").branches == ("Zentrale",)
    bad = admin.post("/admin/benutzer/clara", {"aktion": "filialen", "branches": "Atlantis"})
    assert "Unbekannte Filiale" in admin.get(bad.headers.get("Location", "/admin/benutzer")).text
    assert IdentityRepository.for_catalog(services.catalog).get_user("clara").branches == ("Zentrale",)
