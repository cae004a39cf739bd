"""E-invoices through the HTTP API: recognised by content, fields extracted, filed into the buyer's file."""

from __future__ import annotations

from tests.docgen import make_pdf
from tests.einvoice_docs import cii_invoice, zugferd_pdf
from tests.live import Api


def test_xrechnung_xml_is_filed_by_buyer_number_with_fields_and_a_rendition(api: Api, customer: dict) -> None:
    xml = cii_invoice("XR-2026-0001", customer["number"], "Irgendwer", note="Lieferung Pflaumenmus")
    document_id = api.upload_ok(xml, "rechnung.xml", source="erp")
    body = api.wait(document_id)
    assert body["status"] == "filed", body
    assert (body["class"], body["folder"], body["customer_number"]) == ("Rechnung", "04 Rechnungen", customer["number"])
    assert body["source"] == "erp"
    fields = body["fields"]
    assert fields["invoice_number"] == "XR-2026-0001"
    assert fields["gross_total"] == "119.00" and fields["net_total"] == "100.00" and fields["tax_total"] == "19.00"
    assert fields["currency"] == "EUR" and fields["due_date"] == "2026-04-11"
    assert fields["seller_name"] == "Kundenakte Demo Verkauf GmbH"
    assert fields["einvoice_syntax"] == "CII"
    assert body["document_date"] == "2026-03-12"
    assert body["classification"]["customer_rule"] == "einvoice:buyer_id"
    assert body["latest_version"]["mime_type"] in ("text/xml", "application/xml")
    # the XML stays the original; the preview is a readable German rendition
    assert api.get(f"/documents/{document_id}/content").content == xml
    preview = api.get(f"/documents/{document_id}/preview")
    assert preview.status_code == 200 and preview.headers["Content-Type"].startswith("text/html")
    assert "XR-2026-0001" in preview.text and "119,00" in preview.text
    # findable by invoice number and by fields
    assert any(h["id"] == document_id for h in api.search("XR-2026-0001")["hits"])
    assert any(h["id"] == document_id for h in api.search("Demo Verkauf", customer=customer["number"])["hits"])


def test_zugferd_pdf_is_filed_by_buyer_name_when_the_number_is_unknown(api: Api) -> None:
    buyer = api.create_customer("Gärtnerei Blütenzauber e.K.")
    xml = cii_invoice("ZF-77", "FREMD-123", "Gärtnerei Blütenzauber e.K.", gross="238.00", net="200.00", tax="38.00")
    pdf = zugferd_pdf(xml, ["Rechnung ZF-77", "Gärtnerei Blütenzauber e.K.", "Tulpenzwiebeln 200,00 EUR"])
    document_id = api.upload_ok(pdf, "ZF-77.pdf", source="erp")
    body = api.wait(document_id)
    assert body["status"] == "filed", body
    assert body["customer_number"] == buyer["number"]
    assert body["classification"]["customer_rule"] == "einvoice:buyer_name"
    assert body["fields"]["gross_total"] == "238.00" and body["fields"]["invoice_number"] == "ZF-77"
    assert body["latest_version"]["mime_type"] == "application/pdf"
    # the visible page and the invoice data are both searchable
    assert any(h["id"] == document_id for h in api.search("Tulpenzwiebeln")["hits"])
    assert api.get(f"/documents/{document_id}/preview").content == pdf


def test_unknown_buyer_goes_to_the_inbox_with_the_extracted_fields(api: Api) -> None:
    xml = cii_invoice("NB-1", "NIEMAND-1", "Niemand GmbH")
    body = api.wait(api.upload_ok(xml, "nb.xml"))
    assert body["status"] == "needs_review"
    assert body["folder"] == "99 Posteingang" and body["customer_number"] is None
    assert body["fields"]["invoice_number"] == "NB-1" and body["fields"]["buyer_name"] == "Niemand GmbH"
    assert "NIEMAND-1" in body["status_reason"]


def test_unsafe_and_foreign_xml_is_refused_and_kept(api: Api, customer: dict) -> None:
    xxe = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100">&x;
</rsm:CrossIndustryInvoice>"""
    body = api.wait(api.upload_ok(xxe, "xxe.xml", customer_number=customer["number"]))
    assert body["status"] == "failed" and "[unsafe_xml]" in body["status_reason"]
    assert "root:" not in str(body)
    other = b'<?xml version="1.0"?><config><a>1</a></config>'
    body = api.wait(api.upload_ok(other, "config.xml", customer_number=customer["number"]))
    assert body["status"] == "failed" and "[not_an_invoice]" in body["status_reason"]
    assert api.get(f"/documents/{body['id']}/content").content == other
    truncated = cii_invoice("T-1", customer["number"], "X")[:400]
    body = api.wait(api.upload_ok(truncated, "kaputt.xml", customer_number=customer["number"]))
    assert body["status"] == "failed"


def test_plain_pdf_without_xml_is_still_a_normal_document(api: Api, customer: dict) -> None:
    body = api.wait(api.upload_ok(make_pdf(["Rechnung", "Rechnungsnummer: P-1"]), "p.pdf",
                                  customer_number=customer["number"]))
    assert body["status"] == "filed" and "einvoice_syntax" not in body["fields"]
