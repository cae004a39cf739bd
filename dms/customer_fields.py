"""The single fields and sub-lists of a customer (addresses, contacts, bank accounts, consents,
communication preferences): checks that collect every error with its dotted path.

Used by dms/customer_input.py (the whole customer); `FieldErrors` gathers {path: message} and
{path: code} so one request (or one import row) reports every bad field at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

from dms.errors import ValidationError
from dms.masterdata.iban import check_bic, check_iban
from dms.masterdata.postal import check_country, check_postal_code, normalize_address
from dms.validation import MAX_NAME, email_address, quote, text_field

KINDS = ("natural", "legal")
SALUTATIONS = ("Herr", "Frau", "Divers")
ADDRESS_KINDS = ("main", "billing", "delivery", "other")
CHANNELS = ("email", "phone", "post", "none")
LIMITS = {  # maximum characters per text field (after cleaning)
    "title": 50, "first_name": 100, "last_name": 100, "legal_form": 64, "register_court": 100,
    "register_number": 32, "vat_id": 32, "external_number": 64, "street": 200, "postal_code": 16,
    "city": 100, "country": 64, "addition": 200, "contact_name": MAX_NAME, "role": 100, "phone": 40,
    "availability": 500, "relation": 100, "iban": 64, "bic": 16, "holder": MAX_NAME, "label": 100,
    "purpose": 64, "source": 200, "language": 16, "text": 500, "multiline": 5000,
}
MAX_ITEMS = {"addresses": 20, "contacts": 50, "phones": 10, "bank_accounts": 10, "consents": 50, "groups": 50,
             "attributes": 100}
MASKED = re.compile(r"^(?:\*|•){2,4} ?([0-9A-Za-z]{4})$")  # "**** 3000": a stored IBAN, as shown masked
PHONE_PATTERN = r"^\+?[0-9 ()/.\-]{3,40}$"
LANGUAGE_PATTERN = r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})?$"
_PHONE = re.compile(PHONE_PATTERN)
_LANGUAGE = re.compile(LANGUAGE_PATTERN)
_TRUE, _FALSE = {"true", "ja", "j", "yes", "y", "1", "x", "wahr"}, {"false", "nein", "n", "no", "0", "", "falsch"}
EARLIEST_BIRTH = date(1900, 1, 1)
FAILED = object()  # what FieldErrors.check returns for a bad value


class FieldErrors:
    """Collects one message (and code) per field path; `check` runs one validator."""

    def __init__(self) -> None:
        self.messages: dict[str, str] = {}
        self.codes: dict[str, str] = {}

    def add(self, path: str, message: str, code: str = "invalid_request") -> None:
        if path not in self.messages:
            self.messages[path] = message
            self.codes[path] = code

    def check(self, path: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ValidationError as exc:
            self.add(path, exc.message, exc.code)
            return FAILED

    def raise_any(self) -> None:
        """A ValidationError with every collected error (the first as `field`); nothing when none."""
        if not self.messages:
            return
        first = next(iter(self.messages))
        if len(self.messages) == 1:
            raise ValidationError(self.messages[first], code=self.codes[first], field=first, fields=self.messages,
                                  codes=self.codes)
        shown = list(self.messages)[:20]
        listed = ", ".join(shown) + (" …" if len(self.messages) > len(shown) else "")
        raise ValidationError(f"Ungültige Kundendaten ({len(self.messages)} Felder): {listed}.", field=first,
                              fields={k: self.messages[k] for k in shown}, codes={k: self.codes[k] for k in shown})


# --- single values ------------------------------------------------------------------------------


def text_value(value: Any, path: str, limit: int, *, multiline: bool = False, required: bool = False) -> str | None:
    return text_field(value, path, max_length=limit, multiline=multiline, required=required)


def name_part(value: Any, path: str, limit: int, text_input: bool = False) -> str | None:
    """A name part: null clears it, but a text must not be empty (an empty cell of a spreadsheet is nothing)."""
    if value is None or (text_input and isinstance(value, str) and not value.strip()):
        return None
    return text_value(value, path, limit, required=True)


def flag(value: Any, path: str, text_input: bool = False) -> bool:
    """true/false (JSON); from a spreadsheet also ja/nein, 1/0, x."""
    if isinstance(value, bool):
        return value
    if text_input and isinstance(value, str | int) and str(value).strip().lower() in _TRUE | _FALSE:
        return str(value).strip().lower() in _TRUE
    raise ValidationError(f"{path} muss true oder false sein, nicht {quote(value)!r}.", field=path)


def date_value(value: Any, path: str, text_input: bool = False) -> date | None:
    """An ISO date JJJJ-MM-TT; from a spreadsheet also TT.MM.JJJJ, and "" for none."""
    if value is None or (text_input and isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, date):
        return value
    raw = value.strip() if isinstance(value, str) else value
    if text_input and isinstance(raw, str) and (found := re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", raw)):
        raw = f"{found.group(3)}-{int(found.group(2)):02d}-{int(found.group(1)):02d}"
    if not isinstance(raw, str) or len(raw) != 10:
        raise ValidationError(f"{path} muss ein Datum JJJJ-MM-TT sein, nicht {quote(value)!r}.", field=path)
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise ValidationError(f"{path} muss ein gültiges Datum JJJJ-MM-TT sein, nicht {quote(value)!r}.",
                              field=path) from exc


def one_of(value: Any, path: str, allowed: tuple[str, ...], *, empty_ok: bool = False) -> str | None:
    if value is None or (empty_ok and value == ""):
        return None
    if not isinstance(value, str) or value not in allowed:
        raise ValidationError(f"{path}: {quote(value)!r} ist nicht erlaubt; erlaubt: {', '.join(allowed)}.",
                              field=path)
    return value


def entries(value: Any, path: str, errors: FieldErrors) -> list[Any] | None:
    """The entries of a list field (null: none); None (with the error collected) when it is no list."""
    if value is None:
        return []
    if not isinstance(value, list):
        errors.add(path, f"{path} muss eine Liste sein.")
        return None
    if len(value) > MAX_ITEMS[path]:
        errors.add(path, f"{path}: höchstens {MAX_ITEMS[path]} Einträge.", "too_long")
        return None
    return value


def members(value: Any, path: str, allowed: set[str], errors: FieldErrors) -> dict[str, Any] | None:
    """An object with only the `allowed` members; None (with the error collected) otherwise."""
    if not isinstance(value, dict):
        errors.add(path, f"{path} muss ein Objekt sein.")
        return None
    unknown = sorted(set(value) - allowed)
    if unknown:
        errors.add(path, f"{path}: unbekannte Felder {quote(', '.join(map(str, unknown)))}.")
        return None
    return value


def birth_date(value: Any, path: str = "birth_date", *, text_input: bool = False) -> date | None:
    born = date_value(value, path, text_input)
    if born is not None and not EARLIEST_BIRTH <= born <= date.today():
        raise ValidationError(f"{path}: {born.isoformat()} ist kein mögliches Geburtsdatum.", field=path)
    return born


# --- the sub-lists -------------------------------------------------------------------------------


def address(item: Any, path: str, errors: FieldErrors) -> dict[str, Any] | None:
    raw = members(item, path, {"kind", "street", "postal_code", "city", "country", "addition", "normalized"}, errors)
    if raw is None:
        return None
    # no kind: the first such address is the main one unless another is (customer_input's cross checks)
    result: dict[str, Any] = {"kind": errors.check(f"{path}.kind", one_of, raw.get("kind"), f"{path}.kind",
                                                   ADDRESS_KINDS)}
    for key in ("street", "city", "addition"):
        result[key] = errors.check(f"{path}.{key}", text_value, raw.get(key), f"{path}.{key}", LIMITS[key])
    country = errors.check(f"{path}.country", text_value, raw.get("country"), f"{path}.country", LIMITS["country"])
    if country is not FAILED:
        country = errors.check(f"{path}.country", check_country, country or "", field=f"{path}.country")
    code = errors.check(f"{path}.postal_code", text_value, raw.get("postal_code"), f"{path}.postal_code",
                        LIMITS["postal_code"])
    if code is not FAILED and country is not FAILED:
        code = errors.check(f"{path}.postal_code", check_postal_code, code or "", country,
                            field=f"{path}.postal_code") or None
    result["postal_code"], result["country"] = code, country
    if raw.get("normalized") is not None and not isinstance(raw["normalized"], str):  # sent back: ignored
        errors.add(f"{path}.normalized", f"{path}.normalized muss ein Text sein (wird ignoriert).")
        return None
    if FAILED in result.values():
        return None
    if not (result["street"] or result["postal_code"] or result["city"]):
        errors.add(path, f"{path}: Straße, PLZ oder Ort fehlt.")
        return None
    result["normalized"] = normalize_address(result)
    return result


def _phones(value: Any, path: str, errors: FieldErrors, text_input: bool) -> list[str]:
    if text_input and isinstance(value, str):
        value = [p for p in re.split(r"[,;]", value) if p.strip()]
    if value is not None and (not isinstance(value, list) or len(value) > MAX_ITEMS["phones"]):
        errors.add(path, f"{path}: eine Liste von höchstens {MAX_ITEMS['phones']} Nummern.")
    found: list[str] = []
    for index, phone in enumerate(value if isinstance(value, list) else []):
        number = errors.check(f"{path}.{index}", text_value, phone, f"{path}.{index}", LIMITS["phone"], required=True)
        if isinstance(number, str) and (not _PHONE.match(number) or sum(c.isdigit() for c in number) < 3):
            errors.add(f"{path}.{index}", f"{path}.{index}: {quote(number)!r} ist keine Telefonnummer.")
        elif isinstance(number, str) and number not in found:
            found.append(number)
    return found


def contact(item: Any, path: str, errors: FieldErrors, text_input: bool) -> dict[str, Any] | None:
    keys = {"name", "role", "phones", "email", "availability", "relation", "emergency"}
    raw = members(item, path, keys, errors)
    if raw is None:
        return None
    email = raw.get("email")
    no_email = email is None or (text_input and isinstance(email, str) and not email.strip())
    result: dict[str, Any] = {
        "name": errors.check(f"{path}.name", text_value, raw.get("name"), f"{path}.name", LIMITS["contact_name"],
                             required=True),
        "role": errors.check(f"{path}.role", text_value, raw.get("role"), f"{path}.role", LIMITS["role"]),
        "phones": _phones(raw.get("phones"), f"{path}.phones", errors, text_input),
        "email": None if no_email else errors.check(f"{path}.email", email_address, email, f"{path}.email"),
        "availability": errors.check(f"{path}.availability", text_value, raw.get("availability"),
                                     f"{path}.availability", LIMITS["availability"], multiline=True),
        "relation": errors.check(f"{path}.relation", text_value, raw.get("relation"), f"{path}.relation",
                                 LIMITS["relation"]),
        "emergency": errors.check(f"{path}.emergency", flag, raw.get("emergency", False), f"{path}.emergency",
                                  text_input),
    }
    failed = FAILED in result.values() or any(key.startswith(f"{path}.phones") for key in errors.messages)
    return None if failed else result


def bank_account(item: Any, path: str, errors: FieldErrors) -> dict[str, Any] | None:
    raw = members(item, path, {"iban", "bic", "holder", "label", "masked"}, errors)
    if raw is None:
        return None
    result: dict[str, Any] = {}
    sent = errors.check(f"{path}.iban", text_value, raw.get("iban"), f"{path}.iban", LIMITS["iban"], required=True)
    masked = MASKED.match(sent) if isinstance(sent, str) else None
    if masked:
        result["keep"] = masked.group(1).upper()  # resolved against the stored accounts: resolve_bank_accounts
        result["iban"] = None
    elif sent is not FAILED:
        result["iban"] = errors.check(f"{path}.iban", check_iban, sent, field=f"{path}.iban")
    else:
        result["iban"] = FAILED
    bic = errors.check(f"{path}.bic", text_value, raw.get("bic"), f"{path}.bic", LIMITS["bic"])
    result["bic"] = errors.check(f"{path}.bic", check_bic, bic, field=f"{path}.bic") if isinstance(bic, str) else bic
    for key in ("holder", "label"):
        result[key] = errors.check(f"{path}.{key}", text_value, raw.get(key), f"{path}.{key}", LIMITS[key])
    if "masked" in raw and not isinstance(raw["masked"], bool):  # sent back as received: ignored
        errors.add(f"{path}.masked", f"{path}.masked muss true oder false sein.")
    return None if FAILED in result.values() else result


def consent(item: Any, path: str, errors: FieldErrors, text_input: bool) -> dict[str, Any] | None:
    raw = members(item, path, {"purpose", "granted", "date", "source"}, errors)
    if raw is None:
        return None
    result = {
        "purpose": errors.check(f"{path}.purpose", text_value, raw.get("purpose"), f"{path}.purpose",
                                LIMITS["purpose"], required=True),
        "granted": errors.check(f"{path}.granted", flag, raw.get("granted"), f"{path}.granted", text_input),
        "date": errors.check(f"{path}.date", date_value, raw.get("date"), f"{path}.date", text_input),
        "source": errors.check(f"{path}.source", text_value, raw.get("source"), f"{path}.source", LIMITS["source"]),
    }
    if FAILED in result.values():
        return None
    result["date"] = result["date"].isoformat() if result["date"] else None
    return result


def communication(value: Any, errors: FieldErrors, text_input: bool) -> dict[str, Any] | None:
    if value is None:
        return {}
    raw = members(value, "communication", {"preferred_channel", "language", "no_advertising"}, errors)
    if raw is None:
        return None
    result: dict[str, Any] = {}
    if "preferred_channel" in raw:
        result["preferred_channel"] = errors.check("communication.preferred_channel", one_of,
                                                   raw["preferred_channel"], "communication.preferred_channel",
                                                   CHANNELS, empty_ok=text_input)
    if "language" in raw:
        language = errors.check("communication.language", text_value, raw["language"], "communication.language",
                                LIMITS["language"])
        if isinstance(language, str) and not _LANGUAGE.match(language):
            errors.add("communication.language", f"communication.language: {quote(language)!r} ist kein "
                       "Sprachcode (z. B. de, en, de-CH).")
        result["language"] = language
    if "no_advertising" in raw:
        result["no_advertising"] = errors.check("communication.no_advertising", flag, raw["no_advertising"],
                                                "communication.no_advertising", text_input)
    if FAILED in result.values() or "communication.language" in errors.messages:
        return None
    return {key: item for key, item in result.items() if item is not None}


def sub_list(value: Any, path: str, errors: FieldErrors, check: Callable[..., Any], *args: Any) -> list[Any] | None:
    """A list field whose entries `check` validates (None when any is bad; the errors are collected)."""
    found = entries(value, path, errors)
    if found is None:
        return None
    checked = [check(item, f"{path}.{index}", errors, *args) for index, item in enumerate(found)]
    return None if any(item is None for item in checked) else checked
