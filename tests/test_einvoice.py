"""E-invoice recognition and parsing (CII, ZUGFeRD 1, UBL, hybrid PDFs) on invoices generated here."""

from __future__ import annotations

import datetime
import io
import json
import os
import time
import zlib
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape

import pikepdf
import pytest
from reportlab.pdfgen import canvas

from dms.errors import IngestError
from ingest.einvoice import (
    InvoiceData,
    detect_invoice_syntax,
    extract_invoice_xml_from_pdf,
    parse_invoice_xml,
    render_invoice_html,
)

CII_NS = (
    'xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100" '
    'xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100" '
    'xmlns:udt="urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"'
)
XR_PROFILE = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"


def cii_xml(*, type_code: str = "380", seller: str = "Lieferant GmbH", number: str = "RE-2024-0815") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rsm:CrossIndustryInvoice {CII_NS}>
  <rsm:ExchangedDocumentContext>
    <ram:GuidelineSpecifiedDocumentContextParameter><ram:ID>{XR_PROFILE}</ram:ID>
    </ram:GuidelineSpecifiedDocumentContextParameter>
  </rsm:ExchangedDocumentContext>
  <rsm:ExchangedDocument>
    <ram:ID>{escape(number)}</ram:ID>
    <ram:TypeCode>{type_code}</ram:TypeCode>
    <ram:IssueDateTime><udt:DateTimeString format="102">20240315</udt:DateTimeString></ram:IssueDateTime>
  </rsm:ExchangedDocument>
  <rsm:SupplyChainTradeTransaction>
    <ram:IncludedSupplyChainTradeLineItem>
      <ram:AssociatedDocumentLineDocument><ram:LineID>1</ram:LineID></ram:AssociatedDocumentLineDocument>
      <ram:SpecifiedTradeProduct><ram:Name>Beratung &lt;vor Ort&gt;</ram:Name></ram:SpecifiedTradeProduct>
      <ram:SpecifiedLineTradeAgreement>
        <ram:NetPriceProductTradePrice><ram:ChargeAmount>50.00</ram:ChargeAmount></ram:NetPriceProductTradePrice>
      </ram:SpecifiedLineTradeAgreement>
      <ram:SpecifiedLineTradeDelivery>
        <ram:BilledQuantity unitCode="HUR">2.0000</ram:BilledQuantity>
      </ram:SpecifiedLineTradeDelivery>
      <ram:SpecifiedLineTradeSettlement>
        <ram:SpecifiedTradeSettlementLineMonetarySummation>
          <ram:LineTotalAmount>100.00</ram:LineTotalAmount>
        </ram:SpecifiedTradeSettlementLineMonetarySummation>
      </ram:SpecifiedLineTradeSettlement>
    </ram:IncludedSupplyChainTradeLineItem>
    <ram:ApplicableHeaderTradeAgreement>
      <ram:BuyerReference>04011000-12345-67</ram:BuyerReference>
      <ram:SellerTradeParty><ram:ID>L-1</ram:ID><ram:Name>{escape(seller)}</ram:Name></ram:SellerTradeParty>
      <ram:BuyerTradeParty><ram:ID>KD-4711</ram:ID><ram:Name>Kunde AG</ram:Name></ram:BuyerTradeParty>
    </ram:ApplicableHeaderTradeAgreement>
    <ram:ApplicableHeaderTradeSettlement>
      <ram:TaxCurrencyCode>USD</ram:TaxCurrencyCode>
      <ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode>
      <ram:SpecifiedTradePaymentTerms>
        <ram:Description>Zahlbar in 14 Tagen</ram:Description>
      </ram:SpecifiedTradePaymentTerms>
      <ram:SpecifiedTradePaymentTerms>
        <ram:DueDateDateTime>
          <udt:DateTimeString format="102">20240329</udt:DateTimeString>
        </ram:DueDateDateTime>
      </ram:SpecifiedTradePaymentTerms>
      <ram:SpecifiedTradeSettlementHeaderMonetarySummation>
        <ram:LineTotalAmount>100.00</ram:LineTotalAmount>
        <ram:TaxBasisTotalAmount>100.00</ram:TaxBasisTotalAmount>
        <ram:TaxTotalAmount currencyID="USD">20.70</ram:TaxTotalAmount>
        <ram:TaxTotalAmount currencyID="EUR">19.00</ram:TaxTotalAmount>
        <ram:GrandTotalAmount>119</ram:GrandTotalAmount>
        <ram:TotalPrepaidAmount>20.00</ram:TotalPrepaidAmount>
        <ram:DuePayableAmount>99.00</ram:DuePayableAmount>
      </ram:SpecifiedTradeSettlementHeaderMonetarySummation>
    </ram:ApplicableHeaderTradeSettlement>
  </rsm:SupplyChainTradeTransaction>
