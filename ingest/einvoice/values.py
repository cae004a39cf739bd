"""Lenient conversion of XML values (amounts, quantities, dates) into Python types."""

from __future__ import annotations

import datetime
import decimal
import re
from xml.etree.ElementTree import Element

from .xmlsafe import text

_CII_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def to_decimal(value: str | None) -> decimal.Decimal | None:
    """'1 234.50' -> Decimal('1234.50'); None for empty or unparsable values."""
    if not value:
        return None
    cleaned = value.strip().replace(" ", "").replace("\u00a0", "")
    if "," in cleaned and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    try:
        result = decimal.Decimal(cleaned)
    except (decimal.InvalidOperation, ValueError):
        return None
    return result if result.is_finite() else None


def element_decimal(el: Element | None) -> decimal.Decimal | None:
    return to_decimal(text(el))


def pick_amount(elements: list[Element], currency: str | None) -> decimal.Decimal | None:
    """The amount in the invoice currency: prefer currencyID == currency, then no currencyID, then first."""
    candidates = [(el.get("currencyID"), element_decimal(el)) for el in elements]
    candidates = [(cur, amount) for cur, amount in candidates if amount is not None]
    if not candidates:
        return None
    if currency:
        for cur, amount in candidates:
            if cur and cur.strip().upper() == currency.strip().upper():
                return amount
    for cur, amount in candidates:
        if not cur:
            return amount
    return candidates[0][1]


def cii_date(el: Element | None) -> datetime.date | None:
    """udt:DateTimeString (format 102 = YYYYMMDD); tolerates ISO dates too."""
    return parse_date(text(el))


def parse_date(value: str | None) -> datetime.date | None:
    """YYYYMMDD or YYYY-MM-DD (optionally followed by a time / zone); None if unparsable."""
    if not value:
        return None
    value = value.strip()
    match = _ISO_DATE.match(value) or _CII_DATE.match(value)
    if not match:
        return None
    try:
        return datetime.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None
