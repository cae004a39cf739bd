"""Field validation in one place: every text a user, a mail or a file sends us passes here.

Types are checked (a name is a string, never a stringified object), text is Unicode NFC,
control characters and bidi overrides are removed, lengths are capped, and file names never
carry path separators or `..`. Entry points (API, CLI, mail gateway, ingest) call these
functions; they raise `ValidationError` with the field name and a short quote of the input.
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import date
from email.utils import parseaddr
from pathlib import PurePath
from typing import Any

from dms.errors import InvalidMetadata, ValidationError

MAX_NAME = 200
MAX_TITLE = 300
MAX_TAG = 64
MAX_TAGS = 50
MAX_FILENAME = 255
MAX_COMMENT = 2000
MAX_NUMBER = 32
MAX_EMAILS = 20
MAX_EMAIL = 254  # RFC 5321: the longest forward path
QUOTE = 40  # characters of a bad input quoted back in an error message

# C0/C1 controls (tab and newline are handled per field), DEL, and the bidi embedding,
# override and isolate characters that make "rechnung\u202efdp.exe" look like a PDF.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_BIDI = re.compile(r"[\u200e\u200f\u202a-\u202e\u2066-\u2069\u061c]")
_WHITESPACE = re.compile(r"\s+")
_PATH_CHARS = re.compile(r"[/\\:*?\"<>|]")


def quote(value: object, length: int = QUOTE) -> str:
    """A short, printable prefix of a (possibly huge or hostile) input for error messages."""
    text = value if isinstance(value, str) else repr(value)
    text = _BIDI.sub("", _CONTROL.sub("?", text.encode("utf-8", "replace").decode("utf-8")))
    return text if len(text) <= length else text[:length] + "…"


def clean_text(value: str, *, multiline: bool = False) -> str:
    """NFC, without control and bidi characters; single-line text also has its whitespace folded."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates from JSON "\ud800"
        raise ValidationError("Der Text enthält ungültige Unicode-Zeichen.", code="invalid_unicode") from exc
    text = unicodedata.normalize("NFC", value)
    text = _BIDI.sub("", text)
    if multiline:
        text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\t", " "))
        return text.strip()
    text = _CONTROL.sub("", text.replace("\t", " ").replace("\n", " ").replace("\r", " "))
    return _WHITESPACE.sub(" ", text).strip()


def text_field(
    value: Any,
    field: str,
    *,
    max_length: int,
    required: bool = False,
    multiline: bool = False,
) -> str | None:
    """A text field of a request: must be a string (or None/absent when not required)."""
    if value is None:
        if required:
            raise ValidationError(f"{field} fehlt.", field=field)
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{field} muss ein Text sein, nicht {type(value).__name__}.", field=field)
    text = clean_text(value, multiline=multiline)
    if not text:
        if required:
            raise ValidationError(f"{field} darf nicht leer sein.", field=field)
        return None
    if len(text) > max_length:
        raise ValidationError(
            f"{field} ist zu lang ({len(text)} Zeichen, höchstens {max_length}): {quote(text)!r}",
            code="too_long",
            field=field,
        )
    return text


def tags_field(value: Any, field: str = "tags") -> list[str]:
    """A list of tags: strings, each cleaned and at most MAX_TAG long, at most MAX_TAGS, no duplicates."""
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        raise ValidationError(f"{field} muss eine Liste von Texten sein.", field=field)
    if len(value) > MAX_TAGS:  # entries as sent, before empty ones and duplicates are dropped
        raise ValidationError(f"Höchstens {MAX_TAGS} Schlagworte.", code="too_long", field=field)
    tags: list[str] = []
    for item in value:
        tag = text_field(item, field, max_length=MAX_TAG)
        if tag and tag not in tags:
            tags.append(tag)
    return tags


# local@domain: a dot-atom local part (RFC 5322, no quoted strings) and a domain of dot-separated
# labels (letters, digits, inner hyphens) ending in a label of at least two letters. EMAIL_PATTERN
# is the ASCII form (for the OpenAPI document); the check also takes letters of any script
# (internationalised addresses and domains).
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_ATOM_ANY = r"[\w!#$%&'*+/=?^`{|}~-]+"  # also letters of any script (SMTPUTF8)
EMAIL_PATTERN = rf"^{_ATOM}(?:\.{_ATOM})*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?\.)+[A-Za-z]{{2,63}}$"
_EMAIL = re.compile(
    rf"{_ATOM_ANY}(?:\.{_ATOM_ANY})*@(?:[^\W_](?:(?:[^\W_]|-){{0,61}}[^\W_])?\.)+[^\W\d_]{{2,63}}"
)


