"""Generated e-invoices for the end-to-end tests: XRechnung CII/UBL XML and ZUGFeRD/Factur-X PDFs."""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

import pikepdf

from tests.docgen import make_pdf

CII_NS = (
    'xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100" '
    'xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100" '
    'xmlns:udt="urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"'
)


def cii_invoice(number: str, buyer_id: str | None, buyer_name: str, *, net: str = "100.00", tax: str = "19.00",
                gross: str = "119.00", issued: str = "20260312", note: str = "") -> bytes:
    buyer_id_xml = f"<ram:ID>{escape(buyer_id)}</ram:ID>" if buyer_id else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rsm:CrossIndustryInvoice {CII_NS}>
 <rsm:ExchangedDocumentContext><ram:GuidelineSpecifiedDocumentContextParameter>
  <ram:ID>urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0</ram:ID>
 </ram:GuidelineSpecifiedDocumentContextParameter></rsm:ExchangedDocumentContext>
 <rsm:ExchangedDocument><ram:ID>{escape(number)}</ram:ID><ram:TypeCode>380</ram:TypeCode>
  <ram:IssueDateTime><udt:DateTimeString format="102">{issued}</udt:DateTimeString></ram:IssueDateTime>
  <ram:IncludedNote><ram:Content>{escape(note)}</ram:Content></ram:IncludedNote>
 </rsm:ExchangedDocument>
 <rsm:SupplyChainTradeTransaction>
  <ram:ApplicableHeaderTradeAgreement>
   <ram:BuyerReference>04011000-1234512345-06</ram:BuyerReference>
   <ram:SellerTradeParty><ram:Name>Kundenakte Demo Verkauf GmbH</ram:Name></ram:SellerTradeParty>
   <ram:BuyerTradeParty>{buyer_id_xml}<ram:Name>{escape(buyer_name)}</ram:Name></ram:BuyerTradeParty>
  </ram:ApplicableHeaderTradeAgreement>
  <ram:ApplicableHeaderTradeSettlement>
   <ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode>
   <ram:SpecifiedTradePaymentTerms><ram:DueDateDateTime>
    <udt:DateTimeString format="102">20260411</udt:DateTimeString></ram:DueDateDateTime>
   </ram:SpecifiedTradePaymentTerms>
   <ram:SpecifiedTradeSettlementHeaderMonetarySummation>
    <ram:LineTotalAmount>{net}</ram:LineTotalAmount>
    <ram:TaxBasisTotalAmount>{net}</ram:TaxBasisTotalAmount>
    <ram:TaxTotalAmount currencyID="EUR">{tax}</ram:TaxTotalAmount>
    <ram:GrandTotalAmount>{gross}</ram:GrandTotalAmount>
    <ram:DuePayableAmount>{gross}</ram:DuePayableAmount>
   </ram:SpecifiedTradeSettlementHeaderMonetarySummation>
  </ram:ApplicableHeaderTradeSettlement>
 </rsm:SupplyChainTradeTransaction>
</rsm:CrossIndustryInvoice>""".encode()


def zugferd_pdf(xml: bytes, visible_lines: list[str]) -> bytes:
    """A PDF whose visible page is the invoice and which carries the XML as factur-x.xml (EmbeddedFiles + /AF)."""
    pdf = pikepdf.open(io.BytesIO(make_pdf(visible_lines)))
    spec = pikepdf.AttachedFileSpec(pdf, xml, mime_type="text/xml", description="Factur-X invoice")
    pdf.attachments["factur-x.xml"] = spec
    pdf.Root.AF = pikepdf.Array([pdf.attachments["factur-x.xml"].obj])
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()
