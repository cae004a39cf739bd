"""The tabs of a customer page (Stammdaten, Kontakte, Akte, Verlauf) and the follow-ups on the start
page (Flask's test client, users mode, embedded backends in a temp folder): the tabs render, note text
is escaped, the note form works with the CSRF token and not without it, a follow-up due today shows on
the start page until it is done, and an auditor gets no form and cannot post one."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient

from dms.app import customers as uc
from dms.app.principal import CLI
from dms.app.services import Services, build_services
from dms.config import Settings
from dms.identity.repository import IdentityRepository
from dms.web import create_app

PASSWORDS = {"anna": "admin-passwort-2026", "clara": "sachbearbeiter-2026", "paul": "pruefer-passwort-2026"}
ROLES = {"anna": "admin", "clara": "clerk", "paul": "auditor"}
HOSTILE = '<script>alert("x")</script> & <b>fett</b>'


@pytest.fixture(scope="module")
def template_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("pages-customer-tabs") / "data"
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
    uc.create_customer(services, CLI, {"name": "Bäckerei <Sonnenschein>", "number": "10001", "kind": "legal",
                                       "emails": ["info@sonne.example"]})
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


def _today() -> str:
    return datetime.now(ZoneInfo("Europe/Berlin")).date().isoformat()


def _body(html: str) -> str:
    return html.split("</head>", 1)[1]


def test_every_tab_renders_with_the_tab_bar(stack: tuple[Flask, Services]) -> None:
    app, _services = stack
    clerk = Browser(app, "clara")
    for path, current, heading in (("/kunden/10001/stammdaten", "stammdaten", "Stammdaten"),
                                   ("/kunden/10001/kontakte", "kontakte", "Kontakte"),
                                   ("/kunden/10001/verlauf", "verlauf", "Verlauf")):
        response = clerk.get(path)
        assert response.status_code == 200, path
        html = response.text
        tabs = re.search(r'<nav class="tabs" aria-label="Kundenbereiche" id="customer-tabs">(.*?)</nav>', html, re.S)
        links = re.findall(r'<a href="([^"]+)" data-tab="(\w+)"( aria-current="page")?>([^<]+)</a>', tabs.group(1))
        assert [(href, label) for href, _key, _cur, label in links] == [
            ("/kunden/10001/stammdaten", "Stammdaten"), ("/kunden/10001/kontakte", "Kontakte"),
            ("/kunden/10001", "Akte"), ("/kunden/10001/verlauf", "Verlauf")]
        assert [key for _href, key, cur, _label in links if cur] == [current]
        assert f'<h2 id="tab-title">{heading}</h2>' in html
        assert "Bäckerei &lt;Sonnenschein&gt;" in html and "<Sonnenschein>" not in html
        assert "<script" not in _body(html) and "style=" not in html and "onclick=" not in html
    master = clerk.get("/kunden/10001/stammdaten").text
    assert re.search(r"<dt>Kundennummer</dt><dd>10001</dd>", master)
    assert re.search(r"<dt>Art</dt><dd>juristische Person</dd>", master)
    contacts = clerk.get("/kunden/10001/kontakte").text
    assert '<a href="mailto:info@sonne.example">info@sonne.example</a>' in contacts
    assert clerk.get("/kunden/99999/verlauf").status_code == 404


def test_master_data_and_contacts_show_what_the_customer_has_with_ibans_masked_for_clerks(
        stack: tuple[Flask, Services]) -> None:
    app, services = stack
    uc.create_customer(services, CLI, {
        "number": "10002", "kind": "natural", "salutation": "Frau", "first_name": "Erika", "last_name": "Muster",
        "birth_date": "1970-05-01",
        "addresses": [{"kind": "billing", "street": "Hauptstr. 1", "postal_code": "10115", "city": "Berlin"},
                      {"kind": "main", "street": "Müllerstraße 12", "postal_code": "80331", "city": "München"}],
        "contacts": [{"name": "Max <Muster>", "role": "Sohn", "phones": ["+49 30 123"], "emergency": True}],
        "bank_accounts": [{"iban": "DE89370400440532013000", "holder": "Erika Muster"}],
        "consents": [{"purpose": "newsletter", "granted": True, "date": "2026-01-01", "source": "Formular"}],
    })
    clerk, admin = Browser(app, "clara"), Browser(app, "anna")
    master = clerk.get("/kunden/10002/stammdaten").text
    for label, value in (("Name", "Erika Muster"), ("Art", "natürliche Person"), ("Anrede", "Frau"),
                         ("Vorname", "Erika"), ("Nachname", "Muster"), ("Geburtsdatum", "01.05.1970")):
        assert f"<dt>{label}</dt><dd>{value}</dd>" in master, label
    assert "<td>Newsletter</td><td>ja</td><td>01.01.2026</td><td>Formular</td>" in master
    assert "**** 3000" in master and "DE89370400440532013000" not in master
    assert "DE89370400440532013000" in admin.get("/kunden/10002/stammdaten").text
    contacts = clerk.get("/kunden/10002/kontakte").text
    assert contacts.index("Hauptanschrift") < contacts.index("Rechnungsanschrift")  # the main address first
    assert "Müllerstraße 12" in contacts and "80331 München" in contacts
    assert "Max &lt;Muster&gt;" in contacts and "Notfallkontakt" in contacts and 'href="tel:+4930123"' in contacts


def test_the_note_form_logs_a_call_whose_text_is_escaped(stack: tuple[Flask, Services]) -> None:
    app, services = stack
    clerk = Browser(app, "clara")
    form = clerk.get("/kunden/10001/verlauf").text
    for label in ("Art", "Text", "Zeitpunkt", "Dauer (Minuten)", "Wiedervorlage am", "Zuständig"):
        assert re.search(rf'<label for="note-[a-z]+">{re.escape(label)}</label>', form), label
    assert re.search(r'<form method="post" action="/kunden/10001/verlauf" class="form" id="note-form">\s*'
                     r'<input type="hidden" name="csrf_token" value="[^"]+">', form)
    response = clerk.post("/kunden/10001/verlauf", {"type": "call", "text": HOSTILE + "\nzweite Zeile",
                                                    "at": "2026-03-02T09:30", "duration": "20", "due": "",
                                                    "assignee": ""})
    assert response.status_code == 303 and response.headers["Location"] == "/kunden/10001/verlauf"
    html = clerk.get("/kunden/10001/verlauf").text
    assert "Anruf gespeichert." in html
    assert '&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;fett&lt;/b&gt;\nzweite Zeile' in html
    assert "<script>alert" not in html and "<b>fett</b>" not in html
    entry = re.search(r'<li class="tl-entry tl-call" data-entry-id="note:[^"]+" data-type="call">(.*?)</li>', html,
                      re.S).group(1)
    assert '<time datetime="2026-03-02T08:30:00+00:00">02.03.2026 09:30</time>' in entry
    assert "Dauer: 20 Min." in entry and "clara" in entry
    filtered = clerk.get("/kunden/10001/verlauf?typ=visit").text
    assert "tl-call" not in filtered and "Keine Einträge dieser Art." in filtered

    # without the CSRF token: refused, nothing stored
    refused = clerk.post("/kunden/10001/verlauf", {"type": "note", "text": "ohne Token"}, csrf=False)
    assert refused.status_code == 403
    assert "ohne Token" not in clerk.get("/kunden/10001/verlauf").text
    # a bad value: the form again, with what was typed and the field marked
    bad = clerk.post("/kunden/10001/verlauf", {"type": "note", "text": "Notiz bleibt", "duration": "viel"})
    assert bad.status_code == 422
    assert 'role="alert" id="note-error">Die Dauer bitte in ganzen Minuten angeben.' in bad.text
    assert re.search(r'id="note-duration"[^>]*aria-invalid="true"', bad.text)
    assert ">Notiz bleibt</textarea>" in bad.text


def test_a_followup_due_today_shows_on_the_start_page_until_done(stack: tuple[Flask, Services]) -> None:
    app, _services = stack
    clerk, admin = Browser(app, "clara"), Browser(app, "anna")
    assert "Keine fälligen Wiedervorlagen." in clerk.get("/").text
    response = clerk.post("/kunden/10001/verlauf", {"type": "note", "text": "Angebot nachfassen", "due": _today(),
                                                    "assignee": ""})
    assert response.status_code == 303
    home = clerk.get("/").text
    section = re.search(r'<section id="followups".*?</section>', home, re.S).group(0)
    assert "Angebot nachfassen" in section and 'href="/kunden/10001/verlauf"' in section
    assert "Bäckerei &lt;Sonnenschein&gt;" in section
    assert "Angebot nachfassen" not in admin.get("/").text  # someone else's follow-up
    action = re.search(r'action="(/kunden/10001/verlauf/[^"]+/erledigt)"', section).group(1)
    done = clerk.post(action, {"aktion": "erledigt", "zurueck": "/"})
    assert done.status_code == 303 and done.headers["Location"] == "/"
    home = clerk.get("/").text
    assert "Wiedervorlage erledigt." in home and "Keine fälligen Wiedervorlagen." in home
    timeline = clerk.get("/kunden/10001/verlauf").text
    assert re.search(r"erledigt \d\d\.\d\d\.\d{4} von clara", timeline)
    assert clerk.post(action, {"zurueck": "https://example.org/"}).headers["Location"] == "/kunden/10001/verlauf"


def test_an_auditor_sees_the_timeline_but_no_form(stack: tuple[Flask, Services]) -> None:
    app, _services = stack
    clerk, auditor = Browser(app, "clara"), Browser(app, "paul")
    clerk.post("/kunden/10001/verlauf", {"type": "visit", "text": "Besuch beim Kunden", "due": _today()})
    html = auditor.get("/kunden/10001/verlauf").text
    assert "Besuch beim Kunden" in html
    assert 'id="note-form"' not in html and "/erledigt" not in html and "Stammdaten bearbeiten" not in html
    refused = auditor.post("/kunden/10001/verlauf", {"type": "note", "text": "Prüfer"})
    assert refused.status_code == 403
    assert "Prüfer" not in clerk.get("/kunden/10001/verlauf").text.split('id="timeline"', 1)[1]
