"""Postal codes per country, country codes, and the normalised address kept for duplicate matching.

`check_postal_code` knows DE, AT, CH, LI, NL, FR, IT, ES, PL, BE, LU and DK; other countries only get a
plausibility check. `normalize_address` builds "street|postal code|city|country" in lower case with umlauts
folded, "Straße/Str./strasse" shortened to "str", house-number spacing removed and city qualifiers dropped
("Frankfurt am Main" = "Frankfurt a. M." = "frankfurt"): "musterstr 12|12345|berlin|de".
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from dms.errors import ValidationError
from dms.masterdata.names import fold

# ISO 3166-1 alpha-2 (officially assigned codes, plus XK for Kosovo as used by banks and the EU).
_COUNTRY_CODES = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW
    BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK
    FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS
    IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM
    MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS
    PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK
    TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW"""
COUNTRIES = frozenset(_COUNTRY_CODES.split())
# Country names and old vehicle codes seen in spreadsheets, folded (see names.fold).
_COUNTRY_ALIASES = {
    "d": "DE", "deutschland": "DE", "germany": "DE", "brd": "DE", "bundesrepublik deutschland": "DE",
    "a": "AT", "oesterreich": "AT", "austria": "AT", "schweiz": "CH", "switzerland": "CH", "suisse": "CH",
    "liechtenstein": "LI", "fl": "LI", "niederlande": "NL", "holland": "NL", "netherlands": "NL",
    "f": "FR", "frankreich": "FR", "france": "FR", "i": "IT", "italien": "IT", "italy": "IT", "e": "ES",
    "spanien": "ES", "spain": "ES", "polen": "PL", "poland": "PL", "b": "BE", "belgien": "BE", "belgium": "BE",
    "l": "LU", "luxemburg": "LU", "luxembourg": "LU", "daenemark": "DK", "denmark": "DK",
    "uk": "GB", "grossbritannien": "GB", "vereinigtes koenigreich": "GB", "united kingdom": "GB",
}  # fmt: skip
# Old prefixes in front of a postal code ("D-12345", "CH-8000"), per country.
_PREFIXES = {"DE": ("D", "DE"), "AT": ("A", "AT"), "CH": ("CH",), "LI": ("FL", "LI"), "LU": ("L", "LU"),
             "BE": ("B", "BE"), "FR": ("F", "FR"), "IT": ("I", "IT"), "ES": ("E", "ES"), "NL": ("NL",),
             "PL": ("PL",), "DK": ("DK",)}  # fmt: skip
# (pattern on the code without spaces, output template, example for the message)
_FORMATS: dict[str, tuple[str, str, str]] = {
    "DE": (r"(?!00)\d{5}", "{0}", "12345"),
    "AT": (r"[1-9]\d{3}", "{0}", "1010"),
    "CH": (r"[1-9]\d{3}", "{0}", "8001"),
    "LI": (r"94(?:8[5-9]|9\d)", "{0}", "9490"),
    "BE": (r"[1-9]\d{3}", "{0}", "1000"),
    "LU": (r"\d{4}", "{0}", "1234"),
    "DK": (r"\d{4}", "{0}", "1050"),
    "FR": (r"\d{5}", "{0}", "75001"),
    "IT": (r"\d{5}", "{0}", "00184"),
    "ES": (r"(?:0[1-9]|[1-4]\d|5[0-2])\d{3}", "{0}", "28001"),
    "PL": (r"(\d{2})-?(\d{3})", "{1}-{2}", "00-950"),
    "NL": (r"([1-9]\d{3})((?!SA|SD|SS)[A-Z]{2})", "{1} {2}", "1012 AB"),
}
_SPACES = re.compile(r"\s+")


