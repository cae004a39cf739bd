"""The columns of customer tables (import, export, template): German headers ↔ fields of the customers API.

A row becomes exactly the JSON body the API takes (`row_body`), so the import validates it with the API's own
validator; an error of that validator names a field (`addresses.0.postal_code`), and `column_of` turns it back
into the header as the file spells it. Only the file format is handled here: German dates ("24.12.1980"),
"ja"/"nein", decimal commas, lists separated by commas, Excel's lost leading zeros of postal codes. Whether a
value is allowed is for the validator alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dms.customer_config import AttributeSpec
from dms.customer_fields import MASKED

# (header, field) in the order of the template and the export. Address and bank columns fill the main address
# and the first bank account; `Attribut:<key>` columns the custom attributes.
COLUMNS: list[tuple[str, str]] = [
    ("Kundennummer", "number"), ("Externe Nummer", "external_number"), ("Art", "kind"), ("Name", "name"),
    ("Anrede", "salutation"), ("Titel", "title"), ("Vorname", "first_name"), ("Nachname", "last_name"),
    ("Geburtsdatum", "birth_date"), ("Rechtsform", "legal_form"), ("Registergericht", "register_court"),
    ("Registernummer", "register_number"), ("USt-IdNr", "vat_id"), ("Status", "status"), ("Filiale", "branch"),
    ("Gruppen", "groups"), ("Tags", "tags"), ("E-Mail", "emails"),
    ("Straße", "address.street"), ("Adresszusatz", "address.addition"), ("PLZ", "address.postal_code"),
    ("Ort", "address.city"), ("Land", "address.country"),
    ("IBAN", "bank.iban"), ("BIC", "bank.bic"), ("Kontoinhaber", "bank.holder"),
]  # fmt: skip
HEADER_OF = {f: h for h, f in COLUMNS}
ATTRIBUTE_PREFIX = "Attribut:"
LISTS = {"groups", "tags", "emails"}
ADDRESS_FIELDS = ("street", "addition", "postal_code", "city", "country")
BANK_FIELDS = ("iban", "bic", "holder")

# Other spellings seen in spreadsheets (compared folded, see `_key`); the API field names work too.
_ALIASES = {
    "number": ["Kundennr", "Kunden-Nr.", "Kd.-Nr.", "Kundennummer"],
    "external_number": ["Fremdnummer", "ERP-Nummer", "Alte Kundennummer", "Ext. Nummer"],
    "kind": ["Kundenart", "Typ", "Personenart"],
    "name": ["Firma", "Firmenname", "Anzeigename", "Kundenname"],
    "birth_date": ["Geburtstag", "Geb.-Datum", "Geboren"],
    "vat_id": ["USt-ID", "USt-IdNr.", "Umsatzsteuer-ID", "UStIdNr", "Umsatzsteuer-Identifikationsnummer"],
    "branch": ["Niederlassung", "Standort"],
    "groups": ["Gruppe", "Kundengruppe", "Kundengruppen"],
    "tags": ["Schlagwörter", "Schlagworte", "Stichwörter"],
    "emails": ["E-Mail-Adresse", "E-Mail-Adressen", "Email", "Mail"],
    "address.street": ["Strasse", "Straße und Hausnummer", "Str.", "Anschrift"],
    "address.addition": ["Zusatz", "Adresszusatz"],
    "address.postal_code": ["Postleitzahl"],
    "address.city": ["Stadt", "Wohnort"],
    "address.country": ["Staat", "Länderkennzeichen"],
    "bank.holder": ["Kontoinhaberin", "Inhaber"],
}
_KINDS = {
    "natural": ["natural", "natürlich", "natürliche Person", "Privatperson", "Person", "privat", "Privatkunde"],
    "legal": ["legal", "juristisch", "juristische Person", "Firma", "Unternehmen", "Firmenkunde", "Gewerbe"],
}
KIND_LABELS = {"natural": "Privatperson", "legal": "Firma"}
_SPLIT = re.compile(r"\s*[,;]\s*")


def _key(text: str) -> str:
    folded = text.strip().rstrip("*").strip().casefold()
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        folded = folded.replace(a, b)
    return re.sub(r"[^a-z0-9]", "", folded)


_FIELD_OF: dict[str, str] = {}
for _header, _field in COLUMNS:
    for _spelling in [_header, _field, _field.replace("address.", "").replace("bank.", ""), *_ALIASES.get(_field, [])]:
        _FIELD_OF.setdefault(_key(_spelling), _field)
_KIND_OF = {_key(s): kind for kind, spellings in _KINDS.items() for s in spellings}


@dataclass
class Layout:
    """The columns of one file: index → field (`attributes.<key>` for custom attributes), and the headers as spelt."""

    fields: dict[int, str]
    headers: list[str]
    problems: list[tuple[str, str, str]]  # (header, code, message) of the header row

    def column(self, field: str) -> str:
        """The header of `field` as this file spells it (the standard header when the file lacks it)."""
        for index, name in self.fields.items():
            if name == field:
                return self.headers[index]
        if field.startswith("attributes."):
            return ATTRIBUTE_PREFIX + field.split(".", 1)[1]
        return HEADER_OF.get(field, field)


def layout(header: Sequence[str], attributes: Iterable[AttributeSpec] = ()) -> Layout:
    """Which field each column holds; unknown and repeated headers are problems of row 1."""
    by_label = {_key(a.label): a.key for a in attributes if a.label}
    by_key = {_key(a.key): a.key for a in attributes}
    fields: dict[int, str] = {}
    problems: list[tuple[str, str, str]] = []
    for index, text in enumerate(header):
        if not text:
            continue
        if _key(text).startswith(_key(ATTRIBUTE_PREFIX)) and ":" in text:
            name = text.split(":", 1)[1].strip().rstrip("*").strip()
            field = "attributes." + (by_key.get(_key(name)) or by_label.get(_key(name)) or name)
        elif _key(text) in _FIELD_OF:
            field = _FIELD_OF[_key(text)]
        elif _key(text) in by_key or _key(text) in by_label:
            field = "attributes." + (by_key.get(_key(text)) or by_label[_key(text)])
        else:
            problems.append((text, "unknown_column", f"Unbekannte Spalte {text!r}. Bekannt sind: "
                             + ", ".join(h for h, _ in COLUMNS) + f", {ATTRIBUTE_PREFIX}<Schlüssel>."))
            continue
        if field in fields.values():
            problems.append((text, "duplicate_column", f"Die Spalte {text!r} kommt mehrfach vor."))
            continue
        fields[index] = field
    if "number" not in fields.values() and "name" not in fields.values() and "last_name" not in fields.values():
        problems.append((header[0] if header else "", "no_header",
                         "Die erste Zeile nennt weder Kundennummer noch Name oder Nachname: "
                         "ist sie die Zeile der Spaltenüberschriften?"))
    return Layout(fields, list(header), problems)


# --- a row → the API body ----------------------------------------------------------------------


def _postal_code(text: str, country: str) -> str:
    """Excel turns the PLZ 01067 into the number 1067: a German code of four digits gets its zero back."""
    if text.isdigit() and len(text) == 4 and country.strip().upper() in ("", "DE", "D", "DEUTSCHLAND"):
        return "0" + text
    return text


def row_body(cells: Sequence[str], lay: Layout, existing: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The API body of one row, cells as text (for the validator's `text_input`: "ja", "12,50", "31.12.1980"):
    only the filled cells (an empty cell sets nothing, and changes nothing on an update). The main address and
    the first bank account are merged into `existing` (the customer as the API shows it) so its other addresses
    and accounts stay."""
    values = {field: cells[i].strip() for i, field in lay.fields.items() if i < len(cells) and cells[i].strip()}
    body: dict[str, Any] = {}
    address: dict[str, str] = {}
    bank: dict[str, str] = {}
    extra: dict[str, Any] = {}
    for field, text in values.items():
        if field.startswith("address."):
            address[field.split(".", 1)[1]] = text
        elif field.startswith("bank."):
            bank[field.split(".", 1)[1]] = text
        elif field.startswith("attributes."):
            extra[field.split(".", 1)[1]] = text
        elif field in LISTS:
            body[field] = [part for part in _SPLIT.split(text) if part]
        elif field == "kind":
            body[field] = _KIND_OF.get(_key(text), text)
        else:
            body[field] = text
    if "kind" not in body and existing is None and not {"name", "legal_form", "vat_id"} & set(body) and \
            {"first_name", "last_name"} & set(body):
        body["kind"] = "natural"  # a row with first and last name but no company is a person
    if extra:
        body["attributes"] = {**dict((existing or {}).get("attributes") or {}), **extra}
    if address:
        if "postal_code" in address:
            address["postal_code"] = _postal_code(address["postal_code"], address.get("country", ""))
        body["addresses"] = _merge_main_address(address, (existing or {}).get("addresses") or [])
    if bank:
        body["bank_accounts"] = _merge_first_account(bank, (existing or {}).get("bank_accounts") or [])
    return body