</rsm:CrossIndustryInvoice>
""".encode()


ZUGFERD1_XML = b"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<rsm:CrossIndustryDocument xmlns:udt="urn:un:unece:uncefact:data:standard:UnqualifiedDataType:15"
  xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:12"
  xmlns:rsm="urn:ferd:CrossIndustryDocument:invoice:1p0">
  <rsm:SpecifiedExchangedDocumentContext>
    <ram:GuidelineSpecifiedDocumentContextParameter>
      <ram:ID>urn:ferd:CrossIndustryDocument:invoice:1p0:comfort</ram:ID>
    </ram:GuidelineSpecifiedDocumentContextParameter>
  </rsm:SpecifiedExchangedDocumentContext>
  <rsm:HeaderExchangedDocument>
    <ram:ID>Z1-2016-001</ram:ID><ram:TypeCode>380</ram:TypeCode>
    <ram:IssueDateTime><udt:DateTimeString format="102">20161231</udt:DateTimeString></ram:IssueDateTime>
  </rsm:HeaderExchangedDocument>
  <rsm:SpecifiedSupplyChainTradeTransaction>
    <ram:ApplicableSupplyChainTradeAgreement>
      <ram:SellerTradeParty><ram:Name>Alt GmbH</ram:Name></ram:SellerTradeParty>
      <ram:BuyerTradeParty><ram:ID>K-99</ram:ID><ram:Name>Bestand KG</ram:Name></ram:BuyerTradeParty>
    </ram:ApplicableSupplyChainTradeAgreement>
    <ram:ApplicableSupplyChainTradeSettlement>
      <ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode>
      <ram:SpecifiedTradePaymentTerms>
        <ram:DueDateDateTime>
          <udt:DateTimeString format="102">20170115</udt:DateTimeString>
        </ram:DueDateDateTime>
      </ram:SpecifiedTradePaymentTerms>
      <ram:SpecifiedTradeSettlementMonetarySummation>
        <ram:TaxBasisTotalAmount currencyID="EUR">200.00</ram:TaxBasisTotalAmount>
        <ram:TaxTotalAmount currencyID="EUR">14.00</ram:TaxTotalAmount>
        <ram:GrandTotalAmount currencyID="EUR">214.00</ram:GrandTotalAmount>
        <ram:DuePayableAmount currencyID="EUR">214.00</ram:DuePayableAmount>
      </ram:SpecifiedTradeSettlementMonetarySummation>
    </ram:ApplicableSupplyChainTradeSettlement>
    <ram:IncludedSupplyChainTradeLineItem>
      <ram:SpecifiedSupplyChainTradeAgreement>
        <ram:NetPriceProductTradePrice><ram:ChargeAmount currencyID="EUR">0.5000</ram:ChargeAmount>
        </ram:NetPriceProductTradePrice>
      </ram:SpecifiedSupplyChainTradeAgreement>
      <ram:SpecifiedSupplyChainTradeDelivery>
        <ram:BilledQuantity unitCode="C62">400.0000</ram:BilledQuantity>
      </ram:SpecifiedSupplyChainTradeDelivery>
      <ram:SpecifiedSupplyChainTradeSettlement>
        <ram:SpecifiedTradeSettlementMonetarySummation>
          <ram:LineTotalAmount currencyID="EUR">200.00</ram:LineTotalAmount>
        </ram:SpecifiedTradeSettlementMonetarySummation>
      </ram:SpecifiedSupplyChainTradeSettlement>
      <ram:SpecifiedTradeProduct><ram:Name>Kugelschreiber</ram:Name></ram:SpecifiedTradeProduct>
    </ram:IncludedSupplyChainTradeLineItem>
  </rsm:SpecifiedSupplyChainTradeTransaction>
</rsm:CrossIndustryDocument>
"""