def check_country(value: str | None, *, field: str = "country") -> str:
    """The ISO 3166 alpha-2 code ("" → "DE"; also "Deutschland", "Österreich", "D"), else `invalid_country`."""
    if value is not None and not isinstance(value, str):
        raise ValidationError("Das Land muss ein Text sein (z. B. DE).", code="invalid_country", field=field)
    text = (value or "").strip()
    if not text:
        return "DE"
    if text.upper() in COUNTRIES:
        return text.upper()
    alias = _COUNTRY_ALIASES.get(fold(text).strip(". "))
    if alias:
        return alias
    raise ValidationError(
        f"Unbekanntes Land {text[:40]!r}: bitte den zweistelligen ISO-Code angeben (z. B. DE, AT, CH).",
        code="invalid_country",
        field=field,
    )


def check_postal_code(code: str | int | None, country: str | None = "DE", *, field: str = "postal_code") -> str:
    """The postal code in its usual form for `country` ("" stays ""), else `ValidationError` "invalid_postal_code".

    The country is checked first (`check_country`, "" means DE); old prefixes such as "D-" or "CH-" are removed.
    """
    land = check_country(country)
    if isinstance(code, int) and not isinstance(code, bool):  # a spreadsheet cell
        code = str(code)
    if code is not None and not isinstance(code, str):
        raise ValidationError("Die Postleitzahl muss ein Text sein.", code="invalid_postal_code", field=field)
    text = _SPACES.sub(" ", (code or "").strip()).upper()
    if not text:
        return ""
    for prefix in _PREFIXES.get(land, ()):
        if re.match(rf"{prefix}[- ]\S", text):
            text = text[len(prefix) + 1 :]
            break
    compact = text.replace(" ", "")
    rule = _FORMATS.get(land)
    if rule is None:
        if re.fullmatch(r"[A-Z0-9][A-Z0-9 \-]{0,11}", text):
            return text
        raise ValidationError(f"Die Postleitzahl {text[:20]!r} ist ungültig.", code="invalid_postal_code", field=field)
    pattern, template, example = rule
    found = re.fullmatch(pattern, compact)
    if not found:
        raise ValidationError(
            f"Die Postleitzahl {text[:20]!r} ist für {land} ungültig (Beispiel: {example}).",
            code="invalid_postal_code",
            field=field,
        )
    return template.format(found.group(0), *found.groups())


def _street(text: str) -> str:
    street = fold(text)
    street = re.sub(r"[.,;/]", " ", street)
    # "Muster Straße", "Muster-Str.", "Musterstrasse" → "musterstr"
    street = re.sub(r"(\w)[\s-]*(?:strasse|str)\b", r"\1str", street)
    street = re.sub(r"\b(?:strasse|str)\b", "str", street)
    street = street.replace("-", " ")
    street = re.sub(r"\b(\d+)\s+([a-z])\b", r"\1\2", street)  # "12 a" → "12a"
    street = re.sub(r"\bst\b", "sankt", street)
    return _SPACES.sub(" ", street).strip()


def _city(text: str) -> str:
    city = fold(text)
    city = re.sub(r"\bst\.", "sankt", city)
    city = re.split(r"[(/,]| (?:a|am|an|i|im|in|ob|v|vor|bei|b|ot)\b", city)[0]
    city = re.sub(r"[.\-]", " ", city)
    return _SPACES.sub(" ", city).strip()


def normalize_address(address: Mapping[str, object]) -> str:
    """The matching key "street|postal code|city|country" of an address; "" when street or place is missing."""
    street = _street(str(address.get("street") or ""))
    city = _city(str(address.get("city") or ""))
    try:
        country = check_country(str(address.get("country") or ""))
    except ValidationError:
        country = fold(str(address.get("country"))).strip()
    raw_code = str(address.get("postal_code") or "")
    try:
        postal = check_postal_code(raw_code, country)
    except ValidationError:
        postal = raw_code
    postal = postal.replace(" ", "").lower()
    if not street or not (postal or city):
        return ""
    return "|".join((street, postal, city, country.lower()))


def address_key(customer: Mapping[str, object]) -> str:
    """The indexed address key of a customer dict: its `main` address normalised (else its first address)."""
    listed = customer.get("addresses")
    addresses = [a for a in listed if isinstance(a, Mapping)] if isinstance(listed, list) else []
    main = next((a for a in addresses if a.get("kind") == "main"), addresses[0] if addresses else None)
    return normalize_address(main) if main else ""