def _plain(entry: Mapping[str, Any], allowed: Sequence[str]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k in allowed and v not in (None, "")}


def _merge_main_address(cells: dict[str, str], addresses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kept = [_plain(a, ("kind", *ADDRESS_FIELDS)) for a in addresses]
    for index, old in enumerate(kept):
        if old.get("kind") == "main":
            kept[index] = {**old, **cells}
            return kept
    return [{"kind": "main", **cells}, *kept]


def _merge_first_account(cells: dict[str, str], accounts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The file's account updates the stored one with that IBAN (also given masked, "**** 3000", as an export
    shows it without `customers:bank`), else replaces the first one (its BIC and holder do not carry over)."""
    kept = [_plain(a, (*BANK_FIELDS, "label")) for a in accounts]
    iban = cells.get("iban", "")
    masked = MASKED.match(iban)
    wanted = re.sub(r"[\s.-]", "", iban).upper()
    for index, old in enumerate(kept):
        stored = str(old.get("iban", "")).upper()
        if stored and (stored.endswith(masked[1].upper()) if masked else stored == wanted):
            kept[index] = {**old, **cells, "iban": old["iban"]}
            return kept
    if not kept:
        return [cells]
    if iban:
        return [cells, *kept[1:]]
    return [{**kept[0], **cells}, *kept[1:]]


# --- a customer → a row ------------------------------------------------------------------------


def header_row(attribute_keys: Sequence[str]) -> list[str]:
    return [h for h, _ in COLUMNS] + [ATTRIBUTE_PREFIX + key for key in attribute_keys]


def customer_row(customer: Mapping[str, Any], attribute_keys: Sequence[str]) -> list[str]:
    """One customer (as the API shows it to the caller, bank accounts masked or not) as cells of `header_row`."""
    addresses = customer.get("addresses") or []
    main = next((a for a in addresses if a.get("kind") == "main"), addresses[0] if addresses else {})
    accounts = customer.get("bank_accounts") or []
    bank = accounts[0] if accounts else {}
    cells: list[str] = []
    for _, field in COLUMNS:
        if field.startswith("address."):
            value: Any = main.get(field.split(".", 1)[1])
        elif field.startswith("bank."):
            value = bank.get(field.split(".", 1)[1])
        elif field == "kind":
            value = KIND_LABELS.get(str(customer.get("kind")), customer.get("kind"))
        else:
            value = customer.get(field)
        cells.append(_text(value))
    attributes = customer.get("attributes") or {}
    cells += [_text(attributes.get(key)) for key in attribute_keys]
    return cells


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "ja" if value else "nein"
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    return str(value)


# --- a validator's field → a column ------------------------------------------------------------


def field_of_error(path: str) -> str:
    """The column field of a validator's field path: `addresses.0.postal_code` → `address.postal_code`,
    `bank_accounts[0].iban` → `bank.iban`, `attributes.vertrag` → `attributes.vertrag`."""
    parts = [p for p in re.split(r"[.\[\]]+", path) if p and not p.isdigit()]
    if not parts:
        return path
    top, last = parts[0], parts[-1]
    if top == "addresses":
        return "address." + (last if last in ADDRESS_FIELDS else "street")
    if top == "bank_accounts":
        return "bank." + (last if last in BANK_FIELDS else "iban")
    if top == "attributes" and len(parts) > 1:
        return "attributes." + parts[1]
    return top
