"""A customer's timeline, notes and follow-ups through the HTTP API (Flask's test client, users mode,
embedded backends in a temporary folder, real document processing): the timeline shows an uploaded
document, a note and a master-data change in order, filtered by type and paged by cursor; follow-ups
are due per user and disappear once done; an auditor cannot write notes; notes survive a rebuild."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient

from dms.app.notes import restore_notes
from dms.app.services import build_services
from dms.catalog import Catalog
from dms.config import Settings
from dms.identity.repository import IdentityRepository
from dms.rebuild import rebuild_catalog
from dms.web import create_app
from tests.docgen import make_pdf

PASSWORDS = {"anna": "admin-passwort-2026", "clara": "sachbearbeiter-2026", "bernd": "sachbearbeiter-2027",
             "paul": "pruefer-passwort-2026"}
ROLES = {"anna": "admin", "clara": "clerk", "bernd": "clerk", "paul": "auditor"}
TERMINAL = {"filed", "needs_review", "failed"}


class Client:
    """The API as one user (HTTP Basic) or token sees it."""

    def __init__(self, app: Flask, user: str | None = None, token: str | None = None) -> None:
        self.client: FlaskClient = app.test_client()
        if token:
            self.auth = f"Bearer {token}"
        else:
            self.auth = "Basic " + base64.b64encode(f"{user}:{PASSWORDS[user or '']}".encode()).decode()

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.client.open("/api/v1" + path, method=method, headers={"Authorization": self.auth}, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.call("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self.call("PATCH", path, **kwargs)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, str, Path]]:
    """The app in users mode with four users and a token that may only read customers."""
    data = tmp_path_factory.mktemp("timeline") / "data"
    settings = Settings.from_env({"DMS_DATA_DIR": str(data), "DMS_AUTH_MODE": "users"})
    services = build_services(settings, with_queue=False)
    try:
        repository = IdentityRepository.for_catalog(services.catalog)
        for name, password in PASSWORDS.items():
            repository.add_user(name, ROLES[name], actor="test")
            repository.set_password(name, password, actor="test")
        token = repository.create_token("nur-kunden", ["customers:read"])[1]
    finally:
        services.close()
    app = create_app(settings)
    app.config["TESTING"] = True
    try:
        yield app, token, data
    finally:
        app.extensions["dms"].close()


def _customer(api: Client, name: str) -> str:
    response = api.post("/customers", json={"name": name})
    assert response.status_code == 201, response.text
    return response.get_json()["number"]


def _upload(api: Client, number: str, title: str) -> str:
    pdf = make_pdf(["Rechnung", f"Kundennummer {number}", title])
    response = api.post("/documents", data={"file": (_bytes(pdf), "rechnung.pdf"), "customer_number": number},
                        content_type="multipart/form-data")
    assert response.status_code == 202, response.text
    document_id = response.get_json()["id"]
    deadline = time.monotonic() + 120
    while api.get(f"/documents/{document_id}/status").get_json()["status"] not in TERMINAL:
        assert time.monotonic() < deadline, "the document was not processed"
        time.sleep(0.1)
    return document_id


def _bytes(data: bytes) -> Any:
    from io import BytesIO

    return BytesIO(data)


def _timeline(api: Client, number: str, **params: str) -> dict[str, Any]:
    response = api.get(f"/customers/{number}/timeline", query_string=params)
    assert response.status_code == 200, response.text
    return response.get_json()


def _today() -> Any:
    return datetime.now(ZoneInfo("Europe/Berlin")).date()


def test_the_timeline_shows_an_uploaded_document_a_note_and_a_master_data_change_in_order(stack) -> None:
    app, _token, _data = stack
    clara, anna = Client(app, "clara"), Client(app, "anna")
    number = _customer(clara, "Verlauf GmbH")
    document_id = _upload(clara, number, "Verlaufsprobe")
    note = clara.post(f"/customers/{number}/notes",
                      json={"type": "call", "text": "Rückruf wegen Angebot\nPreis passt", "duration_minutes": 15})
    assert note.status_code == 201, note.text
    assert note.headers["Location"] == f"/api/v1/customers/{number}/timeline"
    assert note.get_json()["author"] == "clara" and note.get_json()["type"] == "call"
    assert clara.patch(f"/customers/{number}", json={"status": "Interessent"}).status_code == 200

    page = _timeline(clara, number)
    assert [e["type"] for e in page["entries"]] == ["change", "call", "document", "change"]
    assert page["next_cursor"] is None and page["has_more"] is False
    update, call, document, create = page["entries"]
    assert update["actor"] == "clara" and update["summary"] == "Stammdaten geändert: status"
    assert update["change"]["changes"] == [{"field": "status", "old": "Kunde", "new": "Interessent"}]
    assert call["note"]["text"] == "Rückruf wegen Angebot\nPreis passt" and call["note"]["duration_minutes"] == 15
    assert call["summary"] == "Rückruf wegen Angebot" and call["actor"] == "clara"
    assert document["document"]["id"] == document_id and document["actor"] == "clara"
    assert create["change"]["action"] == "customer.create" and create["summary"] == "Kunde angelegt"
    assert [e["at"] for e in page["entries"]] == sorted((e["at"] for e in page["entries"]), reverse=True)

    # cursor pages: the same entries, none twice
    first = _timeline(clara, number, limit="3")
    assert first["has_more"] and len(first["entries"]) == 3
    rest = _timeline(clara, number, limit="3", cursor=first["next_cursor"])
    assert [e["id"] for e in first["entries"] + rest["entries"]] == [e["id"] for e in page["entries"]]
    assert rest["next_cursor"] is None

    # reading it is audited
    audit = anna.get("/audit", query_string={"customer": number, "action": "customer.timeline"}).get_json()
    assert {e["actor"] for e in audit["entries"]} == {"clara"} and len(audit["entries"]) == 3


def test_the_timeline_filters_by_type_and_hides_documents_without_documents_read(stack) -> None:
    app, token, _data = stack
    clara = Client(app, "clara")
    number = _customer(clara, "Filter KG")
    _upload(clara, number, "Filterprobe")
    for kind in ("note", "visit"):
        assert clara.post(f"/customers/{number}/notes", json={"type": kind, "text": kind}).status_code == 201

    assert [e["type"] for e in _timeline(clara, number, type="document")["entries"]] == ["document"]
    assert [e["type"] for e in _timeline(clara, number, type="visit,change")["entries"]] == ["visit", "change"]
    assert [e["type"] for e in _timeline(clara, number, type="note")["entries"]] == ["note"]
    bad = clara.get(f"/customers/{number}/timeline", query_string={"type": "telefonat"})
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "type"
    assert clara.get(f"/customers/{number}/timeline?cursor=gestern").status_code == 400
    assert clara.get("/customers/99999/timeline").get_json()["error"]["code"] == "customer_not_found"

    # a token that may read customers but not documents: no documents, no mail
    reader = Client(app, token=token)
    shown = _timeline(reader, number)
    assert "document" not in shown["types"] and "mail" not in shown["types"]
    assert [e["type"] for e in shown["entries"]] == ["visit", "note", "change"]
    assert _timeline(reader, number, type="document")["entries"] == []
    # an auditor reads everything
    assert "document" in [e["type"] for e in _timeline(Client(app, "paul"), number)["entries"]]


def test_followups_are_due_per_user_and_done_ones_disappear(stack) -> None:
    app, _token, _data = stack
    clara, bernd, anna = Client(app, "clara"), Client(app, "bernd"), Client(app, "anna")
    number = _customer(clara, "Wiedervorlage AG")
    today = _today()

    def log(text: str, due: Any, **extra: Any) -> dict[str, Any]:
        response = clara.post(f"/customers/{number}/notes", json={"text": text, "due": due.isoformat(), **extra})
        assert response.status_code == 201, response.text
        return response.get_json()

    overdue = log("Angebot nachfassen", today - timedelta(days=2))
    assert overdue["assignee"] == "clara"  # default: whoever logs it
    for_bernd = log("Vertrag schicken", today, assignee="bernd")
    later = log("Jahresgespräch", today + timedelta(days=30))
    assert clara.post(f"/customers/{number}/notes", json={"text": "ohne Wiedervorlage"}).status_code == 201

    def ids(api: Client, **params: str) -> list[str]:
        response = api.get("/followups", query_string=params)
        assert response.status_code == 200, response.text
        return [f["id"] for f in response.get_json()["followups"] if f["customer_number"] == number]

    assert ids(clara) == [overdue["id"]]
    assert ids(clara, due="overdue") == [overdue["id"]]
    assert ids(clara, due="all") == [overdue["id"], later["id"]]
    assert ids(bernd) == [for_bernd["id"]] and ids(bernd, due="overdue") == []
    assert ids(anna, assignee="bernd") == [for_bernd["id"]]
    [shown] = [f for f in clara.get("/followups").get_json()["followups"] if f["id"] == overdue["id"]]
    assert shown["overdue"] is True and shown["customer_name"] == "Wiedervorlage AG"

    done = bernd.patch(f"/customers/{number}/notes/{for_bernd['id']}", json={"done": True})
    assert done.status_code == 200 and done.get_json()["done_by"] == "bernd"
    assert ids(bernd) == []
    assert bernd.patch(f"/customers/{number}/notes/{for_bernd['id']}", json={"done": False}).get_json()["done"] is False
    assert ids(bernd) == [for_bernd["id"]]
    moved = clara.patch(f"/customers/{number}/notes/{later['id']}", json={"due": today.isoformat(), "text": "früher"})
    assert moved.status_code == 200 and ids(clara) == [overdue["id"], later["id"]]

    audit = anna.get("/audit", query_string={"customer": number, "action": "note.update"}).get_json()["entries"]
    assert [e["details"]["fields"] for e in audit] == [["due", "text"], ["done_at", "done_by"], ["done_at", "done_by"]]
    assert "früher" not in str(audit) and audit[0]["details"]["new"] == {"due": today.isoformat()}
    created = anna.get("/audit", query_string={"customer": number, "action": "note.create"}).get_json()["entries"]
    assert len(created) == 4 and {e["actor"] for e in created} == {"clara"}

    unknown = clara.post(f"/customers/{number}/notes", json={"text": "x", "due": today.isoformat(), "assignee": "nie"})
    assert unknown.status_code == 400 and unknown.get_json()["error"]["code"] == "unknown_assignee"


def test_note_input_is_checked(stack) -> None:
    app, _token, _data = stack
    clara = Client(app, "clara")
    number, other = _customer(clara, "Prüfung GmbH"), _customer(clara, "Andere GmbH")
    for body, field in (({"text": "  "}, "text"), ({"text": "x", "type": "fax"}, "type"),
                        ({"text": "x", "duration_minutes": -1}, "duration_minutes"),
                        ({"text": "x", "due": "morgen"}, "due"), ({"text": "x", "at": "2026-13-01T10:00:00"}, "at")):
        response = clara.post(f"/customers/{number}/notes", json=body)
        assert response.status_code == 400 and response.get_json()["error"].get("field") == field, (body, response.text)
    assert clara.post(f"/customers/{number}/notes", json={"text": "x", "farbe": "rot"}).status_code == 400
    at = clara.post(f"/customers/{number}/notes", json={"text": "Besuch vor Ort", "type": "visit",
                                                        "at": "2026-03-02T09:30:00+01:00"}).get_json()
    assert at["at"] == "2026-03-02T08:30:00+00:00"
    elsewhere = clara.patch(f"/customers/{other}/notes/{at['id']}", json={"done": True})
    assert elsewhere.status_code == 404 and elsewhere.get_json()["error"]["code"] == "note_not_found"
    assert clara.post("/customers/99999/notes", json={"text": "x"}).status_code == 404
    # a note dated long ago: cursor pages of one entry walk past it to the end, each entry once
    old = clara.post(f"/customers/{number}/notes", json={"text": "Gründung", "at": "1900-01-01T00:00:00Z"})
    assert old.status_code == 201, old.text
    seen, cursor = [], None
    for _ in range(10):
        page = _timeline(clara, number, limit="1", **({"cursor": cursor} if cursor else {}))
        seen += [e["id"] for e in page["entries"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 3 and cursor is None  # the visit, the old note, the customer's creation


def test_an_auditor_cannot_write_notes(stack) -> None:
    app, _token, _data = stack
    clara, paul = Client(app, "clara"), Client(app, "paul")
    number = _customer(clara, "Prüfer GmbH")
    note = clara.post(f"/customers/{number}/notes", json={"text": "intern"}).get_json()
    for response in (paul.post(f"/customers/{number}/notes", json={"text": "Prüfer war hier"}),
                     paul.patch(f"/customers/{number}/notes/{note['id']}", json={"text": "geändert"})):
        assert response.status_code == 403
        assert response.get_json()["error"]["missing_permission"] == "customers:write"
    entries = _timeline(paul, number)["entries"]
    assert [e["note"]["text"] for e in entries if e["type"] == "note"] == ["intern"]


def test_notes_survive_a_rebuild_of_the_catalog(stack, tmp_path: Path) -> None:
    app, _token, data = stack
    clara = Client(app, "clara")
    number = _customer(clara, "Wiederaufbau GmbH")
    note = clara.post(f"/customers/{number}/notes", json={"text": "bleibt", "due": _today().isoformat()}).get_json()
    store = app.extensions["dms"].store
    assert store.exists(f"notes/{note['id']}.json")
    fresh = Catalog(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        fresh.create_schema()
        assert rebuild_catalog(store, fresh)["notes"] >= 1
        assert restore_notes(store, fresh) == 0  # once only
        from dms.catalog.notes import NoteRepository

        restored = NoteRepository(fresh.db).get(note["id"])
        assert restored.to_dict() == note
    finally:
        fresh.close()