def email_address(value: Any, field: str = "email") -> str:
    """One mail address (`Name <a@b.de>` is accepted as a@b.de, a list of several is not), lower case."""
    if not isinstance(value, str):
        raise ValidationError(f"{field}: eine E-Mail-Adresse muss ein Text sein, nicht {type(value).__name__}.",
                              field=field)
    text = clean_text(value)
    _, address = parseaddr(text)
    address = address.strip().lower()
    alone = text.lower() in (address, f"<{address}>") or text.lower().endswith(f" <{address}>")
    if not alone or len(address) > MAX_EMAIL or not _EMAIL.fullmatch(address):
        raise ValidationError(f"{field}: {quote(text)!r} ist keine gültige E-Mail-Adresse.", field=field)
    return address


def emails_field(value: Any, field: str = "emails") -> list[str]:
    """A list of mail addresses: each valid, lower case, no duplicates, at most MAX_EMAILS."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValidationError(f"{field} muss eine Liste von E-Mail-Adressen sein.", field=field)
    if len(value) > MAX_EMAILS:
        raise ValidationError(f"Höchstens {MAX_EMAILS} E-Mail-Adressen.", code="too_long", field=field)
    addresses: list[str] = []
    for item in value:
        address = email_address(item, field)
        if address not in addresses:
            addresses.append(address)
    return addresses


def safe_filename(name: str | None, default: str = "unbenannt") -> str:
    """A file name fit for storing and for Content-Disposition: the last path part, cleaned,
    without path separators, `..`, control or bidi characters, at most MAX_FILENAME characters
    (the extension is kept when shortening). Never raises."""
    if not isinstance(name, str):
        return default
    text = name.encode("utf-8", "replace").decode("utf-8")
    text = clean_text(text.replace("\\", "/"))
    base = PurePath(text).name if "/" in text else text
    base = _PATH_CHARS.sub("_", base).strip(" .")
    if not base or set(base) <= {".", "_"}:
        return default
    if len(base) > MAX_FILENAME:
        stem, dot, ext = base.rpartition(".")
        keep_ext = bool(dot) and 0 < len(ext) <= 16
        base = stem[: MAX_FILENAME - len(ext) - 1] + "." + ext if keep_ext else base[:MAX_FILENAME]
    return base


# --- inputs of the use cases (API, CLI and later entry points share these) -----------------

_CUSTOMER_FIELDS = {"name", "number", "kind", "status", "tags", "emails"}
_DOCUMENT_FIELDS = {"customer_number", "document_class", "folder", "title", "tags"}


def _unknown(body: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ValidationError(f"Unbekannte oder nicht änderbare Felder: {quote(', '.join(unknown))}.")


def number_field(value: Any, field: str) -> str | None:
    """A customer number: text (an integer is accepted as written), at most MAX_NUMBER characters."""
    if isinstance(value, float) and value.is_integer():  # JSON `263.0` is the integer 263 (JSON Schema agrees)
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return text_field(value, field, max_length=MAX_NUMBER)


def customer_input(body: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """Validated customer fields; `partial` for a change (only the given fields)."""
    _unknown(body, _CUSTOMER_FIELDS if not partial else _CUSTOMER_FIELDS - {"number"})
    values: dict[str, Any] = {}
    if not partial or "name" in body:
        values["name"] = text_field(body.get("name"), "name", max_length=MAX_NAME, required=True)
    if "number" in body and not partial:
        values["number"] = number_field(body["number"], "number")
    for key in ("kind", "status"):
        if key in body:
            value = text_field(body[key], key, max_length=32, required=partial)
            if value is not None:
                values[key] = value
    if "tags" in body:
        values["tags"] = tags_field(body["tags"])
    if "emails" in body:
        values["emails"] = emails_field(body["emails"])
    return values


def document_changes(body: dict[str, Any]) -> dict[str, Any]:
    """Validated fields of filing a document by hand (`class` is accepted for `document_class`)."""
    body = {("document_class" if k == "class" else k): v for k, v in body.items()}
    _unknown(body, _DOCUMENT_FIELDS)
    changes: dict[str, Any] = {}
    if "customer_number" in body:
        changes["customer_number"] = number_field(body["customer_number"], "customer_number")
    if "document_class" in body:
        changes["document_class"] = text_field(body["document_class"], "document_class", max_length=64)
    if "folder" in body:
        changes["folder"] = text_field(body["folder"], "folder", max_length=200)
    if "title" in body:
        changes["title"] = text_field(body["title"], "title", max_length=MAX_TITLE, required=True)
    if "tags" in body:
        changes["tags"] = tags_field(body["tags"])
    return changes


# --- metadata sent with a document (form fields or one JSON `metadata` part; ERP push) ------

MAX_EXTERNAL_ID = 200
MAX_FIELDS = 100  # keys of `fields`
MAX_FIELD_KEY = 64
MAX_FIELDS_BYTES = 64 * 1024  # `fields` as JSON
MAX_FIELDS_DEPTH = 4
RESERVED_FIELDS = {"warnings"}  # written by the pipeline
UPLOAD_METADATA = (
    "customer_number", "document_class", "folder", "title", "tags", "source", "comment",
    "external_id", "document_date", "fields",
)


def _json_value(value: Any, depth: int) -> Any:
    """A JSON value of `fields`: scalars, or lists/objects of them up to MAX_FIELDS_DEPTH levels."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return clean_text(value, multiline=True)
    if depth >= MAX_FIELDS_DEPTH:
        raise ValueError(f"höchstens {MAX_FIELDS_DEPTH} Ebenen verschachtelt")
    if isinstance(value, list):
        return [_json_value(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {clean_text(str(k)): _json_value(item, depth + 1) for k, item in value.items()}
    raise ValueError(f"{type(value).__name__} ist kein JSON-Wert")


def fields_field(value: Any, field: str = "fields") -> dict[str, Any]:
    """Free key fields (invoice number, amounts, …): a JSON object (as text from a form field)."""
    if isinstance(value, str):
        if len(value.encode("utf-8", "replace")) > MAX_FIELDS_BYTES:
            raise ValidationError(f"{field} ist größer als {MAX_FIELDS_BYTES // 1024} KB.", field=field)
        try:
            value = json.loads(value)
        except (ValueError, RecursionError) as exc:
            raise ValidationError(f"{field} ist kein gültiges JSON ({quote(str(exc))}).", field=field) from exc
    if not isinstance(value, dict):
        raise ValidationError(f"{field} muss ein JSON-Objekt sein, nicht {type(value).__name__}.", field=field)
    if len(value) > MAX_FIELDS:
        raise ValidationError(f"{field} hat {len(value)} Einträge; erlaubt sind {MAX_FIELDS}.", field=field)
    result: dict[str, Any] = {}
    for key, item in value.items():
        name = clean_text(key) if isinstance(key, str) else ""
        if not name or len(name) > MAX_FIELD_KEY:
            raise ValidationError(f"{field}: ungültiger Name {quote(key)!r} (1 bis {MAX_FIELD_KEY} Zeichen).",
                                  field=field)
        if name in RESERVED_FIELDS:
            raise ValidationError(f"{field}: {name!r} ist reserviert.", field=field)
        try:
            result[name] = _json_value(item, 1)
        except (ValueError, ValidationError) as exc:
            raise ValidationError(f"{field}.{quote(name)}: {exc}", field=field) from exc
    if len(json.dumps(result, ensure_ascii=False).encode("utf-8")) > MAX_FIELDS_BYTES:
        raise ValidationError(f"{field} ist größer als {MAX_FIELDS_BYTES // 1024} KB.", field=field)
    return result


def date_field(value: Any, field: str) -> date | None:
    """An ISO date JJJJ-MM-TT."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) != 10:
        raise ValidationError(f"{field} muss ein Datum JJJJ-MM-TT sein, nicht {quote(value)!r}.", field=field)
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError(f"{field} muss ein gültiges Datum JJJJ-MM-TT sein, nicht {quote(value)!r}.",
                              field=field) from exc


_METADATA_CHECKS: dict[str, Any] = {
    "customer_number": lambda value: number_field(value, "customer_number"),
    "document_class": lambda value: text_field(value, "document_class", max_length=64),
    "folder": lambda value: text_field(value, "folder", max_length=200),
    "title": lambda value: text_field(value, "title", max_length=MAX_TITLE),
    "tags": lambda value: tags_field(value),
    "source": lambda value: text_field(value, "source", max_length=32),
    "comment": lambda value: text_field(value, "comment", max_length=MAX_COMMENT, multiline=True),
    "external_id": lambda value: text_field(value, "external_id", max_length=MAX_EXTERNAL_ID),
    "document_date": lambda value: date_field(value, "document_date"),
    "fields": lambda value: fields_field(value),
}


def upload_metadata(raw: dict[str, Any], *, allowed: tuple[str, ...] = UPLOAD_METADATA) -> dict[str, Any]:
    """Validated metadata of a document; every bad field is named with its message (422)."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, value in raw.items():
        if name not in allowed:
            errors[quote(name)] = "Hier nicht erlaubt." if name in _METADATA_CHECKS else "Unbekanntes Feld."
            continue
        try:
            values[name] = _METADATA_CHECKS[name](value)
        except ValidationError as exc:
            errors[name] = exc.message
    if errors:
        listed = ", ".join(sorted(errors))
        raise InvalidMetadata(f"Ungültige Metadaten: {listed}.", fields=errors)
    return values
