"""OASIS UBL 2.x Invoice / CreditNote (XRechnung UBL, Peppol BIS) mapping."""

from __future__ import annotations

import datetime
from xml.etree.ElementTree import Element

from .model import CREDIT_NOTE_TYPE_CODES, InvoiceData, InvoiceLine
from .values import element_decimal, parse_date, pick_amount
from .xmlsafe import find, findall, local_name, text


def parse_ubl(root: Element) -> InvoiceData:
    """Map a UBL Invoice or CreditNote tree to InvoiceData."""
    is_credit_root = local_name(root.tag) == "CreditNote"
    type_code = text(root, "InvoiceTypeCode|CreditNoteTypeCode")
    currency = text(root, "DocumentCurrencyCode")
    totals = find(root, "LegalMonetaryTotal")
    seller = find(root, "AccountingSupplierParty/Party")
    buyer = find(root, "AccountingCustomerParty/Party")
    credit = is_credit_root or type_code in CREDIT_NOTE_TYPE_CODES
    return InvoiceData(
        syntax="UBL",
        profile=text(root, "CustomizationID"),
        document_type="credit_note" if credit else "invoice",
        invoice_number=text(root, "ID"),
        issue_date=parse_date(text(root, "IssueDate")),
        due_date=_due_date(root),
        seller_name=_party_name(seller),
        buyer_name=_party_name(buyer),
        buyer_reference=text(root, "BuyerReference"),
        buyer_id=text(buyer, "PartyIdentification/ID"),
        currency=currency,
        net_total=pick_amount(findall(totals, "TaxExclusiveAmount"), currency),
        tax_total=pick_amount(findall(root, "TaxTotal/TaxAmount"), currency),
        gross_total=pick_amount(findall(totals, "TaxInclusiveAmount"), currency),
        due_payable=pick_amount(findall(totals, "PayableAmount"), currency),
        lines=[_line(item) for item in findall(root, "InvoiceLine|CreditNoteLine")],
    )


def _party_name(party: Element | None) -> str | None:
    """Legal registration name (BT-27/44), else trading name, else a contact's name."""
    return (
        text(party, "PartyLegalEntity/RegistrationName")
        or text(party, "PartyName/Name")
        or text(party, "Contact/Name")
    )


def _due_date(root: Element) -> datetime.date | None:
    due = parse_date(text(root, "DueDate"))
    if due is not None:
        return due
    for means in findall(root, "PaymentMeans"):
        due = parse_date(text(means, "PaymentDueDate"))
        if due is not None:
            return due
    return None


def _line(item: Element) -> InvoiceLine:
    quantity = find(item, "InvoicedQuantity|CreditedQuantity")
    return InvoiceLine(
        line_id=text(item, "ID"),
        name=text(item, "Item/Name"),
        quantity=element_decimal(quantity),
        unit_code=quantity.get("unitCode") if quantity is not None else None,
        unit_price=element_decimal(find(item, "Price/PriceAmount")),
        line_total=element_decimal(find(item, "LineExtensionAmount")),
    )
