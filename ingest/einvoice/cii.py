"""UN/CEFACT Cross Industry Invoice (ZUGFeRD 2 / Factur-X / XRechnung CII) and ZUGFeRD 1 mapping."""

from __future__ import annotations

import datetime
import decimal
from xml.etree.ElementTree import Element

from .model import CREDIT_NOTE_TYPE_CODES, InvoiceData, InvoiceLine
from .values import cii_date, element_decimal, pick_amount
from .xmlsafe import find, findall, text

# Element names differ between CII D16B (ZUGFeRD 2.x) and ZUGFeRD 1 (CII D12); '|' lists both.
_CONTEXT = "ExchangedDocumentContext|SpecifiedExchangedDocumentContext"
_DOCUMENT = "ExchangedDocument|HeaderExchangedDocument"
_TRANSACTION = "SupplyChainTradeTransaction|SpecifiedSupplyChainTradeTransaction"
_AGREEMENT = "ApplicableHeaderTradeAgreement|ApplicableSupplyChainTradeAgreement"
_SETTLEMENT = "ApplicableHeaderTradeSettlement|ApplicableSupplyChainTradeSettlement"
_SUMMATION = "SpecifiedTradeSettlementHeaderMonetarySummation|SpecifiedTradeSettlementMonetarySummation"

_LINE_AGREEMENT = "SpecifiedLineTradeAgreement|SpecifiedSupplyChainTradeAgreement"
_LINE_DELIVERY = "SpecifiedLineTradeDelivery|SpecifiedSupplyChainTradeDelivery"
_LINE_SETTLEMENT = "SpecifiedLineTradeSettlement|SpecifiedSupplyChainTradeSettlement"
_LINE_SUMMATION = "SpecifiedTradeSettlementLineMonetarySummation|SpecifiedTradeSettlementMonetarySummation"


def parse_cii(root: Element) -> InvoiceData:
    """Map a CrossIndustryInvoice / CrossIndustryDocument tree to InvoiceData."""
    document = find(root, _DOCUMENT)
    transaction = find(root, _TRANSACTION)
    agreement = find(transaction, _AGREEMENT)
    settlement = find(transaction, _SETTLEMENT)
    summation = find(settlement, _SUMMATION)
    currency = text(settlement, "InvoiceCurrencyCode")
    type_code = text(document, "TypeCode")

    def amount(name: str) -> decimal.Decimal | None:
        return pick_amount(findall(summation, name), currency)

    return InvoiceData(
        syntax="CII",
        profile=text(find(root, _CONTEXT), "GuidelineSpecifiedDocumentContextParameter/ID"),
        document_type="credit_note" if type_code in CREDIT_NOTE_TYPE_CODES else "invoice",
        invoice_number=text(document, "ID"),
        issue_date=cii_date(find(document, "IssueDateTime/DateTimeString")),
        due_date=_due_date(settlement),
        seller_name=text(agreement, "SellerTradeParty/Name"),
        buyer_name=text(agreement, "BuyerTradeParty/Name"),
        buyer_reference=text(agreement, "BuyerReference"),
        buyer_id=text(agreement, "BuyerTradeParty/ID"),
        currency=currency,
        net_total=amount("TaxBasisTotalAmount"),
        tax_total=amount("TaxTotalAmount"),
        gross_total=amount("GrandTotalAmount"),
        due_payable=amount("DuePayableAmount"),
        lines=[_line(item) for item in findall(transaction, "IncludedSupplyChainTradeLineItem")],
    )


def _due_date(settlement: Element | None) -> datetime.date | None:
    for terms in findall(settlement, "SpecifiedTradePaymentTerms"):
        due = cii_date(find(terms, "DueDateDateTime/DateTimeString"))
        if due is not None:
            return due
    return None


def _line(item: Element) -> InvoiceLine:
    quantity = find(item, f"{_LINE_DELIVERY}/BilledQuantity")
    return InvoiceLine(
        line_id=text(item, "AssociatedDocumentLineDocument/LineID"),
        name=text(item, "SpecifiedTradeProduct/Name"),
        quantity=element_decimal(quantity),
        unit_code=quantity.get("unitCode") if quantity is not None else None,
        unit_price=element_decimal(find(item, f"{_LINE_AGREEMENT}/NetPriceProductTradePrice/ChargeAmount")),
        line_total=element_decimal(find(item, f"{_LINE_SETTLEMENT}/{_LINE_SUMMATION}/LineTotalAmount")),
    )
