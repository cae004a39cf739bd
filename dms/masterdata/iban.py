"""IBAN and BIC checks: mod-97 (ISO 13616) with the registered length per country; masking for display.

`check_iban` accepts the printed form ("DE89 3704 0044 0532 0130 00", lower case, hyphens) and returns the
compact upper-case form that is stored. Errors are `ValidationError(code="invalid_iban")` with a German message.
"""

from __future__ import annotations

import re

from dms.errors import ValidationError

# IBAN length per country (SWIFT IBAN registry).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27,
    "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25,
    "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18,
    "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33,
    "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip
# Countries whose BBAN (the part after the check digits) has digits only.
_NUMERIC_BBAN_COUNTRIES = "AT BA BE CZ DE DK EE ES FI FO GL HR HU IS LT ME NO PL PT RS SE SI SK TN XK"
_NUMERIC_BBAN = frozenset(_NUMERIC_BBAN_COUNTRIES.split())
_SEPARATORS = re.compile(r"[\s\-.]+")
_BIC = re.compile(r"[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?")


def _fail(message: str, field: str, code: str = "invalid_iban") -> ValidationError:
    return ValidationError(message, code=code, field=field)


def iban_remainder(iban: str) -> int:
    """The ISO 13616 remainder (1 for a valid IBAN): country and check digits moved to the end, letters A=10…Z=35."""
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97


def check_iban(value: str, *, field: str = "iban") -> str:
    """The compact upper-case IBAN, or `ValidationError(code="invalid_iban")` naming what is wrong."""
    if not isinstance(value, str):
        raise _fail("Die IBAN muss ein Text sein.", field)
    iban = _SEPARATORS.sub("", value).upper()
    if iban.startswith("IBAN"):
        iban = iban[4:].lstrip(":")
    if not iban:
        raise _fail("Die IBAN fehlt.", field)
    if not re.fullmatch(r"[A-Z0-9]+", iban):
        raise _fail("Die IBAN darf nur Buchstaben und Ziffern enthalten.", field)
    country = iban[:2]
    if not re.fullmatch(r"[A-Z]{2}\d{2}", iban[:4]):
        raise _fail("Die IBAN muss mit Länderkennzeichen und zwei Prüfziffern beginnen (z. B. DE89…).", field)
    expected = IBAN_LENGTHS.get(country)
    if expected is None:
        raise _fail(f"Unbekanntes Länderkennzeichen {country!r} in der IBAN.", field)
    if len(iban) != expected:
        raise _fail(f"Eine IBAN aus {country} hat {expected} Stellen, nicht {len(iban)}.", field)
    if country in _NUMERIC_BBAN and not iban[4:].isdigit():
        raise _fail(f"Eine IBAN aus {country} hat nach den Prüfziffern nur Ziffern.", field)
    if iban_remainder(iban) != 1:
        raise _fail("Die IBAN ist ungültig (Prüfziffer stimmt nicht; Tippfehler?).", field)
    return iban


def check_bic(value: str, *, field: str = "bic") -> str:
    """The compact upper-case BIC (8 or 11 characters), or `ValidationError(code="invalid_bic")`."""
    if not isinstance(value, str):
        raise _fail("Die BIC muss ein Text sein.", field, "invalid_bic")
    bic = _SEPARATORS.sub("", value).upper()
    if not _BIC.fullmatch(bic):
        raise _fail("Die BIC hat 8 oder 11 Zeichen (z. B. COBADEFFXXX).", field, "invalid_bic")
    return bic


def format_iban(iban: str) -> str:
    """The printed form in groups of four: "DE89 3704 0044 0532 0130 00"."""
    compact = _SEPARATORS.sub("", iban).upper()
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def mask_iban(iban: str) -> str:
    """The IBAN for principals without `customers:bank`: "**** " and the last four characters."""
    compact = _SEPARATORS.sub("", iban or "").upper()
    return "**** " + compact[-4:] if len(compact) > 4 else "****"
