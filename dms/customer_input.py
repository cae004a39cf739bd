"""Validation of customer master data (API bodies, CLI, imports): one function, every field.

`customer_input(body, config)` checks a whole customer (create), `partial=True` only the fields
sent (a change). Every bad field is collected: the ValidationError (400) carries `field` (the
first), `fields` ({path: message}) and `codes` ({path: code}); paths are dotted, e.g.
`addresses.0.postal_code`, `bank_accounts.1.iban`, `attributes.vertragsart`. `text_input=True`
takes the text forms a spreadsheet has ("ja"/"nein", "12,50", "31.12.1980", "" for nothing).
The single fields and sub-lists are checked in dms/customer_fields.py.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from dms.customer_config import AttributeSpec, CustomerConfig
from dms.customer_fields import (
    FAILED,
    KINDS,
    LIMITS,
    SALUTATIONS,
    FieldErrors,
    address,
    bank_account,
    birth_date,
    communication,
    consent,
    contact,
    date_value,
    entries,
    flag,
    name_part,
    one_of,
    sub_list,
    text_value,
)
from dms.domain import MASTER_DATA_FIELDS
from dms.errors import ValidationError
from dms.masterdata.vat import check_vat_id
from dms.validation import MAX_NAME, emails_field, number_field, quote, tags_field, text_field

MASTER_FIELDS = MASTER_DATA_FIELDS  # stored beside name, kind, status, tags and emails (issue 14)
FIELDS = frozenset({"name", "number", "kind", "status", "tags", "emails", "force", *MASTER_FIELDS})


# --- custom attributes ---------------------------------------------------------------------------


def attribute_value(spec: AttributeSpec, value: Any, *, text_input: bool = False) -> Any:
    """The stored value of one attribute (None: not set), or ValidationError with `attributes.<key>`."""
    path = f"attributes.{spec.key}"
    if value is None or (text_input and isinstance(value, str) and not value.strip()):
        return None
    if spec.type in ("text", "multiline", "choice"):
        multiline = spec.type == "multiline"
        sent = text_value(value, path, LIMITS["multiline" if multiline else "text"], multiline=multiline)
        if sent is None:
            return None
        if spec.type == "choice":
            return one_of(sent, path, spec.choices)
        pattern = spec.pattern
        if pattern is not None and not pattern.fullmatch(sent):
            raise ValidationError(f"{spec.label}: {quote(sent)!r} hat nicht das verlangte Format.", field=path,
                                  code="attribute_format")
        return sent
    if spec.type == "bool":
        return flag(value, path, text_input)
    if spec.type == "date":
        found = date_value(value, path, text_input)
        return found.isoformat() if found else None
    number: int | float
    if spec.type == "int":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if text_input and isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,18}\s*", value):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(f"{spec.label} muss eine ganze Zahl sein, nicht {quote(value)!r}.", field=path)
        number = value
    else:  # decimal
        if text_input and isinstance(value, str):
            digits = value.strip().replace(".", "").replace(",", ".") if "," in value else value.strip()
            with contextlib.suppress(InvalidOperation):
                value = float(Decimal(digits))
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value or abs(value) > 1e15:
            raise ValidationError(f"{spec.label} muss eine Zahl sein, nicht {quote(value)!r}.", field=path)
        number = value
    if (spec.min is not None and number < spec.min) or (spec.max is not None and number > spec.max):
        bounds = f"{'' if spec.min is None else spec.min} bis {'' if spec.max is None else spec.max}".strip()
        raise ValidationError(f"{spec.label}: {number} liegt nicht im erlaubten Bereich ({bounds}).", field=path,
                              code="attribute_range")
    return number


def _attributes(value: Any, config: CustomerConfig, errors: FieldErrors, text_input: bool) -> dict[str, Any] | None:
    if value is None:
        value = {}
    if not isinstance(value, dict):
        errors.add("attributes", "attributes muss ein Objekt sein ({Schlüssel: Wert}).")
        return None
    result: dict[str, Any] = {}
    for key, item in value.items():
        spec = config.attributes.get(key)
        if spec is None:
            known = ", ".join(config.attributes) or "keine"
            errors.add(f"attributes.{quote(key)}", f"Unbekanntes Attribut {quote(key)!r} (definiert: {known}).",
                       "unknown_attribute")
            continue
        checked = errors.check(f"attributes.{key}", attribute_value, spec, item, text_input=text_input)
        if checked is not None and checked is not FAILED:
            result[key] = checked
    for key, spec in config.attributes.items():
        if spec.required and key not in result and f"attributes.{key}" not in errors.messages:
            errors.add(f"attributes.{key}", f"{spec.label} (attributes.{key}) ist ein Pflichtfeld.", "required")
    return result


# --- the whole customer --------------------------------------------------------------------------


def _configured(value: Any, path: str, allowed: tuple[str, ...], what: str) -> str:
    name = text_field(value, path, max_length=64, required=True)
    if name not in allowed:
        raise ValidationError(f"Unbekannte{what} {quote(name)!r}: erlaubt sind {', '.join(allowed)}.", field=path)
    return name  # type: ignore[return-value]


def _groups(value: Any, config: CustomerConfig, errors: FieldErrors, text_input: bool) -> list[str] | None:
    if text_input and isinstance(value, str):
        value = [part for part in re.split(r"[,;]", value) if part.strip()]
    found = entries(value, "groups", errors)
    if found is None:
        return None
    groups: list[str] = []
    for index, item in enumerate(found):
        group = errors.check(f"groups.{index}", _configured, item, f"groups.{index}", config.groups, " Gruppe")
        if isinstance(group, str) and group not in groups:
            groups.append(group)
    return groups


def display_name(first_name: str | None, last_name: str | None) -> str | None:
    """The display name of a natural person from its parts ("Erika Mustermann")."""
    return " ".join(part for part in (first_name, last_name) if part) or None


def customer_input(
    body: dict[str, Any], config: CustomerConfig, *, partial: bool = False, text_input: bool = False
) -> dict[str, Any]:
    """Validated customer fields; `partial` for a change (only the given fields, no defaults).

    A whole customer (`partial=False`) gets the defaults: kind `legal`, the configured default
    status, group and branch, and a `name` from first and last name when none is given. `force`
    (create despite probable duplicates) comes back as `values["force"]` when sent. Bank accounts
    sent masked ("**** 3000") come back as `{"iban": None, "keep": "3000", …}`: see
    `resolve_bank_accounts`."""
    if not isinstance(body, dict):
        raise ValidationError("Der Kunde muss ein JSON-Objekt sein.")
    unknown = sorted(set(body) - (FIELDS - {"number"} if partial else FIELDS))
    if unknown:
        raise ValidationError(f"Unbekannte oder nicht änderbare Felder: {quote(', '.join(map(str, unknown)))}.")
    errors = FieldErrors()
    values: dict[str, Any] = {}

    def check(key: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        result = errors.check(key, func, *args, **kwargs)
        if result is not FAILED:
            values[key] = result

    if "name" in body and (body["name"] is not None or not text_input):
        check("name", text_field, body["name"], "name", max_length=MAX_NAME, required=True)
    if "number" in body and not partial:
        check("number", number_field, body["number"], "number")
    if "kind" in body and (body["kind"] is not None or partial):
        check("kind", _configured, body["kind"], "kind", KINDS, " Art")
    if "status" in body and (body["status"] is not None or partial):
        check("status", _configured, body["status"], "status", config.statuses, "r Status")
    if "branch" in body and (body["branch"] is not None or partial):
        check("branch", _configured, body["branch"], "branch", config.branches, " Filiale")
    if "tags" in body:
        check("tags", tags_field, body["tags"])
    if "emails" in body:
        check("emails", emails_field, body["emails"])
    if "force" in body:
        check("force", flag, body["force"], "force", text_input)
    if "salutation" in body:
        check("salutation", one_of, body["salutation"], "salutation", SALUTATIONS, empty_ok=True)
    for key in ("first_name", "last_name"):
        if key in body:
            check(key, name_part, body[key], key, LIMITS[key], text_input)
    for key in ("title", "legal_form", "register_court", "register_number", "external_number"):
        if key in body:
            check(key, text_value, body[key], key, LIMITS[key])
    if "vat_id" in body:
        vat = errors.check("vat_id", text_value, body["vat_id"], "vat_id", LIMITS["vat_id"])
        if vat is None:
            values["vat_id"] = None
        elif vat is not FAILED:
            check("vat_id", check_vat_id, vat, field="vat_id")
    if "birth_date" in body:
        check("birth_date", birth_date, body["birth_date"], text_input=text_input)
    lists: dict[str, Callable[[], Any]] = {
        "groups": lambda: _groups(body["groups"], config, errors, text_input),
        "addresses": lambda: sub_list(body["addresses"], "addresses", errors, address),
        "contacts": lambda: sub_list(body["contacts"], "contacts", errors, contact, text_input),
        "bank_accounts": lambda: sub_list(body["bank_accounts"], "bank_accounts", errors, bank_account),
        "consents": lambda: sub_list(body["consents"], "consents", errors, consent, text_input),
        "communication": lambda: communication(body["communication"], errors, text_input),
    }
    for key, run in lists.items():
        if key in body:
            result = run()
            if result is not None:
                values[key] = result
    if "attributes" in body or not partial:
        result = _attributes(body.get("attributes"), config, errors, text_input)
        if result is not None:
            values["attributes"] = result
    _cross_checks(values, errors)
    if not partial:
        _defaults(values, config, errors)
    errors.raise_any()
    return values


def _cross_checks(values: dict[str, Any], errors: FieldErrors) -> None:
    addresses = values.get("addresses") or []
    for entry in addresses:
        if entry["kind"] is None:
            entry["kind"] = "other" if any(a["kind"] == "main" for a in addresses) else "main"
    mains = [i for i, a in enumerate(addresses) if a["kind"] == "main"]
    if len(mains) > 1:
        errors.add(f"addresses.{mains[1]}.kind", "Nur eine Adresse kann die Hauptadresse (main) sein.")
    seen: set[str] = set()
    for index, given in enumerate(values.get("consents") or []):
        purpose = given["purpose"].casefold()
        if purpose in seen:
            errors.add(f"consents.{index}.purpose", f"Für den Zweck {given['purpose']!r} gibt es schon eine "
                       "Einwilligung (eine je Zweck).")
        seen.add(purpose)
    ibans = [a["iban"] for a in values.get("bank_accounts") or [] if a.get("iban")]
    for index, iban in enumerate(ibans):
        if iban in ibans[:index]:
            errors.add("bank_accounts", "Dieselbe IBAN steht zweimal in bank_accounts.")


def _defaults(values: dict[str, Any], config: CustomerConfig, errors: FieldErrors) -> None:
    values.setdefault("kind", "legal")
    values.setdefault("status", config.default_status)
    values.setdefault("branch", config.default_branch)
    if values.get("groups") is None and "groups" not in errors.messages:
        values["groups"] = [config.default_group]
    if not values.get("name") and "name" not in errors.messages:
        derived = display_name(values.get("first_name"), values.get("last_name"))
        if derived:
            values["name"] = derived
        elif not any(key in errors.messages for key in ("first_name", "last_name")):
            errors.add("name", "name fehlt (oder first_name/last_name bei einer natürlichen Person).")


def resolve_bank_accounts(accounts: list[dict[str, Any]], stored: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`accounts` with each masked IBAN ("**** 3000", sent back as shown) replaced by the stored IBAN it
    stands for (the stored accounts ending in those four characters, in order); ValidationError if none."""
    unused = [a["iban"] for a in stored if a.get("iban")]
    errors = FieldErrors()
    result: list[dict[str, Any]] = []
    for index, account in enumerate(accounts):
        keep = account.get("keep")
        if keep is None:
            result.append(account)
            continue
        match = next((iban for iban in unused if iban.endswith(keep)), None)
        if match is None:
            errors.add(f"bank_accounts.{index}.iban", f"Die maskierte IBAN **** {keep} gehört zu keinem "
                       "gespeicherten Konto dieses Kunden: bitte die vollständige IBAN angeben.", "invalid_iban")
            continue
        unused.remove(match)
        result.append({**{k: v for k, v in account.items() if k != "keep"}, "iban": match})
    errors.raise_any()
    return result
