"""The Posteingang and the admin pages over HTTP (Flask test client): the real app in users mode on
embedded backends in a temporary data folder, real users and sessions, real PDFs."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from typing import Any

import lxml.html
import pytest

from dms.catalog.audit import AuditFilter
from dms.config import Settings
from dms.errors import ValidationError
from dms.identity.repository import IdentityRepository
from dms.web import create_app
from tests.docgen import make_pdf

TERMINAL = {"filed", "needs_review", "failed"}
PASSWORDS = {"anna": "anna-admin-passwort", "clara": "clara-sachbearbeiterin", "paul": "paul-pruefer-passwort"}
ROLES = {"anna": "admin", "clara": "clerk", "paul": "auditor"}


class Web:
    """A browser's view of the app: its cookies, the page's CSRF token, pages parsed as HTML."""

    def __init__(self, app: Any) -> None:
        self.client = app.test_client()
        self.token = ""

    def get(self, path: str, status: int = 200) -> Any:
        response = self.client.get(path)
        assert response.status_code == status, (path, response.status_code, response.text[:500])
        found = re.search(r'<meta name="csrf-token" content="([^"]*)"', response.text)
        if found and found.group(1):
            self.token = found.group(1)
        return response

    def page(self, path: str, status: int = 200) -> Any:
        return lxml.html.fromstring(self.get(path, status).text)

    def post(self, path: str, data: dict[str, Any], status: int = 302) -> Any:
        response = self.client.post(path, data={"csrf_token": self.token, **data})
        assert response.status_code == status, (path, response.status_code, response.text[:500])
        return response

    def login(self, username: str, password: str | None = None) -> Web:
        form = {"username": username, "password": password or PASSWORDS[username], "next": "/"}
        response = self.client.post("/login", data=form)
        assert response.status_code == 302 and "/login" not in response.headers["Location"], response.text[:300]
        self.get("/")
        return self

    def flashes(self, path: str = "/posteingang") -> list[str]:
        shown = self.page(path).xpath("//div[contains(@class, 'flash')]")
        return [" ".join(node.text_content().split()) for node in shown]

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"X-CSRF-Token": self.token, **kwargs.pop("headers", {})}
        return self.client.open("/api/v1" + path, method=method, headers=headers, **kwargs)

    def upload(self, lines: list[str], filename: str, **fields: str) -> str:
        data = {"file": (io.BytesIO(make_pdf(lines)), filename), **fields}
        response = self.api("POST", "/documents", data=data)
        assert response.status_code == 202, response.text
        document_id = response.json["id"]
        deadline = time.monotonic() + 60
        while self.document(document_id)["status"] not in TERMINAL:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        return document_id

    def document(self, document_id: str) -> dict[str, Any]:
        return self.api("GET", f"/documents/{document_id}").json


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    settings = Settings.from_env({"DMS_DATA_DIR": str(tmp_path_factory.mktemp("pages-inbox") / "data"),
                                  "DMS_AUTH_MODE": "users"})
    app = create_app(settings)
    services = app.extensions["dms"]
    identity = IdentityRepository.for_catalog(services.catalog)
    for name, role in ROLES.items():
        identity.add_user(name, role, display_name=name.title(), actor="test")
        identity.set_password(name, PASSWORDS[name], actor="test")
    anna = Web(app).login("anna")
    number = anna.api("POST", "/customers", json={"name": "Muster GmbH"}).json["number"]
    try:
        yield {"app": app, "services": services, "identity": identity, "anna": anna, "number": number}
    finally:
        services.close()


def to_review(site: dict[str, Any], text: str) -> str:
    document_id = site["anna"].upload([text, "Bitte um Rückruf"], f"{text[:12]}.pdf")
    assert site["anna"].document(document_id)["status"] == "needs_review"
    return document_id


def audit(site: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return site["services"].catalog.audit.page(AuditFilter(action=action), limit=50)


# --- Posteingang ----------------------------------------------------------------------------------


def test_the_inbox_lists_documents_to_review_with_the_reasons(site) -> None:
    unknown = to_review(site, "Schreiben zu Kundennummer 99999 wegen der Lieferung")
    plain = to_review(site, "Ein Brief ohne jede Nummer")
    clara = Web(site["app"]).login("clara")
    page = clara.page("/posteingang")
    rows = {row.get("data-document-id"): row for row in page.xpath("//table[@id='inbox']/tbody/tr")}
    assert {unknown, plain} <= set(rows)
    row = rows[unknown]
    text = " ".join(row.text_content().split())
    assert "Kundennummer 99999 ist unbekannt" in text  # status_reason
    assert "unbekannte Kundennummer(n): 99999" in text  # classification, under "Erkennung im Detail"
    assert "Keine Regel einer Dokumentklasse traf zu" in " ".join(rows[plain].text_content().split())
    assert row.xpath(".//img[contains(@class, 'thumb')]/@src") == [f"/api/v1/documents/{unknown}/thumbnail?version=1"]
    assert "API" in text  # the source
    # one-step assignment per row, and the bulk form
    form_id = row.xpath(".//button[normalize-space()='Zuordnen']/@form")[0]
    assert page.xpath(f"//form[@id='{form_id}']/input[@name='ids']/@value") == [unknown]
    assert [label.text.strip() for label in row.xpath(".//label")] == ["Kunde", "Klasse", "Ordner"]
    assert all(label.xpath("./input|./select") for label in row.xpath(".//label"))
    assert row.xpath(".//input[@type='checkbox'][@name='ids']/@value") == [unknown]
    bulk = page.xpath("//form[@id='bulk-form']")[0]
    assert bulk.xpath(".//input[@data-select-all]") and bulk.xpath(".//button[normalize-space()='Auswahl zuordnen']")
    assert site["number"] in page.xpath("//datalist[@id='customer-numbers']/option/@value")


def test_an_auditor_sees_the_inbox_but_no_controls_and_is_refused(site) -> None:
    document_id = to_review(site, "Prüferbrief ohne Kunde")
    paul = Web(site["app"]).login("paul")
    response = paul.get("/posteingang")
    page = lxml.html.fromstring(response.text)
    assert page.xpath(f"//tr[@data-document-id='{document_id}']")
    assert not page.xpath("//main//form") and not page.xpath("//input[@type='checkbox']")
    assert not page.xpath("//*[@data-select-all]") and "Zuordnen" not in response.text
    paul.post("/posteingang/zuordnen", {"ids": document_id, "kunde": site["number"]}, status=403)
    assert paul.document(document_id)["status"] == "needs_review"


def test_assign_one_document(site) -> None:
    document_id = to_review(site, "Rechnung über Schrauben ohne Kunde")
    clara = Web(site["app"]).login("clara")
    clara.get("/posteingang")
    response = clara.post("/posteingang/zuordnen", {"ids": document_id, "kunde": site["number"],
                                                    "klasse": "Rechnung", "ordner": "", "seite": "1"})
    assert response.headers["Location"] == "/posteingang?seite=1"
    page = clara.page("/posteingang")
    assert "1 Dokument zugeordnet und abgelegt." in page.text_content()
    assert not page.xpath(f"//tr[@data-document-id='{document_id}']")
    filed = clara.document(document_id)
    assert (filed["status"], filed["customer_number"], filed["folder"], filed["class"]) == (
        "filed", site["number"], "04 Rechnungen", "Rechnung")
    entries = [e for e in audit(site, "document.refile") if e["document_id"] == document_id]
    assert entries and entries[0]["actor"] == "clara"


def test_assign_by_customer_name_and_in_bulk(site) -> None:
    first, second = to_review(site, "Stapel eins ohne Kunde"), to_review(site, "Stapel zwei ohne Kunde")
    clara = Web(site["app"]).login("clara")
    clara.get("/posteingang")
    clara.post("/posteingang/zuordnen", {"ids": [first, second], "kunde": "Muster GmbH", "klasse": "",
                                         "ordner": "02 Korrespondenz"})
    assert "2 Dokumente zugeordnet und abgelegt." in clara.flashes()
    for document_id in (first, second):
        body = clara.document(document_id)
        assert (body["status"], body["customer_number"], body["folder"]) == ("filed", site["number"],
                                                                            "02 Korrespondenz")


def test_what_cannot_be_assigned_says_why(site) -> None:
    document_id = to_review(site, "Noch ein Brief ohne Kunde")
    clara = Web(site["app"]).login("clara")
    clara.get("/posteingang")
    clara.post("/posteingang/zuordnen", {"kunde": site["number"]})
    assert "Bitte mindestens ein Dokument auswählen." in clara.flashes()
    clara.post("/posteingang/zuordnen", {"ids": document_id})
    assert "Bitte Kunde, Klasse oder Ordner angeben." in clara.flashes()
    clara.post("/posteingang/zuordnen", {"ids": document_id, "kunde": "99998"})
    assert any(f.startswith("Nicht zugeordnet:") and "99998" in f for f in clara.flashes())
    clara.post("/posteingang/zuordnen", {"ids": document_id, "kunde": "Niemand Unbekannt AG"})
    assert any("nicht gefunden" in f for f in clara.flashes())
    clara.post("/posteingang/zuordnen", {"ids": document_id, "klasse": "Angebot"})
    assert "1 Dokument geändert; ohne Kunden bleibt es im Posteingang." in clara.flashes()
    body = clara.document(document_id)
    assert (body["status"], body["class"]) == ("needs_review", "Angebot")
    # without the session's CSRF token: refused
    response = clara.client.post("/posteingang/zuordnen", data={"ids": document_id, "kunde": site["number"]})
    assert response.status_code == 403 and clara.document(document_id)["status"] == "needs_review"


# --- admin: users -----------------------------------------------------------------------------------


def test_admin_pages_are_for_admins_only(site) -> None:
    for name in ("clara", "paul"):
        web = Web(site["app"]).login(name)
        assert not web.page("/").xpath("//nav[@aria-label='Hauptnavigation']//a[@href='/admin/benutzer']")
        for path in ("/admin/benutzer", "/admin/tokens"):
            page = web.page(path, status=403)
            assert "Keine Berechtigung" in page.text_content() and not page.xpath("//table")
        web.post("/admin/benutzer", {"username": "mallory", "role": "admin", "password": "x" * 12}, status=403)
        web.post(f"/admin/benutzer/{name}", {"aktion": "rolle", "role": "admin"}, status=403)
        web.post("/admin/tokens", {"name": "boese", "scopes": "admin"}, status=403)
    assert site["identity"].get_user("clara").role == "clerk"
    assert all(user.username != "mallory" for user in site["identity"].list_users())
    assert site["anna"].page("/").xpath("//nav[@aria-label='Hauptnavigation']//a[@href='/admin/benutzer']")


def test_add_a_user_who_can_then_sign_in(site) -> None:
    anna = site["anna"]
    anna.get("/admin/benutzer")
    anna.post("/admin/benutzer", {"username": "dora", "display_name": "<b>Dora</b>", "role": "clerk",
                                  "password": "kurz"}, status=400)
    assert all(user.username != "dora" for user in site["identity"].list_users())  # no user without a password
    anna.post("/admin/benutzer", {"username": "dora", "display_name": "<b>Dora</b>", "role": "clerk",
                                  "password": "doras-langes-passwort"})
    response = anna.get("/admin/benutzer")
    assert "Benutzer dora angelegt." in response.text and "&lt;b&gt;Dora&lt;/b&gt;" in response.text
    row = lxml.html.fromstring(response.text).xpath("//tr[@data-username='dora']")[0]
    assert "Sachbearbeiter" in row.text_content() and "aktiv" in row.text_content()
    anna.post("/admin/benutzer", {"username": "dora", "role": "clerk", "password": "noch-ein-passwort"}, status=409)
    Web(site["app"]).login("dora", "doras-langes-passwort")
    created = [e for e in audit(site, "user.create") if e["object_id"] == "dora"]
    assert created and created[0]["actor"] == "anna"


def test_disabling_and_a_new_password_end_the_users_sessions(site) -> None:
    site["identity"].add_user("emil", "clerk", actor="test")
    site["identity"].set_password("emil", "emils-altes-passwort", actor="test")
    emil = Web(site["app"]).login("emil", "emils-altes-passwort")
    anna = site["anna"]
    anna.get("/admin/benutzer")
    anna.post("/admin/benutzer/emil", {"aktion": "sperren"})
    assert "/login" in emil.get("/", status=302).headers["Location"]  # signed out at once
    assert not site["identity"].get_user("emil").active
    anna.post("/admin/benutzer/emil", {"aktion": "entsperren"})
    emil = Web(site["app"]).login("emil", "emils-altes-passwort")
    anna.post("/admin/benutzer/emil", {"aktion": "passwort", "password": "zu-kurz"})
    assert any("zu kurz" in f for f in anna.flashes("/admin/benutzer"))
    anna.post("/admin/benutzer/emil", {"aktion": "passwort", "password": "emils-neues-passwort"})
    assert "/login" in emil.get("/", status=302).headers["Location"]
    Web(site["app"]).login("emil", "emils-neues-passwort")
    actions = {e["action"] for e in site["services"].catalog.audit.page(AuditFilter(actor="anna"), limit=100)
               if e["object_id"] == "emil"}
    assert {"user.disable", "user.enable", "user.password"} <= actions


def test_a_new_role_is_audited_and_takes_effect_at_once(site) -> None:
    site["identity"].add_user("fritz", "clerk", actor="test")
    site["identity"].set_password("fritz", "fritz-sein-passwort", actor="test")
    fritz = Web(site["app"]).login("fritz", "fritz-sein-passwort")
    assert fritz.page("/posteingang").xpath("//form[@id='bulk-form']")
    anna = site["anna"]
    anna.get("/admin/benutzer")
    anna.post("/admin/benutzer/fritz", {"aktion": "rolle", "role": "auditor"})
    assert not fritz.page("/posteingang").xpath("//form[@id='bulk-form']")
    entry = [e for e in audit(site, "user.role") if e["object_id"] == "fritz"][0]
    assert entry["actor"] == "anna" and entry["details"]["old"] == {"role": "clerk"}
    assert entry["details"]["new"] == {"role": "auditor"}
    anna.post("/admin/benutzer/fritz", {"aktion": "rolle", "role": "kaiser"})
    assert site["identity"].get_user("fritz").role == "auditor"


def test_an_admin_cannot_lock_themself_out(site) -> None:
    anna = site["anna"]
    page = anna.page("/admin/benutzer")
    own = page.xpath("//tr[@data-username='anna']")[0]
    assert not own.xpath(".//input[@value='sperren']") and not own.xpath(".//select[@name='role']")
    assert own.xpath(".//button[normalize-space()='Passwort zurücksetzen']")
    other = page.xpath("//tr[@data-username='clara']")[0]
    assert other.xpath(".//input[@value='sperren']") and other.xpath(".//select[@name='role']")
    anna.post("/admin/benutzer/anna", {"aktion": "sperren"}, status=403)
    anna.post("/admin/benutzer/anna", {"aktion": "rolle", "role": "clerk"}, status=403)
    user = site["identity"].get_user("anna")
    assert user.active and user.role == "admin"


def test_set_role_checks_the_role_and_records_only_changes(site) -> None:
    identity = site["identity"]
    identity.add_user("gabi", "auditor", actor="test")
    with pytest.raises(ValidationError):
        identity.set_role("gabi", "chef", actor="test")
    before = len([e for e in audit(site, "user.role") if e["object_id"] == "gabi"])
    assert identity.set_role("gabi", "auditor", actor="test").role == "auditor"
    assert identity.set_role("GABI", "clerk", actor="test").role == "clerk"
    assert len([e for e in audit(site, "user.role") if e["object_id"] == "gabi"]) == before + 1


# --- admin: API tokens ------------------------------------------------------------------------------


def test_a_token_is_shown_once_and_can_be_revoked(site) -> None:
    anna = site["anna"]
    page = anna.page("/admin/tokens")
    labels = page.xpath("//form[@action='/admin/tokens']//label/@for")
    assert {"token-name", "token-expires"} <= set(labels)
    anna.post("/admin/tokens", {"name": "erp", "scopes": [], "expires_days": ""}, status=400)
    anna.post("/admin/tokens", {"name": "erp", "scopes": ["documents:read"], "expires_days": "nie"}, status=400)
    response = anna.post("/admin/tokens", {"name": "erp", "scopes": ["documents:read", "customers:read"],
                                           "expires_days": "30"}, status=201)
    secret = lxml.html.fromstring(response.text).xpath("//code[@id='new-token']/text()")[0]
    assert secret.startswith("dms_") and response.headers["Cache-Control"] == "no-store"
    caller = site["app"].test_client()
    bearer = {"Authorization": f"Bearer {secret}"}
    assert caller.get("/api/v1/customers", headers=bearer).status_code == 200
    assert caller.post("/api/v1/customers", json={"name": "X"}, headers=bearer).status_code == 403
    listing = anna.get("/admin/tokens")
    assert secret not in listing.text and secret[-16:] not in listing.text  # never shown again
    row = lxml.html.fromstring(listing.text).xpath("//tr[@data-token='erp']")[0]
    assert "documents:read" in row.text_content() and "gültig" in row.text_content()
    assert "anna" in row.text_content()
    anna.post("/admin/tokens", {"name": "erp", "scopes": ["documents:read"]}, status=409)  # revoke first
    anna.post("/admin/tokens/erp/widerrufen", {})
    assert caller.get("/api/v1/customers", headers=bearer).status_code == 401
    row = anna.page("/admin/tokens").xpath("//tr[@data-token='erp']")[0]
    assert "widerrufen" in row.text_content() and not row.xpath(".//form")
    assert {e["action"] for e in site["services"].catalog.audit.page(AuditFilter(actor="anna"), limit=100)
            if e["object_id"] == "erp"} >= {"token.create", "token.revoke"}
