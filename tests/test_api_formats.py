"""Office documents and mail files through the HTTP API: text extracted, indexed, filed."""

from __future__ import annotations

import io
from email.message import EmailMessage

import docx

from tests.live import Api


def _docx(paragraphs: list[str]) -> bytes:
    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def test_docx_is_read_and_filed(api: Api, customer: dict) -> None:
    data = _docx(["Wartungsprotokoll", f"Kundennummer {customer['number']}", "Geprüft wurde die Zapfanlage."])
    body = api.wait(api.upload_ok(data, "protokoll.docx"))
    assert body["status"] == "filed", body
    assert body["customer_number"] == customer["number"] and body["folder"] == "06 Service & Wartung"
    assert body["latest_version"]["mime_type"].endswith("wordprocessingml.document")
    assert any(h["id"] == body["id"] for h in api.search("Zapfanlagen")["hits"])


def test_eml_is_read_and_filed(api: Api, customer: dict) -> None:
    mail = EmailMessage()
    mail["From"] = "Kunde <kunde@example.org>"
    mail["To"] = "service@example.com"
    mail["Subject"] = "Reklamation Lieferung"
    mail["Date"] = "Mon, 23 Nov 2026 09:00:00 +0100"
    mail.set_content(
        f"Sehr geehrte Damen und Herren,\nKd.-Nr. {customer['number']}\nder Blumenkübel kam zerbrochen an."
    )
    body = api.wait(api.upload_ok(mail.as_bytes(), "mail.eml"))
    assert body["status"] == "filed", body
    assert body["class"] == "Reklamation" and body["customer_number"] == customer["number"]
    assert any(h["id"] == body["id"] for h in api.search("Blumenkübel", customer=customer["number"])["hits"])