def ubl_xml(*, credit: bool = False) -> bytes:
    root, line, qty = ("CreditNote", "CreditNoteLine", "CreditedQuantity") if credit else (
        "Invoice", "InvoiceLine", "InvoicedQuantity")
    due = (
        "<cac:PaymentMeans><cbc:PaymentMeansCode>58</cbc:PaymentMeansCode>"
        "<cbc:PaymentDueDate>2024-05-02</cbc:PaymentDueDate></cac:PaymentMeans>"
        if credit
        else "<cbc:DueDate>2024-05-02</cbc:DueDate>"
    )
    type_el = "<cbc:CreditNoteTypeCode>381</cbc:CreditNoteTypeCode>" if credit else (
        "<cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>")
    head_due, tail_due = ("", due) if credit else (due, "")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<{root} xmlns="urn:oasis:names:specification:ubl:schema:xsd:{root}-2"
  xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
  xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cbc:CustomizationID>{XR_PROFILE}</cbc:CustomizationID>
  <cbc:ProfileID>urn:fdc:peppol.eu:2017:poacc:billing:01:1.0</cbc:ProfileID>
  <cbc:ID>UBL-2024-42</cbc:ID>
  <cbc:IssueDate>2024-04-18</cbc:IssueDate>
  {head_due}
  {type_el}
  <cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>
  <cbc:TaxCurrencyCode>CHF</cbc:TaxCurrencyCode>
  <cbc:BuyerReference>991-33333TEST-33</cbc:BuyerReference>
  <cac:AccountingSupplierParty><cac:Party>
    <cac:PartyIdentification><cbc:ID>SUP-1</cbc:ID></cac:PartyIdentification>
    <cac:PartyName><cbc:Name>Handelsname Verkäufer</cbc:Name></cac:PartyName>
    <cac:PartyLegalEntity><cbc:RegistrationName>Verkäufer GmbH &amp; Co. KG</cbc:RegistrationName>
    </cac:PartyLegalEntity>
  </cac:Party></cac:AccountingSupplierParty>
  <cac:AccountingCustomerParty><cac:Party>
    <cac:PartyIdentification><cbc:ID>KD-1001</cbc:ID></cac:PartyIdentification>
    <cac:PartyName><cbc:Name>Stadt Musterhausen</cbc:Name></cac:PartyName>
  </cac:Party></cac:AccountingCustomerParty>
  {tail_due}
  <cac:TaxTotal><cbc:TaxAmount currencyID="CHF">36.00</cbc:TaxAmount></cac:TaxTotal>
  <cac:TaxTotal><cbc:TaxAmount currencyID="EUR">38.00</cbc:TaxAmount></cac:TaxTotal>
  <cac:LegalMonetaryTotal>
    <cbc:LineExtensionAmount currencyID="EUR">200.00</cbc:LineExtensionAmount>
    <cbc:TaxExclusiveAmount currencyID="EUR">200.00</cbc:TaxExclusiveAmount>
    <cbc:TaxInclusiveAmount currencyID="EUR">238.00</cbc:TaxInclusiveAmount>
    <cbc:PayableAmount currencyID="EUR">238.00</cbc:PayableAmount>
  </cac:LegalMonetaryTotal>
  <cac:{line}>
    <cbc:ID>1</cbc:ID>
    <cbc:{qty} unitCode="DAY">4</cbc:{qty}>
    <cbc:LineExtensionAmount currencyID="EUR">200.00</cbc:LineExtensionAmount>
    <cac:Item><cbc:Name>Miete Baugerüst</cbc:Name></cac:Item>
    <cac:Price><cbc:PriceAmount currencyID="EUR">50.00</cbc:PriceAmount></cac:Price>
  </cac:{line}>
