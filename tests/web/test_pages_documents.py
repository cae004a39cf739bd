"""The customer file and the document page over HTTP (Flask's test client, users mode, embedded
backends with the in-process queue, real PDFs and e-invoices): the Aktenplan with counts, the
sorted table and its partial, the preview pane, uploads and versions through the forms, the
metadata edit (move, tags, fields), the e-invoice table, legal hold and trash, the activity.
What a role may not do is neither shown nor allowed; everything a user typed is escaped."""

from __future__ import annotations

import io
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from dms.app import customers as customers_uc
from dms.app import documents as uc
from dms.app.principal import CLI
from dms.app.services import Services, build_services
from dms.catalog.audit import AuditFilter
from dms.config import Settings
from dms.errors import ValidationError
from dms.identity.repository import IdentityRepository
from dms.web import create_app
from tests.docgen import make_pdf
from tests.einvoice_docs import cii_invoice

PASSWORDS = {"anna": "admin-passwort-2026", "clara": "sachbearbeiter-2026", "paul": "pruefer-passwort-2026"}
ROLES = {"anna": "admin", "clara": "clerk", "paul": "auditor"}
LETTERS = "02 Korrespondenz"
TERMINAL = {"filed", "needs_review", "failed"}


@pytest.fixture(scope="module")
def template_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with the catalog and one user per role, made once (hashing passwords takes a while)."""
    data = tmp_path_factory.mktemp("pages-documents") / "data"
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
    """The app in users mode on its own copy of the template, with the in-process ingest queue."""
    data = tmp_path / "data"
    shutil.copytree(template_dir, data)
    settings = Settings.from_env({"DMS_DATA_DIR": str(data), "DMS_AUTH_MODE": "users"})
    services = build_services(settings)
    app = create_app(settings, services=services)
    app.config["TESTING"] = True
    try:
        yield app, services
    finally:
        services.close()


class Browser:
    """A signed-in test client: forms carry the page's CSRF token, API calls send it as header."""

    def __init__(self, app: Flask, user: str) -> None:
        self.client: FlaskClient = app.test_client()
        response = self.client.post("/login", data={"username": user, "password": PASSWORDS[user], "next": "/"})
        assert response.status_code == 302, response.text
        self.token = re.search(r'name="csrf-token" content="([^"]+)"', self.get("/kunden").text).group(1)

    def get(self, path: str) -> Any:
        return self.client.get(path)

    def post(self, path: str, data: dict[str, Any]) -> Any:
        return self.client.post(path, data={**data, "csrf_token": self.token})

    def follow(self, response: Any) -> str:
        """The page a POST redirected to (with its flash message)."""
        assert response.status_code == 303, response.text
        return self.get(response.headers["Location"]).text

    def upload(self, data: bytes, filename: str, **meta: str) -> str:
        """Upload as the page's script does: the API with the session cookie and the CSRF header."""
        response = self.client.post("/api/v1/documents", data={"file": (io.BytesIO(data), filename), **meta},
                                    headers={"X-CSRF-Token": self.token})
        assert response.status_code == 202, response.text
        return response.json["id"]


def wait(services: Services, document_id: str, version: int = 1, timeout: float = 60) -> str:
    """The document's status once its `version` is processed (filed, needs_review or failed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        document = services.catalog.documents.get(document_id)
        if document.status in TERMINAL and document.latest and document.latest.number >= version:
            return document.status
        time.sleep(0.1)
    raise AssertionError(f"{document_id} not processed: {services.catalog.documents.get(document_id).status}")


def rows(html: str) -> list[str]:
    """The document ids of the rows of table#documents, in order."""
    table = html[html.index('id="documents"'):]
    return re.findall(r'<tr data-document-id="([^"]+)"', table[:table.index("</table>")])


def customer(services: Services, name: str = "Akte Test GmbH") -> str:
    return customers_uc.create_customer(services, CLI, {"name": name}).number


def actions(services: Services, document_id: str) -> list[str]:
    return [e["action"] for e in services.catalog.audit.page(AuditFilter(document_id=document_id), limit=500)]


