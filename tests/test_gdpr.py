"""GDPR (issue #12) on embedded defaults, through a real `dms serve` in `DMS_AUTH_MODE=users` and
the CLI: the Art. 15 report (JSON, and the PDF read back with pypdfium2) lists the accesses made
here; Art. 17 erasure deletes an unretained note at once, restricts a retained invoice (hidden
from a clerk's search, lists, reads and the ERP listing; still there for admins and auditors and
in the report) and anonymises the master data; a legal hold on the customer restricts everything.
The restricted search filter also runs on OpenSearch: tests/scaleout/test_gdpr_servers.py."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pypdfium2
import pytest

from dms.config import Settings
from tests.docgen import make_pdf
from tests.live import Api, LiveServer

PASSWORD = "ein-sehr-geheimes-passwort"
USERS = {"anna": "admin", "carl": "clerk", "dora": "auditor"}
RETAINED = "Rechnung"  # 10 years by default
UNRETAINED = "Sonstiges"  # no retention


@dataclass
class Stack:
    server: LiveServer
    env: dict[str, str]
    data: Path
    apis: dict[str, Api] = field(default_factory=dict)

    def api(self, user: str) -> Api:
        if user not in self.apis:
            api = Api(self.server.url)
            api.http.auth = (user, PASSWORD)
            self.apis[user] = api
        return self.apis[user]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "dms.cli", *args], env=self.env, capture_output=True,
                              text=True, timeout=300)


def start_stack(base: Path, env: dict[str, str]) -> Stack:
    """A `dms serve` with admin anna, clerk carl and auditor dora."""
    from dms.app.services import open_catalog
    from dms.identity.repository import IdentityRepository

    data = base / "data"
    data.mkdir(parents=True, exist_ok=True)
    env = {**env, "DMS_DATA_DIR": str(data), "DMS_AUTH_MODE": "users"}
    catalog = open_catalog(Settings.from_env(env))
    identity = IdentityRepository.for_catalog(catalog)
    for name, role in USERS.items():
        identity.add_user(name, role)
        identity.set_password(name, PASSWORD)
    catalog.close()
    server = LiveServer(data, env=env)
    server.start()
    return Stack(server, server.env, data)


def upload(stack: Stack, customer: str, document_class: str, word: str) -> dict:
    """A filed document of `document_class`; a retained one also archived (`archived_until` set)."""
    api = stack.api("anna")
    pdf = make_pdf([document_class, f"Kundennummer {customer}", f"Suchwort {word}"])
    document_id = api.upload_ok(pdf, f"{word}.pdf", customer_number=customer, document_class=document_class)
    body = api.wait(document_id)
    assert body["status"] == "filed", body
    deadline = time.monotonic() + 120
    while document_class == RETAINED and body.get("archived_until") is None:  # archived after filing
        assert time.monotonic() < deadline, f"{document_id} never archived: {body}"
        time.sleep(0.2)
        body = api.get(f"/documents/{document_id}").json()
    return body


def hits(stack: Stack, user: str, word: str) -> list[str]:
    return [hit["id"] for hit in stack.api(user).search(word)["hits"]]


def listed(stack: Stack, user: str, **params: str) -> list[str]:
    response = stack.api(user).get("/documents", params={**params, "limit": "1000"})
    assert response.status_code == 200, response.text
    return [d["id"] for d in response.json()["documents"]]


def in_file(stack: Stack, user: str, customer: str) -> list[str]:
    response = stack.api(user).get(f"/customers/{customer}/file")
    assert response.status_code == 200, response.text
    return [d["id"] for folder in response.json()["folders"] for d in folder["documents"]]


def report(stack: Stack, user: str, customer: str) -> dict:
    response = stack.api(user).get(f"/customers/{customer}/gdpr-report", params={"format": "json"})
    assert response.status_code == 200, response.text
    return response.json()


def pdf_text(data: bytes) -> str:
    pdf = pypdfium2.PdfDocument(data)
    try:
        return "\n".join(page.get_textpage().get_text_bounded() for page in pdf)
    finally:
        pdf.close()


def erase(stack: Stack, customer: str, user: str = "anna", **body: str):
    return stack.api(user).post(f"/customers/{customer}/erasure", json=body)


@dataclass
class Erased:
    customer: str
    invoice: dict
    note: dict
    invoice_word: str
    note_word: str
    request: dict


def erase_invoice_and_note(stack: Stack) -> Erased:
    """A customer with a retained invoice and an unretained note, erased by anna."""
    tag = uuid.uuid4().hex[:8]
    customer = stack.api("anna").create_customer(f"Datenschutz {tag} GmbH", emails=[f"kontakt-{tag}@example.org"],
                                                 tags=["vip"])["number"]
    invoice_word, note_word = f"Rechnungsprobe{tag}", f"Notizprobe{tag}"
    invoice = upload(stack, customer, RETAINED, invoice_word)
    note = upload(stack, customer, UNRETAINED, note_word)
    assert invoice["archived_until"] is not None and note.get("archived_until") is None
    assert hits(stack, "carl", invoice_word) == [invoice["id"]]
    response = erase(stack, customer, reason="Widerruf der Einwilligung, Schreiben vom 01.12.2026")
    assert response.status_code == 200, response.text
    return Erased(customer, invoice, note, invoice_word, note_word, response.json())


# --- the tests ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("DMS_")}
    found = start_stack(tmp_path_factory.mktemp("gdpr"), env)
    try:
        yield found
    finally:
        found.server.stop()


def test_the_report_lists_documents_and_the_accesses_made(stack: Stack) -> None:
    tag = uuid.uuid4().hex[:8]
    customer = stack.api("anna").create_customer(f"Auskunft {tag} KG", emails=[f"a-{tag}@example.org"])["number"]
    invoice = upload(stack, customer, RETAINED, f"Auskunftsprobe{tag}")
    download = stack.api("carl").get(f"/documents/{invoice['id']}/content")
    assert download.status_code == 200

    assert stack.api("carl").get(f"/customers/{customer}/gdpr-report").status_code == 403  # clerk: no audit:read
    body = report(stack, "dora", customer)
    assert body["customer"]["number"] == customer and body["customer"]["emails"] == [f"a-{tag}@example.org"]
    [document] = body["documents"]
    assert document["id"] == invoice["id"] and document["class"] == RETAINED and document["source"] == "api"
    assert document["archived_until"] == invoice["archived_until"] and document["retained_until"]
    assert document["retention_policy"]["years"] == 10 and document["legal_hold"] is False
    assert body["mail"] == []
    actions = {(e["actor"], e["action"], e["document_id"]) for e in body["accesses"]}
    assert ("carl", "document.download", invoice["id"]) in actions
    assert ("anna", "customer.create", None) in actions
    assert ("dora", "customer.gdpr_report", None) in actions  # the request itself is audited

    response = stack.api("anna").get(f"/customers/{customer}/gdpr-report")
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/pdf"
    text = pdf_text(response.content)
    assert f"Kunde {customer}" in text and f"Auskunft {tag} KG" in text
    assert invoice["id"][:20] in text.replace("\n", "") and "document.download" in text and "carl" in text


def test_erasure_restricts_the_invoice_and_deletes_the_note(stack: Stack) -> None:
    erased = erase_invoice_and_note(stack)
    customer, invoice_id, note_id = erased.customer, erased.invoice["id"], erased.note["id"]
    request = erased.request
    assert request["status"] == "done" and request["outcome"] == "restricted"
    assert (request["purged"], request["restricted"]) == (1, 1)
    steps = {(s["action"], s["document_id"]) for s in request["steps"]}
    assert {("purge", note_id), ("restrict", invoice_id), ("anonymise", None)} <= steps
    assert {"number", "name"} <= set(request["kept"]) and "Aufbewahr" in request["explanation"]

    # the note is gone, for everyone
    assert stack.api("anna").get(f"/documents/{note_id}").status_code == 404
    assert hits(stack, "anna", erased.note_word) == []
    # the invoice: hidden from a clerk (search, lists, the customer file, the ERP listing, reads)
    assert hits(stack, "carl", erased.invoice_word) == []
    assert invoice_id not in listed(stack, "carl", customer=customer)
    assert invoice_id not in listed(stack, "carl", updated_since="2000-01-01")
    assert invoice_id not in in_file(stack, "carl", customer)
    assert stack.api("carl").get(f"/documents/{invoice_id}").status_code == 404
    assert stack.api("carl").get(f"/documents/{invoice_id}/content").status_code == 404
    # … still there for admins and auditors, and still archived
    for user in ("anna", "dora"):
        assert hits(stack, user, erased.invoice_word) == [invoice_id]
        assert invoice_id in listed(stack, user, customer=customer)
        assert invoice_id in in_file(stack, user, customer)
    shown = stack.api("dora").get(f"/documents/{invoice_id}").json()
    assert shown["restricted"] is True and shown["archived_until"] == erased.invoice["archived_until"]

    # master data: what the invoice needs stays, the rest is gone; the state is visible
    master = stack.api("anna").get(f"/customers/{customer}").json()
    assert master["erasure_state"] == "restricted" and master["erasure_requested_at"]
    assert master["emails"] == [] and master["tags"] == [] and master["name"].startswith("Datenschutz")
    assert stack.api("dora").get(f"/customers/{customer}/erasure").json()["id"] == request["id"]

    # every step audited
    entries = stack.api("dora").get("/audit", params={"customer": customer, "limit": 1000}).json()["entries"]
    actions = {(e["action"], e["document_id"]) for e in entries}
    assert {("customer.erasure_requested", None), ("document.purge", note_id), ("document.restrict", invoice_id),
            ("customer.anonymise", None), ("customer.erasure_done", None)} <= actions

    # the report still lists the restricted invoice (not the purged note, but its audit entries)
    body = report(stack, "dora", customer)
    assert [(d["id"], d["restricted"]) for d in body["documents"]] == [(invoice_id, True)]
    assert ("document.purge", note_id) in {(e["action"], e["document_id"]) for e in body["accesses"]}
    assert body["erasure"]["outcome"] == "restricted"


def test_erasure_needs_an_admin_and_a_reason(stack: Stack) -> None:
    customer = stack.api("anna").create_customer(f"Rechte {uuid.uuid4().hex[:6]}")["number"]
    assert erase(stack, customer, "carl", reason="x").status_code == 403
    assert erase(stack, customer, "dora", reason="x").status_code == 403
    assert erase(stack, customer).status_code == 400
    assert erase(stack, customer, reason="  ").status_code == 400
    assert stack.api("dora").get(f"/customers/{customer}/erasure").status_code == 404
    assert stack.api("anna").post("/customers/99999999/erasure", json={"reason": "x"}).status_code == 404


def test_a_customer_without_retained_documents_is_erased_and_anonymised(stack: Stack) -> None:
    """Through the CLI: the note is purged, the name replaced, nothing of the old name is left in
    the object store (the customer's sidecar versions included); the report by CLI works too."""
    tag = uuid.uuid4().hex[:8]
    name = f"Vergessen{tag} AG"
    customer = stack.api("anna").create_customer(name, emails=[f"v-{tag}@example.org"])["number"]
    note = upload(stack, customer, UNRETAINED, f"Vergessensprobe{tag}")
    result = stack.cli("gdpr", "erase", customer, "--reason", "Art. 17 Antrag", "--json")
    assert result.returncode == 0, result.stderr
    request = json.loads(result.stdout)
    assert (request["outcome"], request["purged"], request["restricted"]) == ("erased", 1, 0)
    assert list(request["kept"]) == ["number"]
    master = stack.api("anna").get(f"/customers/{customer}").json()
    assert master["name"] == f"Gelöscht {customer}" and master["emails"] == [] and master["erasure_state"] == "erased"
    assert stack.api("anna").get(f"/documents/{note['id']}").status_code == 404
    leaked = [p for p in (stack.data / "objects").rglob("*") if p.is_file() and name.encode() in p.read_bytes()]
    assert leaked == []

    out = stack.data.parent / f"report-{customer}.json"
    result = stack.cli("gdpr", "report", customer, "--format", "json", "-o", str(out))
    assert result.returncode == 0, result.stderr
    body = json.loads(out.read_text(encoding="utf-8"))
    assert body["documents"] == [] and body["customer"]["name"] == f"Gelöscht {customer}"
    assert ("cli", "customer.gdpr_report") in {(e["actor"], e["action"]) for e in body["accesses"]}
    pdf = stack.data.parent / f"report-{customer}.pdf"
    assert stack.cli("gdpr", "report", customer, "-o", str(pdf)).returncode == 0
    assert f"Gelöscht {customer}" in pdf_text(pdf.read_bytes())


def test_a_legal_hold_on_the_customer_restricts_everything(stack: Stack) -> None:
    tag = uuid.uuid4().hex[:8]
    customer = stack.api("anna").create_customer(f"Streitfall {tag} GmbH", emails=[f"s-{tag}@example.org"])["number"]
    note = upload(stack, customer, UNRETAINED, f"Streitnotiz{tag}")
    held = stack.api("anna").post(f"/customers/{customer}/legal-hold", params={"reason": "Klage 2026"})
    assert held.status_code == 200, held.text
    response = erase(stack, customer, reason="Antrag des Kunden")
    assert response.status_code == 200, response.text
    request = response.json()
    assert request["legal_hold"] is True and request["outcome"] == "restricted"
    assert (request["purged"], request["restricted"]) == (0, 1) and "Legal Hold" in request["explanation"]
    assert stack.api("carl").get(f"/documents/{note['id']}").status_code == 404
    assert stack.api("anna").get(f"/documents/{note['id']}").json()["restricted"] is True
    master = stack.api("anna").get(f"/customers/{customer}").json()
    assert master["emails"] == [f"s-{tag}@example.org"] and master["erasure_state"] == "restricted"


def test_master_data_and_notes_are_reported_and_erased(stack: Stack) -> None:
    """Issue 14's master data (person, address, contacts, bank account, consents) and the customer's
    notes are in the Art. 15 report (JSON and PDF) and gone after an Art. 17 erasure, from the
    catalog and from every object in the store."""
    tag = uuid.uuid4().hex[:8]
    anna = stack.api("anna")
    customer = anna.create_customer(
        f"Erika{tag} Musterfrau", kind="natural", first_name=f"Erika{tag}", last_name="Musterfrau",
        birth_date="1970-04-01", addresses=[{"street": f"Gartenweg{tag} 3", "postal_code": "10115", "city": "Berlin"}],
        contacts=[{"name": f"Max{tag} Musterfrau", "role": "Ehemann", "phones": ["+49 30 1234567"]}],
        bank_accounts=[{"iban": "DE89370400440532013000"}],
        consents=[{"purpose": "newsletter", "granted": True, "date": "2026-01-02", "source": "Formular"}],
    )["number"]
    note = anna.post(f"/customers/{customer}/notes", json={"type": "call", "text": f"Rueckruf{tag} erbeten"})
    assert note.status_code == 201, note.text

    body = report(stack, "dora", customer)
    assert body["customer"]["birth_date"] == "1970-04-01"
    assert body["customer"]["bank_accounts"][0]["iban"] == "DE89370400440532013000"
    assert [n["text"] for n in body["notes"]] == [f"Rueckruf{tag} erbeten"]
    pdf = stack.api("dora").get(f"/customers/{customer}/gdpr-report")
    assert pdf.status_code == 200
    text = pdf_text(pdf.content)
    assert "Geburtsdatum" in text and f"Gartenweg{tag}" in text and f"Rueckruf{tag}" in text

    response = erase(stack, customer, reason="Antrag nach Art. 17, Schreiben vom 02.12.2026")
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "erased"
    master = anna.get(f"/customers/{customer}").json()
    assert master["name"] == f"Gelöscht {customer}"
    for name in ("first_name", "last_name", "birth_date"):
        assert master.get(name) is None, (name, master)
    for name in ("addresses", "contacts", "bank_accounts", "consents"):
        assert master.get(name) == [], (name, master)
    assert report(stack, "dora", customer)["notes"] == []
    timeline = anna.get(f"/customers/{customer}/timeline", params={"type": "call"}).json()
    assert timeline["entries"] == []
    leaked = [p for p in (stack.data / "objects").rglob("*") if p.is_file()
              and any(word.encode() in p.read_bytes() for word in (f"Erika{tag}", f"Rueckruf{tag}", f"Gartenweg{tag}"))]
    assert leaked == []
