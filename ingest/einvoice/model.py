"""The extracted e-invoice fields and their JSON / full-text representations."""

from __future__ import annotations

import datetime
import decimal
from dataclasses import dataclass, field

# UNTDID 1001 document type codes that denote a credit note (EN 16931 code list subset).
CREDIT_NOTE_TYPE_CODES = frozenset(
    {"81", "83", "261", "262", "296", "308", "381", "396", "420", "458", "532"}
)

_AMOUNT_FIELDS = ("net_total", "tax_total", "gross_total", "due_payable")
_DATE_FIELDS = ("issue_date", "due_date")
_FIELD_ORDER = (
    "syntax",
    "profile",
    "document_type",
    "invoice_number",
    "issue_date",
    "due_date",
    "seller_name",
    "buyer_name",
    "buyer_reference",
    "buyer_id",
    "currency",
    *_AMOUNT_FIELDS,
)


@dataclass
class InvoiceLine:
    """One invoice position (all parts optional; invoices vary by profile)."""

    line_id: str | None = None
    name: str | None = None
    quantity: decimal.Decimal | None = None
    unit_code: str | None = None
    unit_price: decimal.Decimal | None = None
    line_total: decimal.Decimal | None = None


@dataclass
class InvoiceData:
    """Header data of an electronic invoice (CII or UBL)."""

    syntax: str
    profile: str | None
    document_type: str
    invoice_number: str | None
    issue_date: datetime.date | None
    due_date: datetime.date | None
    seller_name: str | None
    buyer_name: str | None
    buyer_reference: str | None
    buyer_id: str | None
    currency: str | None
    net_total: decimal.Decimal | None
    tax_total: decimal.Decimal | None
    gross_total: decimal.Decimal | None
    due_payable: decimal.Decimal | None
    lines: list[InvoiceLine] = field(default_factory=list, repr=False, compare=False)

    @property
    def is_credit_note(self) -> bool:
        return self.document_type == "credit_note"

    def to_fields(self) -> dict[str, str]:
        """JSON-safe flat dict: ISO dates, amounts as plain strings, None values omitted."""
        out: dict[str, str] = {}
        for name in _FIELD_ORDER:
            value = getattr(self, name)
            if value is None:
                continue
            if name in _AMOUNT_FIELDS:
                out[name] = format_amount(value)
            elif name in _DATE_FIELDS:
                out[name] = value.isoformat()
            else:
                out[name] = str(value)
        return out

    def search_text(self) -> str:
        """German plain-text summary for full-text indexing."""
        kind = "Gutschrift" if self.is_credit_note else "Rechnung"
        cur = f" {self.currency}" if self.currency else ""
        parts = [f"Elektronische {kind} ({self.syntax})"]
        if self.invoice_number:
            parts.append(f"{kind}snummer: {self.invoice_number}")
        if self.issue_date:
            parts.append(f"{kind}sdatum: {german_date(self.issue_date)}")
        if self.due_date:
            parts.append(f"Fällig am: {german_date(self.due_date)}")
        if self.seller_name:
            parts.append(f"Verkäufer: {self.seller_name}")
        if self.buyer_name:
            parts.append(f"Käufer: {self.buyer_name}")
        if self.buyer_id:
            parts.append(f"Kundennummer: {self.buyer_id}")
        if self.buyer_reference:
            parts.append(f"Käuferreferenz: {self.buyer_reference}")
        if self.gross_total is not None:
            parts.append(f"Betrag: {german_amount(self.gross_total)}{cur} brutto")
        if self.net_total is not None:
            parts.append(f"Netto: {german_amount(self.net_total)}{cur}")
        if self.tax_total is not None:
            parts.append(f"MwSt: {german_amount(self.tax_total)}{cur}")
        if self.due_payable is not None and self.due_payable != self.gross_total:
            parts.append(f"Zahlbetrag: {german_amount(self.due_payable)}{cur}")
        names = [line.name for line in self.lines[:200] if line.name]
        if names:
            parts.append("Positionen: " + "; ".join(names))
        return "\n".join(parts)


def format_amount(value: decimal.Decimal) -> str:
    """Plain decimal string with at least two decimal places, never scientific notation."""
    try:
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent > -2:
            value = value.quantize(decimal.Decimal("0.01"))
    except decimal.InvalidOperation:
        pass
    return format(value, "f")


def german_amount(value: decimal.Decimal) -> str:
    """1234.5 -> '1.234,50'."""
    text = format_amount(value)
    sign = "-" if text.startswith("-") else ""
    whole, _, frac = text.lstrip("-").partition(".")
    groups = f"{int(whole):,}".replace(",", ".") if whole.isdigit() else whole
    return f"{sign}{groups},{frac}" if frac else f"{sign}{groups}"


def german_date(value: datetime.date) -> str:
    return value.strftime("%d.%m.%Y")