def test_the_file_shows_the_chosen_folder_sorted_with_counts_and_a_preview(stack: tuple[Flask, Services]) -> None:
    app, services = stack
    number = customer(services)
    clerk = Browser(app, "clara")
    ids = {}
    for title, day in (("Beta", "2026-01-03"), ("alpha", "2026-01-01"), ("Gamma", "2026-01-02")):
        ids[title] = clerk.upload(make_pdf([f"Brief {title}"]), f"{title}.pdf", customer_number=number,
                                  folder=LETTERS, title=title, document_date=day, document_class="Korrespondenz")
    invoice = clerk.upload(make_pdf(["Rechnung 1"]), "r.pdf", customer_number=number, folder="04 Rechnungen",
                           document_class="Rechnung")
    for document_id in [*ids.values(), invoice]:
        assert wait(services, document_id) == "filed"
    html = clerk.get(f"/kunden/{number}").text  # default: the first folder with documents
    assert '<h2 id="folder-title">02 Korrespondenz</h2>' in html
    assert re.search(r'data-folder="02 Korrespondenz"[^>]*>\s*<a [^>]*aria-current="true"><span class="folder-name">'
                     r'02 Korrespondenz</span> <span class="count">3<', html)
    assert re.search(r'data-folder="04 Rechnungen"[^>]*>\s*<a [^>]*><span class="folder-name">04 Rechnungen</span> '
                     r'<span class="count">1<', html)
    assert rows(html) == [ids["Beta"], ids["Gamma"], ids["alpha"]]  # newest document date first
    assert f'<tr data-document-id="{ids["Beta"]}" data-version-drop data-document-title="Beta">' in html
    assert '<span class="status status-filed">abgelegt</span>' in html
    assert f'<img class="thumb" loading="lazy" alt="" src="/api/v1/documents/{ids["Beta"]}/thumbnail">' in html
    by_title = clerk.get(f"/kunden/{number}?ordner={LETTERS}&sortierung=titel&richtung=auf").text
    assert rows(by_title) == [ids["alpha"], ids["Beta"], ids["Gamma"]]
    assert 'aria-sort="ascending"' in by_title
    assert rows(clerk.get(f"/kunden/{number}?ordner={LETTERS}&sortierung=titel&richtung=ab").text) == [
        ids["Gamma"], ids["Beta"], ids["alpha"]]
    assert rows(clerk.get(f"/kunden/{number}?ordner=04%20Rechnungen").text) == [invoice]
    partial = clerk.get(f"/kunden/{number}?ordner={LETTERS}&partial=1").text
    assert "<html" not in partial and 'id="folder-tree"' in partial and len(rows(partial)) == 3
    assert 'data-partial-url="/kunden/' in partial
    shown = clerk.get(f"/kunden/{number}?ordner={LETTERS}&dokument={ids['alpha']}").text
    assert (f'data-preview data-src="/api/v1/documents/{ids["alpha"]}/preview?version=1" data-type="pdf"'
            in shown)
    assert f'<tr data-document-id="{ids["alpha"]}" data-version-drop data-document-title="alpha" class="selected">' \
        in shown
    other = clerk.upload(make_pdf(["Fremd"]), "fremd.pdf", customer_number=customer(services, "Andere AG"))
    assert "gehört nicht zu dieser Akte" in clerk.get(f"/kunden/{number}?dokument={other}").text
    assert "file.read" in [e["action"] for e in services.catalog.audit.page(AuditFilter(customer_number=number))]


def test_the_upload_form_works_without_javascript(stack: tuple[Flask, Services]) -> None:
    app, services = stack
    number = customer(services)
    clerk = Browser(app, "clara")
    pdfs = [make_pdf([f"Datei {i}"]) for i in (1, 2)]
    files = [(io.BytesIO(pdf), f"datei-{i}.pdf") for i, pdf in enumerate(pdfs, 1)]
    response = clerk.post(f"/kunden/{number}/hochladen", {"folder": LETTERS, "file": files})
    assert response.headers["Location"] == f"/kunden/{number}?ordner=02+Korrespondenz"
    assert "2 Dateien hochgeladen; die Verarbeitung läuft." in clerk.follow(response)
    documents = services.catalog.documents.query(customer_number=number)
    assert len(documents) == 2 and {d.folder for d in documents} == {LETTERS} and {d.source for d in documents} == {
        "upload"}
    for document in documents:
        wait(services, document.id)
    page = clerk.follow(clerk.post(f"/kunden/{number}/hochladen", {"folder": LETTERS}))
    assert "Bitte mindestens eine Datei auswählen." in page
    again = clerk.post(f"/kunden/{number}/hochladen", {"folder": LETTERS, "file": [
        (io.BytesIO(pdfs[0]), "nochmal.pdf")]})
    assert "Diese Datei ist bereits abgelegt." in clerk.follow(again)


