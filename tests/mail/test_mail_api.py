"""The HTTP side of email-in against a real `dms serve` (DMS_AUTH_MODE=users): customers' mail
addresses, `related` documents, received mail and the quarantine (admin only).

Mail records and document links are made through the catalog of the same data folder in this
process (what the gateway writes); everything is asserted through HTTP.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
import requests

from dms.app.services import Services, build_services
from dms.config import Settings
from tests.docgen import make_pdf
from tests.live import Api, LiveServer

PASSWORD = "ein-sehr-geheimes-passwort"


@dataclass
class Stack:
    server: LiveServer
    services: Services  # the catalog and store of the server's data folder, in this process
    admin: Api
    clerk: Api

    def mail(self, **values) -> str:
        """A mail record as the gateway writes it; its id."""
        record, created = self.services.catalog.mail.claim(uuid.uuid4().hex, **values)
        assert created
        return record.id


def _api(server: LiveServer, authorization: str) -> Api:
    api = Api(server.url)
    api.http.headers["Authorization"] = authorization
    return api


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from dms.identity.repository import IdentityRepository

    data = tmp_path_factory.mktemp("mail-api") / "data"
    services = build_services(Settings.from_env({"DMS_DATA_DIR": str(data)}), with_queue=False)
    identity = IdentityRepository.for_catalog(services.catalog)
    identity.add_user("bernd", "clerk")
    identity.set_password("bernd", PASSWORD)
    token = identity.create_token("root", ["admin"])[1]
    server = LiveServer(data, env={"DMS_AUTH_MODE": "users"})
    try:
        server.start()
        clerk = "Basic " + base64.b64encode(f"bernd:{PASSWORD}".encode()).decode()
        yield Stack(server, services, _api(server, f"Bearer {token}"), _api(server, clerk))
    finally:
        server.stop()
        services.close()


# --- customers' mail addresses ----------------------------------------------------------------


def test_customer_emails_round_trip_and_change_the_etag(stack: Stack) -> None:
    api = stack.admin
    created = api.post("/customers", json={"name": "Adressen GmbH",
                                           "emails": ["Buchhaltung@Adressen.DE", "Anna <anna@adressen.de>",
                                                      "buchhaltung@adressen.de"]})
    assert created.status_code == 201, created.text
    number = created.json()["number"]
    assert created.json()["emails"] == ["buchhaltung@adressen.de", "anna@adressen.de"]
    read = api.get(f"/customers/{number}")
    assert read.json()["emails"] == ["buchhaltung@adressen.de", "anna@adressen.de"]
    etag = read.headers["ETag"]
    assert etag == created.headers["ETag"]

    changed = api.patch(f"/customers/{number}", json={"emails": ["neu@adressen.de"]}, headers={"If-Match": etag})
    assert changed.status_code == 200, changed.text
    assert changed.json()["emails"] == ["neu@adressen.de"]
    assert changed.headers["ETag"] != etag
    stale = api.patch(f"/customers/{number}", json={"emails": []}, headers={"If-Match": etag})
    assert stale.status_code == 412
    same = api.patch(f"/customers/{number}", json={"emails": ["NEU@adressen.de"]})
    assert same.headers["ETag"] == changed.headers["ETag"]  # no change, no new state
    cleared = api.patch(f"/customers/{number}", json={"emails": []})
    assert cleared.json()["emails"] == [] and cleared.headers["ETag"] != changed.headers["ETag"]

    upserted = api.http.put(f"{api.base}/customers/ERP-4711", json={"name": "Aus dem ERP", "emails": ["erp@x.de"]},
                            timeout=60)
    assert upserted.status_code == 201, upserted.text
    assert api.get("/customers/ERP-4711").json()["emails"] == ["erp@x.de"]
    plain = api.create_customer("Ohne Adressen KG")
    assert plain["emails"] == []


@pytest.mark.parametrize("emails", [
    "info@adressen.de",  # not a list
    ["kein-at-zeichen"],
    ["a@b.de, c@d.de"],  # two in one
    ["info@adressen.de\nBcc: x@y.de"],
    [5],
    [f"a{i}@adressen.de" for i in range(21)],
])
def test_invalid_emails_are_a_400_naming_the_field(stack: Stack, emails) -> None:
    for method, path, body in (
        ("POST", "/customers", {"name": "Ungültig GmbH", "emails": emails}),
        ("PATCH", f"/customers/{stack.admin.create_customer('Vorhanden GmbH')['number']}", {"emails": emails}),
    ):
        response = stack.admin.http.request(method, stack.admin.base + path, json=body, timeout=60)
        assert response.status_code == 400, (method, response.text)
        error = response.json()["error"]
        assert error["code"] in ("invalid_request", "too_long") and error["field"] == "emails", error
        assert "E-Mail-Adresse" in error["message"], error


# --- related documents ------------------------------------------------------------------------


def test_linked_documents_are_related_both_ways(stack: Stack) -> None:
    api = stack.admin
    number = api.create_customer("Verknüpft GmbH")["number"]
    mail_id = api.upload_ok(make_pdf(["Brief", f"Kundennummer {number}", "Verknüpfung Mail"]), "mail.pdf",
                            customer_number=number, title="Mail: Scan vom Kopierer")
    attachment_id = api.upload_ok(make_pdf(["Rechnung", f"Kundennummer {number}", "Verknüpfung Anhang"]),
                                  "scan.pdf", customer_number=number, title="Scan")
    api.wait(mail_id)
    api.wait(attachment_id)
    assert api.get(f"/documents/{mail_id}").json()["related"] == []

    stack.services.catalog.relations.link(mail_id, attachment_id, "attachment", "mail")
    stack.services.catalog.relations.link(mail_id, attachment_id, "attachment", "mail")  # twice: once

    mail = api.get(f"/documents/{mail_id}").json()
    attachment = api.get(f"/documents/{attachment_id}").json()
    assert mail["related"] == [{"id": attachment_id, "kind": "attachment", "title": "Scan",
                                "customer_number": number, "folder": attachment["folder"]}]
    assert attachment["related"] == [{"id": mail_id, "kind": "mail", "title": "Mail: Scan vom Kopierer",
                                      "customer_number": number, "folder": mail["folder"]}]
    assert stack.clerk.get(f"/documents/{mail_id}").json()["related"] == mail["related"]


# --- received mail ----------------------------------------------------------------------------


def test_received_mail_is_listed_newest_first_with_filters(stack: Stack) -> None:
    start = datetime.now(UTC) + timedelta(days=1)  # newer than any mail of the other tests
    filed = stack.mail(sender="scanner@buero.example", recipients=["akte+70001@akte.example"], subject="Scan",
                       via="smtp", received_at=start, status="filed", customer_number="70001",
                       mail_document_id="m-1", document_ids=["d-1", "d-2"],
                       route={"customer_number": "70001", "rule": "recipient", "reason": "Adresse"},
                       forwarded=[{"sender": "kunde@example.com", "date": None, "subject": "Alt", "how": "inline"}])
    other = stack.mail(sender="x@buero.example", subject="Anderer Kunde", received_at=start + timedelta(minutes=1),
                       status="filed", customer_number="70002")
    quarantined = stack.mail(sender="boese@example.com", subject="Rechnung.exe",
                             received_at=start + timedelta(minutes=2), status="quarantined",
                             code="dangerous_attachment", reason="Ausführbare Datei.",
                             raw_key="mail/quarantine/test-listed.eml")

    for api in (stack.admin, stack.clerk):  # documents:read is enough
        page = api.get("/mail/messages", params={"limit": 3})
        assert page.status_code == 200, page.text
        assert [m["id"] for m in page.json()["messages"]] == [quarantined, other, filed]
    body = stack.admin.get("/mail/messages", params={"status": "filed", "customer": "70001"}).json()
    assert (body["total"], [m["id"] for m in body["messages"]]) == (1, [filed])
    message = body["messages"][0]
    assert message["sender"] == "scanner@buero.example" and message["document_ids"] == ["d-1", "d-2"]
    assert message["route"]["rule"] == "recipient" and message["forwarded"][0]["sender"] == "kunde@example.com"
    assert message["raw_available"] is False and "raw_key" not in message
    second = stack.admin.get("/mail/messages", params={"limit": 1, "offset": 1}).json()["messages"]
    assert [m["id"] for m in second] == [other]
    assert stack.admin.get("/mail/messages", params={"customer": "79999"}).json() == {
        "total": 0, "limit": 50, "offset": 0, "messages": []}

    one = stack.clerk.get(f"/mail/messages/{quarantined}")
    assert one.status_code == 200
    assert (one.json()["status"], one.json()["code"], one.json()["raw_available"]) == (
        "quarantined", "dangerous_attachment", True)
    missing = stack.admin.get(f"/mail/messages/{uuid.uuid4()}")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "mail_not_found"
    bad = stack.admin.get("/mail/messages", params={"status": "verloren"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "status"


# --- the quarantine ---------------------------------------------------------------------------


def _raw_mail(subject: str) -> bytes:
    message = EmailMessage()
    message["From"] = "boese@example.com"
    message["To"] = "posteingang@akte.example"
    message["Subject"] = subject
    message["Message-ID"] = f"<{uuid.uuid4()}@example.com>"
    message.set_content("Bitte öffnen.")
    message.add_attachment(b"MZ\x90\x00" + b"\x00" * 60, maintype="application", subtype="octet-stream",
                           filename="rechnung.exe")
    return message.as_bytes()


def _quarantined(stack: Stack, subject: str) -> tuple[str, bytes]:
    raw = _raw_mail(subject)
    mail_id = stack.mail(sender="boese@example.com", subject=subject, status="quarantined",
                         code="dangerous_attachment", reason="Ausführbare Datei im Anhang.")
    key = f"mail/quarantine/{mail_id}.eml"
    stack.services.store.put(key, raw, content_type="message/rfc822")
    stack.services.catalog.mail.update(mail_id, raw_key=key)
    return mail_id, raw


def test_the_quarantine_refuses_everyone_but_admins(stack: Stack) -> None:
    mail_id, _ = _quarantined(stack, "Nur für Admins")
    clerk = stack.clerk
    for method, path in (("GET", "/mail/quarantine"), ("GET", f"/mail/quarantine/{mail_id}/raw"),
                         ("POST", f"/mail/quarantine/{mail_id}/release"),
                         ("DELETE", f"/mail/quarantine/{mail_id}?reason=weg")):
        response = clerk.http.request(method, clerk.base + path, timeout=60)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["error"]["missing_permission"] == "admin"
    anonymous = requests.get(stack.server.url + "/api/v1/mail/quarantine", timeout=60)
    assert anonymous.status_code == 401
    assert stack.clerk.get(f"/mail/messages/{mail_id}").json()["status"] == "quarantined"  # still there


def test_admins_list_and_download_quarantined_mail_audited(stack: Stack) -> None:
    mail_id, raw = _quarantined(stack, "Zum Herunterladen")
    page = stack.admin.get("/mail/quarantine", params={"limit": 200}).json()
    listed = {m["id"]: m for m in page["messages"]}
    assert listed[mail_id]["code"] == "dangerous_attachment"
    assert listed[mail_id]["reason"] == "Ausführbare Datei im Anhang."
    assert {m["status"] for m in page["messages"]} == {"quarantined"}

    download = stack.admin.get(f"/mail/quarantine/{mail_id}/raw")
    assert download.status_code == 200
    assert download.content == raw  # byte for byte
    assert download.headers["Content-Type"] == "message/rfc822"
    assert download.headers["Content-Disposition"] == f'attachment; filename="{mail_id}.eml"'
    audit = stack.admin.get("/audit", params={"action": "mail.quarantine_download"}).json()["entries"]
    assert [(e["actor"], e["object_id"]) for e in audit if e["object_id"] == mail_id] == [("token:root", mail_id)]

    no_raw = stack.mail(subject="Abgelegt", status="filed")
    response = stack.admin.get(f"/mail/quarantine/{no_raw}/raw")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_quarantined"


def test_admins_delete_quarantined_mail_with_a_reason(stack: Stack) -> None:
    mail_id, _ = _quarantined(stack, "Zum Löschen")
    without = stack.admin.http.delete(f"{stack.admin.base}/mail/quarantine/{mail_id}", timeout=60)
    assert without.status_code == 400 and without.json()["error"]["field"] == "reason"
    deleted = stack.admin.http.delete(f"{stack.admin.base}/mail/quarantine/{mail_id}",
                                      params={"reason": "Schadsoftware"}, timeout=60)
    assert deleted.status_code == 200, deleted.text
    assert (deleted.json()["status"], deleted.json()["raw_available"]) == ("deleted", False)
    assert stack.admin.get(f"/mail/quarantine/{mail_id}/raw").status_code == 404
    listed = [m["id"] for m in stack.admin.get("/mail/quarantine", params={"limit": 200}).json()["messages"]]
    assert mail_id not in listed
    again = stack.admin.http.delete(f"{stack.admin.base}/mail/quarantine/{mail_id}",
                                    params={"reason": "nochmal"}, timeout=60)
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_quarantined"


def test_admins_release_quarantined_mail_and_it_is_filed(stack: Stack) -> None:
    from mail_gateway.model import Envelope

    number = stack.admin.create_customer("Freigabe GmbH")["number"]
    message = EmailMessage()
    message["From"] = "scanner@buero.example"
    message["To"] = f"akte+{number}@akte.example"
    message["Subject"] = "Scan zur Freigabe"
    message["Message-ID"] = f"<{uuid.uuid4()}@buero.example>"
    message.set_content("Anbei der Scan.")
    message.add_attachment(make_pdf(["Lieferschein", f"Kundennummer {number}", "Freigabeprobe"]),
                           maintype="application", subtype="pdf", filename="scan.pdf")
    raw = message.as_bytes()
    envelope = Envelope("scanner@buero.example", (f"akte+{number}@akte.example",), datetime.now(UTC), "smtp")
    mail_id = stack.mail(sender="scanner@buero.example", subject="Scan zur Freigabe", status="quarantined",
                         code="sender_not_allowed", reason="Absender nicht erlaubt.", envelope=envelope.to_dict(),
                         recipients=list(envelope.rcpt_tos))
    key = f"mail/quarantine/{mail_id}.eml"
    stack.services.store.put(key, raw, content_type="message/rfc822")
    stack.services.catalog.mail.update(mail_id, raw_key=key)

    released = stack.admin.post(f"/mail/quarantine/{mail_id}/release", params={"reason": "Bekannter Kopierer"})
    assert released.status_code == 200, released.text
    outcome = released.json()
    assert outcome["status"] == "filed" and outcome["mail_id"] == mail_id, outcome
    mail_document = stack.admin.wait(outcome["mail_document_id"])
    assert mail_document["customer_number"] == number
    assert [r["kind"] for r in mail_document["related"]] == ["attachment"]
    record = stack.admin.get(f"/mail/messages/{mail_id}").json()
    assert record["status"] == "filed" and record["raw_available"] is False
    again = stack.admin.post(f"/mail/quarantine/{mail_id}/release")
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_quarantined"
