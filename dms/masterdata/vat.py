"""VAT identification numbers (USt-IdNr.): format per country prefix for the EU (VIES formats), CH, GB/XI and NO.

`check_vat_id` accepts the printed form ("DE 123 456 789", "CHE-123.456.789 MWST", "NO 123456789 MVA") and
returns the compact upper-case form that is stored ("DE123456789", "CHE123456789", "NO123456789MVA"; Greek
numbers use the prefix EL, "GR" is accepted). The check digits are verified for DE (ISO 7064 MOD 11,10), CH
(UID MOD 11) and NO (MOD 11); other countries are checked for their format only.
"""

from __future__ import annotations

import re

from dms.errors import ValidationError

# Number after the prefix, per prefix (the VIES formats).
VAT_FORMATS: dict[str, str] = {
    "AT": r"U\d{8}",
    "BE": r"[01]\d{9}",
    "BG": r"\d{9,10}",
    "CY": r"\d{8}[A-Z]",
    "CZ": r"\d{8,10}",
    "DE": r"\d{9}",
    "DK": r"\d{8}",
    "EE": r"\d{9}",
    "EL": r"\d{9}",
    "ES": r"[0-9A-Z]\d{7}[0-9A-Z]",
    "FI": r"\d{8}",
    "FR": r"[0-9A-HJ-NP-Z]{2}\d{9}",
    "HR": r"\d{11}",
    "HU": r"\d{8}",
    "IE": r"\d{7}[A-W][A-IW]?|\d[A-Z+*]\d{5}[A-W]",
    "IT": r"\d{11}",
    "LT": r"\d{9}|\d{12}",
    "LU": r"\d{8}",
    "LV": r"\d{11}",
    "MT": r"\d{8}",
    "NL": r"\d{9}B\d{2}",
    "PL": r"\d{10}",
    "PT": r"\d{9}",
    "RO": r"[1-9]\d{1,9}",
    "SE": r"\d{10}01",
    "SI": r"\d{8}",
    "SK": r"\d{10}",
    "GB": r"\d{9}|\d{12}|GD[0-4]\d{2}|HA[5-9]\d{2}",
    "XI": r"\d{9}|\d{12}|GD[0-4]\d{2}|HA[5-9]\d{2}",
    "CHE": r"\d{9}",
    "NO": r"\d{9}",
}
EXAMPLES = {"DE": "DE123456788", "AT": "ATU12345678", "CHE": "CHE-116.281.710 MWST", "NL": "NL123456789B01"}
_SEPARATORS = re.compile(r"[\s.\-/,]+")


def _de_check_digit(digits: str) -> int:
    """ISO 7064 MOD 11,10 over the first eight digits of a German USt-IdNr."""
    product = 10
    for digit in digits[:8]:
        total = (int(digit) + product) % 10 or 10
        product = (2 * total) % 11
    return (11 - product) % 10


def _mod11_check_digit(digits: str, weights: tuple[int, ...]) -> int | None:
    """Weighted MOD 11 check digit (Swiss UID, Norwegian organisation number); None when 10 (never issued)."""
    check = 11 - sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11
    return None if check == 10 else check % 11


def _checksum_ok(prefix: str, number: str) -> bool:
    if prefix == "DE":
        return _de_check_digit(number) == int(number[8])
    if prefix == "CHE":
        return _mod11_check_digit(number[:8], (5, 4, 3, 2, 7, 6, 5, 4)) == int(number[8])
    if prefix == "NO":
        return _mod11_check_digit(number[:8], (3, 2, 7, 6, 5, 4, 3, 2)) == int(number[8])
    return True


def check_vat_id(value: str, *, field: str = "vat_id") -> str:
    """The compact VAT id, or `ValidationError(code="invalid_vat_id")` with a German message."""
    if not isinstance(value, str):
        raise ValidationError("Die USt-IdNr. muss ein Text sein.", code="invalid_vat_id", field=field)
    text = _SEPARATORS.sub("", value).upper()
    if not text:
        raise ValidationError("Die USt-IdNr. fehlt.", code="invalid_vat_id", field=field)
    if text.startswith("CHE"):
        prefix, number = "CHE", re.sub(r"(MWST|TVA|IVA|VAT)$", "", text[3:])
    else:
        prefix, number = text[:2], text[2:]
        if prefix == "GR":
            prefix = "EL"
        if prefix == "NO":
            number = number.removesuffix("MVA")
    pattern = VAT_FORMATS.get(prefix)
    if pattern is None:
        raise ValidationError(
            f"Die USt-IdNr. {value.strip()[:30]!r} beginnt nicht mit einem bekannten Länderkennzeichen (z. B. DE, AT).",
            code="invalid_vat_id",
            field=field,
        )
    if not re.fullmatch(pattern, number):
        example = EXAMPLES.get(prefix)
        hint = f" (Beispiel: {example})" if example else ""
        raise ValidationError(
            f"Die USt-IdNr. {value.strip()[:30]!r} hat nicht das Format für {prefix}{hint}.",
            code="invalid_vat_id",
            field=field,
        )
    if not _checksum_ok(prefix, number):
        raise ValidationError(
            f"Die USt-IdNr. {value.strip()[:30]!r} ist ungültig (Prüfziffer stimmt nicht; Tippfehler?).",
            code="invalid_vat_id",
            field=field,
        )
    return prefix + number + ("MVA" if prefix == "NO" else "")