def test_an_e_invoice_shows_its_fields_as_a_table_and_its_rendition(stack: tuple[Flask, Services]) -> None:
    app, services = stack
    number = customer(services)
    clerk = Browser(app, "clara")
    document_id = clerk.upload(cii_invoice("XR-2026-0001", number, "Akte Test GmbH"), "rechnung.xml")
    assert wait(services, document_id) == "filed"
    html = clerk.get(f"/dokumente/{document_id}").text
    table = html[html.index('id="einvoice"'):]
    table = table[:table.index("</table>")]
    for label, value in (("Rechnungsnummer", "XR-2026-0001"), ("Rechnungsdatum", "12.03.2026"),
                         ("Fällig am", "11.04.2026"), ("Verkäufer", "Kundenakte Demo Verkauf GmbH"),
                         ("Käufer", "Akte Test GmbH"), ("Nettobetrag", "100,00 EUR"), ("Umsatzsteuer", "19,00 EUR"),
                         ("Bruttobetrag", "119,00 EUR"), ("Währung", "EUR"), ("Format", "CII")):
        assert f'<th scope="row">{label}</th><td>{value}</td>' in table, label
    assert 'data-type="html"' in html and ">Lesefassung (HTML)<" in html
    assert '<tr data-version="1" class="selected">' in html
    assert '<span class="badge badge-current">aktuell</span>' in html
    assert f"/api/v1/documents/{document_id}/content?version=1&amp;download=1" in html


def test_the_edit_form_retitles_moves_tags_and_sets_fields(stack: tuple[Flask, Services]) -> None:
    app, services = stack
    number = customer(services)
    clerk = Browser(app, "clara")
    document_id = clerk.upload(make_pdf(["Ein Brief"]), "brief.pdf", customer_number=number, folder=LETTERS,
                               document_class="Korrespondenz", fields='{"betrag": 12, "positionen": [1, 2]}')
    wait(services, document_id)
    page = clerk.get(f"/dokumente/{document_id}").text
    assert 'value="betrag"' in page and 'value="12"' in page and "Nicht hier änderbar: positionen." in page
    for label in ("Titel", "Klasse", "Ordner", "Tags"):
        assert f">{label}</label>" in page, label
    form = {"title": "Beschwerde Heizung", "document_class": "Reklamation", "folder": "07 Reklamationen",
            "tags": "heizung, dringend", "feld_name": ["betrag", "aktenzeichen", ""], "feld_wert": ["12", "AZ-7", ""]}
    after = clerk.follow(clerk.post(f"/dokumente/{document_id}/bearbeiten", form))
    assert "Änderungen gespeichert." in after and "<h1>Beschwerde Heizung</h1>" in after
    document = services.catalog.documents.get(document_id)
    assert (document.folder, document.document_class, document.tags) == (
        "07 Reklamationen", "Reklamation", ["dringend", "heizung"])
    assert document.fields == {"betrag": 12, "positionen": [1, 2], "aktenzeichen": "AZ-7"}  # 12 stays a number
    assert rows(clerk.get(f"/kunden/{number}?ordner=07%20Reklamationen").text) == [document_id]
    assert {"document.refile", "document.edit_fields"} <= set(actions(services, document_id))
    [edit] = services.catalog.audit.page(AuditFilter(document_id=document_id, action="document.edit_fields"))
    assert edit["details"]["new"] == {"aktenzeichen": "AZ-7"} and edit["actor"] == "clara"
    same = {**form, "tags": "dringend,heizung", "feld_name": ["aktenzeichen", "betrag"], "feld_wert": ["AZ-7", "12"]}
    assert "Keine Änderungen." in clerk.follow(clerk.post(f"/dokumente/{document_id}/bearbeiten", same))
    assert actions(services, document_id).count("document.refile") == 1  # the same values again change nothing
    # an empty value removes a field; an empty title is refused and nothing changes
    clerk.post(f"/dokumente/{document_id}/bearbeiten", {**form, "feld_name": ["betrag", "aktenzeichen"],
                                                        "feld_wert": ["", "AZ-7"]})
    assert services.catalog.documents.get(document_id).fields == {"positionen": [1, 2], "aktenzeichen": "AZ-7"}
    refused = clerk.follow(clerk.post(f"/dokumente/{document_id}/bearbeiten", {**form, "title": " "}))
    assert "Nicht gespeichert:" in refused and services.catalog.documents.get(document_id).title == "Beschwerde Heizung"