</{root}>
""".encode()


def make_pdf(attachments: dict[str, bytes] | None = None, *, tree: bool = True, af: bool = True,
             encrypt: bool = False) -> bytes:
    """A reportlab PDF with optional attachments in the EmbeddedFiles name tree and/or /AF."""
    buf = io.BytesIO()
    page = canvas.Canvas(buf)
    page.drawString(72, 720, "Rechnung RE-2024-0815")
    page.save()
    with pikepdf.open(io.BytesIO(buf.getvalue())) as pdf:
        specs = []
        for name, data in (attachments or {}).items():
            spec = pikepdf.AttachedFileSpec(
                pdf, data, filename=name, mime_type="text/xml", relationship=pikepdf.Name.Alternative
            )
            if tree:
                pdf.attachments[name] = spec
            specs.append(spec.obj)
        if af and specs:
            pdf.Root.AF = pikepdf.Array([pdf.make_indirect(s) if not s.is_indirect else s for s in specs])
        out = io.BytesIO()
        encryption = pikepdf.Encryption(user="geheim", owner="geheimer") if encrypt else False
        pdf.save(out, encryption=encryption)
    return out.getvalue()


# --- parsing -----------------------------------------------------------------------------------------


def test_cii_every_field() -> None:
    inv = parse_invoice_xml(cii_xml())
    assert inv == InvoiceData(
        syntax="CII",
        profile=XR_PROFILE,
        document_type="invoice",
        invoice_number="RE-2024-0815",
        issue_date=datetime.date(2024, 3, 15),
        due_date=datetime.date(2024, 3, 29),
        seller_name="Lieferant GmbH",
        buyer_name="Kunde AG",
        buyer_reference="04011000-12345-67",
        buyer_id="KD-4711",
        currency="EUR",
        net_total=Decimal("100.00"),
        tax_total=Decimal("19.00"),  # the EUR one, not the USD tax-currency amount
        gross_total=Decimal("119"),
        due_payable=Decimal("99.00"),
    )
    assert len(inv.lines) == 1
    line = inv.lines[0]
    assert (line.line_id, line.name, line.unit_code) == ("1", "Beratung <vor Ort>", "HUR")
    assert (line.quantity, line.unit_price, line.line_total) == (Decimal(2), Decimal(50), Decimal(100))


@pytest.mark.parametrize("code,kind", [("380", "invoice"), ("381", "credit_note"), ("384", "invoice"),
                                       ("389", "invoice"), ("261", "credit_note")])
def test_cii_document_type(code: str, kind: str) -> None:
    assert parse_invoice_xml(cii_xml(type_code=code)).document_type == kind


def test_cii_prefix_choice_does_not_matter() -> None:
    xml = (cii_xml().replace(b"rsm:", b"inv:").replace(b"xmlns:rsm=", b"xmlns:inv=")
           .replace(b"ram:", b"r:").replace(b"xmlns:ram=", b"xmlns:r="))
    xml = xml.replace(b"xmlns:r=", b"xmlns=").replace(b"<r:", b"<").replace(b"</r:", b"</")
    assert detect_invoice_syntax(xml) == "CII"
    inv = parse_invoice_xml(xml)
    assert (inv.invoice_number, inv.buyer_id, inv.gross_total) == ("RE-2024-0815", "KD-4711", Decimal("119"))


def test_zugferd1_namespace() -> None:
    assert detect_invoice_syntax(ZUGFERD1_XML) == "CII"
    inv = parse_invoice_xml(ZUGFERD1_XML)
    assert inv.syntax == "CII" and inv.document_type == "invoice"
    assert inv.profile == "urn:ferd:CrossIndustryDocument:invoice:1p0:comfort"
    assert (inv.invoice_number, inv.issue_date, inv.due_date) == (
        "Z1-2016-001", datetime.date(2016, 12, 31), datetime.date(2017, 1, 15))
    assert (inv.seller_name, inv.buyer_name, inv.buyer_id) == ("Alt GmbH", "Bestand KG", "K-99")
    assert inv.currency == "EUR"
    assert (inv.net_total, inv.tax_total, inv.gross_total, inv.due_payable) == (
        Decimal("200.00"), Decimal("14.00"), Decimal("214.00"), Decimal("214.00"))
    assert inv.lines[0].name == "Kugelschreiber" and inv.lines[0].quantity == Decimal(400)
    assert inv.lines[0].unit_price == Decimal("0.5") and inv.lines[0].line_total == Decimal(200)


def test_ubl_invoice_every_field() -> None:
    inv = parse_invoice_xml(ubl_xml())
    assert inv == InvoiceData(
        syntax="UBL",
        profile=XR_PROFILE,
        document_type="invoice",
        invoice_number="UBL-2024-42",
        issue_date=datetime.date(2024, 4, 18),
        due_date=datetime.date(2024, 5, 2),
        seller_name="Verkäufer GmbH & Co. KG",
        buyer_name="Stadt Musterhausen",
        buyer_reference="991-33333TEST-33",
        buyer_id="KD-1001",
        currency="EUR",
        net_total=Decimal("200.00"),
        tax_total=Decimal("38.00"),
        gross_total=Decimal("238.00"),
        due_payable=Decimal("238.00"),
    )
    line = inv.lines[0]
    assert (line.name, line.quantity, line.unit_code, line.unit_price, line.line_total) == (
        "Miete Baugerüst", Decimal(4), "DAY", Decimal(50), Decimal(200))


def test_ubl_credit_note() -> None:
    xml = ubl_xml(credit=True)
    assert detect_invoice_syntax(xml) == "UBL"
    inv = parse_invoice_xml(xml)
    assert inv.document_type == "credit_note" and inv.syntax == "UBL"
    assert inv.due_date == datetime.date(2024, 5, 2)  # from PaymentMeans/PaymentDueDate
    assert inv.gross_total == Decimal("238.00") and inv.lines[0].quantity == Decimal(4)


def test_to_fields_is_json_safe_and_omits_none() -> None:
    inv = parse_invoice_xml(cii_xml())
    fields = inv.to_fields()
    assert json.loads(json.dumps(fields)) == fields
    assert fields["gross_total"] == "119.00" and fields["tax_total"] == "19.00"
    assert fields["issue_date"] == "2024-03-15" and fields["due_date"] == "2024-03-29"
    assert fields["buyer_id"] == "KD-4711" and fields["syntax"] == "CII"
    assert all(isinstance(v, str) for v in fields.values())
    inv.buyer_reference = None
    inv.due_date = None
    assert "buyer_reference" not in inv.to_fields() and "due_date" not in inv.to_fields()
    assert "lines" not in fields


def test_search_text_german() -> None:
    text = parse_invoice_xml(cii_xml()).search_text()
    for part in ("Rechnungsnummer: RE-2024-0815", "Verkäufer: Lieferant GmbH", "Käufer: Kunde AG",
                 "Kundennummer: KD-4711", "Betrag: 119,00 EUR", "15.03.2024", "Beratung <vor Ort>"):
        assert part in text
    assert "Gutschrift" in parse_invoice_xml(ubl_xml(credit=True)).search_text()


# --- detection ---------------------------------------------------------------------------------------


def test_detect() -> None:
    assert detect_invoice_syntax(cii_xml()) == "CII"
    assert detect_invoice_syntax(ubl_xml()) == "UBL"
    assert detect_invoice_syntax(b"\xef\xbb\xbf  \n" + cii_xml()) == "CII"
    assert detect_invoice_syntax(ubl_xml().decode().encode("utf-16")) == "UBL"
    assert detect_invoice_syntax(b"<?xml version='1.0'?><!-- <Invoice> --><note><to>x</to></note>") is None
    assert detect_invoice_syntax(b'<Invoice xmlns="urn:example:other">x</Invoice>') is None
    assert detect_invoice_syntax(make_pdf()) is None


@pytest.mark.parametrize("junk", [b"", b"<", b"<<<>>>", b"\x00\xff" * 50, b"<?xml", b"<!--", b"<!DOCTYPE [",
                                  "üñí<ß>".encode("utf-16-le"), os.urandom(4096)])
def test_detect_never_raises(junk: bytes) -> None:
    assert detect_invoice_syntax(junk) is None


# --- refusals ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"   ", b"<rsm:CrossIndustryInvoice", b"not xml at all",
                                  cii_xml()[:-40], b"<a><b></a>"])
def test_malformed_xml(data: bytes) -> None:
    with pytest.raises(IngestError) as err:
        parse_invoice_xml(data)
    assert err.value.code == "malformed_xml"


def test_not_an_invoice() -> None:
    with pytest.raises(IngestError) as err:
        parse_invoice_xml(b"<?xml version='1.0'?><Order xmlns='urn:example'><ID>1</ID></Order>")
    assert err.value.code == "not_an_invoice"
    assert "not a CII or UBL" in err.value.message


def test_xxe_is_refused_without_reading_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-4711")
    for doctype in (
        f'<!DOCTYPE r [<!ENTITY xxe SYSTEM "file://{secret}">]>',
        f'<!DOCTYPE r [<!ENTITY % p SYSTEM "file://{secret}"> %p;]>',
        f'<!DOCTYPE r SYSTEM "file://{secret}">',
    ):
        xml = cii_xml(number="ENTITY").replace(b"ENTITY", b"&xxe;")
        xml = xml.replace(b"?>\n", f"?>\n{doctype}\n".encode(), 1)
        assert detect_invoice_syntax(xml) == "CII"  # detection skips the DTD without processing it
        with pytest.raises(IngestError) as err:
            parse_invoice_xml(xml)
        assert err.value.code == "unsafe_xml"
        assert "TOP-SECRET" not in str(err.value) and "TOP-SECRET" not in str(err.value.to_dict())


def test_billion_laughs_is_refused_fast() -> None:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    xml = cii_xml(number="ENTITY").replace(b"ENTITY", b"&lol9;")
    xml = xml.replace(b"?>\n", f"?>\n<!DOCTYPE r [{entities}]>\n".encode(), 1)
    start = time.monotonic()
    with pytest.raises(IngestError) as err:
        parse_invoice_xml(xml)
    assert err.value.code == "unsafe_xml"
    assert time.monotonic() - start < 1.0


def test_too_large() -> None:
    with pytest.raises(IngestError) as err:
        parse_invoice_xml(cii_xml() + b" " * (20 * 1024 * 1024))
    assert err.value.code == "too_large"


def test_tolerates_bom_whitespace_and_bogus_encoding_label() -> None:
    assert parse_invoice_xml(b"\xef\xbb\xbf\r\n" + cii_xml()).invoice_number == "RE-2024-0815"
    bogus = cii_xml().replace(b'encoding="UTF-8"', b'encoding="UTF-8-W/O-BOM"')
    assert parse_invoice_xml(bogus).seller_name == "Lieferant GmbH"
    latin = cii_xml(seller="Müller & Söhne").decode().replace("UTF-8", "ISO-8859-1").encode("latin-1")
    assert parse_invoice_xml(latin).seller_name == "Müller & Söhne"


# --- PDF attachments ---------------------------------------------------------------------------------


@pytest.mark.parametrize("tree,af", [(True, True), (True, False), (False, True)])
def test_extract_from_pdf(tree: bool, af: bool) -> None:
    xml = cii_xml()
    pdf = make_pdf({"factur-x.xml": xml}, tree=tree, af=af)
    assert extract_invoice_xml_from_pdf(pdf) == xml


@pytest.mark.parametrize(
    "name", ["zugferd-invoice.xml", "ZUGFeRD-invoice.xml", "xrechnung.xml", "rechnung.xml"]
)
def test_extract_known_and_other_names(name: str) -> None:
    xml = ZUGFERD1_XML if name == "ZUGFeRD-invoice.xml" else cii_xml()
    pdf = make_pdf({"anlage.pdf": b"%PDF-1.4 not really", name: xml})
    extracted = extract_invoice_xml_from_pdf(pdf)
    assert extracted == xml
    assert parse_invoice_xml(extracted).syntax == "CII"


def test_extract_prefers_factur_x_over_zugferd1() -> None:
    new = cii_xml(number="NEU-1")
    pdf = make_pdf({"ZUGFeRD-invoice.xml": ZUGFERD1_XML, "factur-x.xml": new})
    assert parse_invoice_xml(extract_invoice_xml_from_pdf(pdf)).invoice_number == "NEU-1"


def test_pdf_without_invoice_attachment() -> None:
    assert extract_invoice_xml_from_pdf(make_pdf()) is None
    assert extract_invoice_xml_from_pdf(make_pdf({"notes.xml": b"<notes><n>hi</n></notes>"})) is None
    assert extract_invoice_xml_from_pdf(make_pdf({"bild.png": b"\x89PNG\r\n"})) is None


@pytest.mark.parametrize("data", [b"", b"%PDF-1.7\n garbage", b"not a pdf", os.urandom(2048)])
def test_corrupt_pdf_returns_none(data: bytes) -> None:
    assert extract_invoice_xml_from_pdf(data) is None


def test_encrypted_pdf_returns_none() -> None:
    assert extract_invoice_xml_from_pdf(make_pdf({"factur-x.xml": cii_xml()}, encrypt=True)) is None


def _with_flate_attachment(payload: bytes) -> bytes:
    pdf = make_pdf({"factur-x.xml": b"placeholder"})
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        doc.Root.AF[0].EF.F.write(zlib.compress(payload, 9), filter=pikepdf.Name.FlateDecode)
        out = io.BytesIO()
        doc.save(out)
    return out.getvalue()


def test_attachment_decompression_bomb_is_skipped() -> None:
    assert extract_invoice_xml_from_pdf(_with_flate_attachment(cii_xml())) == cii_xml()
    bomb = _with_flate_attachment(cii_xml() + b" " * (25 * 1024 * 1024))
    assert len(bomb) < 100_000
    assert extract_invoice_xml_from_pdf(bomb) is None


# --- HTML rendition ----------------------------------------------------------------------------------


def test_render_html_german_and_complete() -> None:
    html = render_invoice_html(parse_invoice_xml(cii_xml()))
    assert html.startswith("<!DOCTYPE html>") and 'lang="de"' in html
    for part in ("Rechnung RE-2024-0815", "Rechnungsdatum", "15.03.2024", "Fälligkeitsdatum",
                 "29.03.2024", "Verkäufer", "Lieferant GmbH", "Käufer", "Kunde AG", "Kundennummer",
                 "KD-4711", "Positionen", "Beratung &lt;vor Ort&gt;", "Std.", "50,00", "100,00",
                 '<td class="num">2</td>', "Summe netto", "MwSt", "19,00", "Summe brutto", "119,00",
                 "Zahlbetrag", "99,00", "Währung", "EUR"):
        assert part in html, part


def test_render_html_escapes_invoice_content() -> None:
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    inv = parse_invoice_xml(cii_xml(seller=evil, number='"><b>'))
    html = render_invoice_html(inv)
    assert "<script>" not in html and "<img" not in html and '"><b>' not in html
    assert "&lt;script&gt;" in html


def test_render_credit_note_and_lines_from_xml() -> None:
    xml = ubl_xml(credit=True)
    inv = parse_invoice_xml(xml)
    inv.lines = []
    html = render_invoice_html(inv, xml)
    assert "<h1>Gutschrift UBL-2024-42</h1>" in html and "Miete Baugerüst" in html and "Tag(e)" in html
    assert "Positionen" not in render_invoice_html(inv)
