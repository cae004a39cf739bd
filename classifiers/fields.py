"""Key fields found in free text: document date, invoice number, total amount."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

_GERMAN_DATE = re.compile(r"\b(\d{1,2})\.\s?(\d{1,2})\.\s?(\d{4})\b")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_DATE_LABEL = re.compile(r"(Rechnungsdatum|Belegdatum|Datum|Date)\s*[:.]?\s*", re.IGNORECASE)
_INVOICE_NO = re.compile(
    r"(?:Rechnungs-?\s?(?:nummer|nr\.?)|Rechnung\s+Nr\.?|Invoice\s+(?:No\.?|Number))\s*[:.]?\s*([A-Z0-9][A-Z0-9/._-]{2,30})",
    re.IGNORECASE,
)
_TOTAL = re.compile(
    r"(?:Gesamtbetrag|Rechnungsbetrag|Bruttobetrag|Gesamtsumme|Summe brutto|Total)\s*[:.]?\s*(?:EUR|€)?\s*"
    r"(\d{1,3}(?:\.\d{3})*,\d{2}|\d+,\d{2}|\d+\.\d{2})",
    re.IGNORECASE,
)


def _to_date(year: str, month: str, day: str) -> date | None:
    try:
        value = date(int(year), int(month), int(day))
    except ValueError:
        return None
    return value if 1900 <= value.year <= 2100 else None


def find_dates(text: str) -> list[date]:
    found = [(m.start(), _to_date(m.group(3), m.group(2), m.group(1))) for m in _GERMAN_DATE.finditer(text)]
    found += [(m.start(), _to_date(m.group(1), m.group(2), m.group(3))) for m in _ISO_DATE.finditer(text)]
    return [d for _pos, d in sorted(found, key=lambda item: item[0]) if d]


def document_date(text: str) -> date | None:
    """A labelled date (Rechnungsdatum: …) if present, else the first date in the text."""
    for label in _DATE_LABEL.finditer(text):
        dates = find_dates(text[label.end() : label.end() + 20])
        if dates:
            return dates[0]
    dates = find_dates(text)
    return dates[0] if dates else None


def parse_amount(raw: str) -> Decimal | None:
    value = raw.replace(".", "").replace(",", ".") if "," in raw else raw
    try:
        return Decimal(value)
    except InvalidOperation:
        return None


def extract_fields(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    if match := _INVOICE_NO.search(text):
        fields["invoice_number"] = match.group(1).rstrip(".")
    if match := _TOTAL.search(text):
        amount = parse_amount(match.group(1))
        if amount is not None:
            fields["gross_total"] = f"{amount:.2f}"
    if found := document_date(text):
        fields["document_date"] = found.isoformat()
    return fields