def test_a_new_version_by_form_keeps_the_edited_fields_and_version_one(stack: tuple[Flask, Services]) -> None:
    app, services = stack
    number = customer(services)
    clerk = Browser(app, "clara")
    first = cii_invoice("XR-1", number, "Akte Test GmbH")
    document_id = clerk.upload(first, "rechnung.xml")
    wait(services, document_id)
    fields = services.catalog.documents.get(document_id).fields
    rows_ = [(k, str(v)) for k, v in fields.items() if k != "invoice_number"] + [("invoice_number", "KORR-1")]
    clerk.post(f"/dokumente/{document_id}/bearbeiten", {
        "title": "Rechnung", "document_class": "Rechnung", "folder": "04 Rechnungen", "tags": "",
        "feld_name": [k for k, _ in rows_], "feld_wert": [v for _, v in rows_]})
    second = cii_invoice("XR-2", number, "Akte Test GmbH", gross="238.00", net="200.00", tax="38.00")
    response = clerk.post(f"/dokumente/{document_id}/version", {
        "file": (io.BytesIO(second), "rechnung-korrigiert.xml"), "comment": "Betrag korrigiert"})
    assert response.headers["Location"].endswith("#versionen")
    assert "Version 2 wurde hochgeladen; die Verarbeitung läuft." in clerk.follow(response)
    wait(services, document_id, version=2)
    fields = services.catalog.documents.get(document_id).fields
    assert fields["invoice_number"] == "KORR-1" and fields["gross_total"] == "238.00"  # the person's value wins
    html = clerk.get(f"/dokumente/{document_id}").text
    versions = html[html.index('id="versions"'):html.index("</table>", html.index('id="versions"'))]
    assert re.findall(r'<tr data-version="(\d+)"', versions) == ["2", "1"]
    assert "2 <span class=\"badge badge-current\">aktuell</span>" in versions and "Betrag korrigiert" in versions
    assert ">clara<" in versions
    assert clerk.get(f"/api/v1/documents/{document_id}/content?version=1&download=1").data == first
    assert "Vorschau · Version 1" in clerk.get(f"/dokumente/{document_id}?version=1").text
    duplicate = clerk.post(f"/dokumente/{document_id}/version", {"file": (io.BytesIO(second), "noch.xml")})
    assert "bereits Version 2" in clerk.follow(duplicate)
    assert "Bitte eine Datei" in clerk.follow(clerk.post(f"/dokumente/{document_id}/version", {"comment": "x"}))


def test_an_auditor_reads_everything_changes_nothing_and_sees_the_activity(stack: tuple[Flask, Services]) -> None:
    app, services = stack
    number = customer(services)
    clerk = Browser(app, "clara")
    document_id = clerk.upload(make_pdf(["Prüfung"]), "pruefung.pdf", customer_number=number, folder=LETTERS,
                               fields='{"aktenzeichen": "AZ-1"}')
    wait(services, document_id)
    auditor = Browser(app, "paul")
    html = auditor.get(f"/dokumente/{document_id}").text
    for forbidden in ("/bearbeiten", "data-version-drop", "version-dialog", "/version\"", "Verwaltung",
                      "/legal-hold", "/loeschen", 'id="uploads"'):
        assert forbidden not in html, forbidden
    assert "<td>aktenzeichen</td>" in html and 'id="versions"' in html
    assert f'href="/dokumente/{document_id}/aktivitaet"' in html
    forged = auditor.post(f"/dokumente/{document_id}/bearbeiten", {"title": "Gefälscht"})
    assert forged.status_code == 403
    refused = auditor.post(f"/dokumente/{document_id}/version", {"file": (io.BytesIO(b"%PDF-1.4"), "x.pdf")})
    assert refused.status_code == 403
    assert services.catalog.documents.get(document_id).title == "pruefung"
    for _ in range(3):
        clerk.get(f"/dokumente/{document_id}")
    activity = auditor.get(f"/dokumente/{document_id}/aktivitaet").text
    assert "hochgeladen" in activity and "angesehen" in activity and ">clara<" in activity
    assert "3× seit" in activity  # the same entry again and again is one row
    assert clerk.get(f"/dokumente/{document_id}/aktivitaet").status_code == 403
    clerk_page = clerk.get(f"/dokumente/{document_id}").text
    assert "/aktivitaet" not in clerk_page and "Verwaltung" not in clerk_page
    assert clerk.post(f"/dokumente/{document_id}/legal-hold", {"aktion": "setzen", "grund": "x"}).status_code == 403
    assert clerk.post(f"/dokumente/{document_id}/loeschen", {}).status_code == 403


def test_an_admin_sets_a_legal_hold_and_uses_the_trash(stack: tuple[Flask, Services]) -> None:
    app, services = stack
    number = customer(services)
    admin = Browser(app, "anna")
    document_id = admin.upload(make_pdf(["Wartungsprotokoll"]), "wartung.pdf", customer_number=number,
                               document_class="Wartung")  # no retention: deletable
    wait(services, document_id)
    path = f"/dokumente/{document_id}"
    assert "Grund" in admin.follow(admin.post(f"{path}/legal-hold", {"aktion": "setzen", "grund": ""}))
    held = admin.follow(admin.post(f"{path}/legal-hold", {"aktion": "setzen", "grund": "Rechtsstreit 4711"}))
    assert "Legal Hold gesetzt." in held and 'title="Rechtsstreit 4711">Legal Hold</span>' in held
    assert ">Legal Hold aufheben</button>" in held and 'data-confirm="' in held
    assert "Legal Hold" in admin.follow(admin.post(f"{path}/loeschen", {}))
    assert services.catalog.documents.get(document_id).trashed_at is None
    admin.post(f"{path}/legal-hold", {"aktion": "aufheben", "grund": "Verfahren beendet"})
    trashed = admin.follow(admin.post(f"{path}/loeschen", {}))
    assert "Das Dokument liegt im Papierkorb" in trashed and "im Papierkorb seit" in trashed
    assert rows(admin.get(f"/kunden/{number}?ordner=06%20Service%20%26%20Wartung").text) == []
    assert "Das Dokument ist wiederhergestellt." in admin.follow(admin.post(f"{path}/wiederherstellen", {}))
    assert rows(admin.get(f"/kunden/{number}?ordner=06%20Service%20%26%20Wartung").text) == [document_id]


def test_titles_and_file_names_are_shown_as_text(stack: tuple[Flask, Services]) -> None:
    app, services = stack
    number = customer(services)
    clerk = Browser(app, "clara")
    document_id = clerk.upload(make_pdf(["XSS"]), "<svg onload=alert(1)>.pdf", customer_number=number,
                               folder=LETTERS, title="<img src=x onerror=alert(1)>")
    wait(services, document_id)
    for path in (f"/kunden/{number}?dokument={document_id}", f"/dokumente/{document_id}",
                 f"/kunden/{number}?partial=1"):
        html = clerk.get(path).text
        assert "<img src=x" not in html and "<svg" not in html, path
        assert "&lt;img src=x onerror=alert(1)&gt;" in html, path


def test_an_unknown_document_is_a_german_404(stack: tuple[Flask, Services]) -> None:
    app, _ = stack
    response = Browser(app, "clara").get("/dokumente/gibt-es-nicht")
    assert response.status_code == 404 and "existiert nicht" in response.text


def test_update_fields_keeps_warnings_and_structured_fields(stack: tuple[Flask, Services]) -> None:
    app, services = stack
    clerk = Browser(app, "clara")
    document_id = clerk.upload(make_pdf(["Felder"]), "felder.pdf", customer_number=customer(services),
                               fields='{"n": 1, "liste": ["a"]}')
    wait(services, document_id)
    services.catalog.documents.update(document_id, fields={"n": 1, "liste": ["a"], "warnings": ["Kein Text?"]})
    updated = uc.update_fields(services, CLI, document_id, {"n": "1", "neu": "x"})
    assert updated.fields == {"n": 1, "liste": ["a"], "neu": "x", "warnings": ["Kein Text?"]}
    assert updated.given_fields == {"n": 1, "liste": ["a"], "neu": "x"}
    assert uc.update_fields(services, CLI, document_id, {"n": "1", "neu": "x"}) == updated  # no change: no entry
    assert actions(services, document_id).count("document.edit_fields") == 1
    with pytest.raises(ValidationError):
        uc.update_fields(services, CLI, document_id, {"warnings": "weg"})
