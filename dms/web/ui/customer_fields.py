"""What the customer tabs show of a customer, in German: the master data (whatever fields the
customer has; IBANs masked without `customers:bank`), addresses and contacts, labels of timeline
entries and changed fields, and the note form's values as the use case's input."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from dms.app.notes import OFFICE_TIME
from dms.errors import ValidationError
from dms.web.ui.helpers import KIND_LABELS, format_date, format_datetime

ENTRY_LABELS = {"document": "Dokument", "mail": "E-Mail", "note": "Notiz", "call": "Anruf", "visit": "Besuch",
                "change": "Stammdaten"}
FIELD_LABELS = {
    "number": "Kundennummer", "name": "Name", "kind": "Art", "status": "Status", "salutation": "Anrede",
    "title": "Titel", "first_name": "Vorname", "last_name": "Nachname", "birth_date": "Geburtsdatum",
    "legal_form": "Rechtsform", "register_court": "Registergericht", "register_number": "Registernummer",
    "vat_id": "USt-IdNr.", "external_number": "Externe Nummer", "branch": "Filiale", "groups": "Gruppen",
    "tags": "Tags", "emails": "E-Mail-Adressen", "created_at": "Angelegt am", "addresses": "Anschriften",
    "contacts": "Ansprechpartner", "bank_accounts": "Bankverbindungen", "consents": "Einwilligungen",
    "communication": "Kommunikation", "attributes": "Weitere Angaben", "legal_hold": "Legal Hold",
}
NATURAL = ("salutation", "title", "first_name", "last_name", "birth_date")
LEGAL = ("legal_form", "register_court", "register_number", "vat_id")
COMMON = ("number", "name", "kind", "status", "external_number", "branch", "groups", "tags", "created_at")
ADDRESS_KINDS = {"main": "Hauptanschrift", "billing": "Rechnungsanschrift", "delivery": "Lieferanschrift",
                 "other": "Sonstige"}
CHANNELS = {"email": "E-Mail", "phone": "Telefon", "post": "Post", "none": "keiner"}
PURPOSES = {"email": "E-Mail-Kontakt", "phone": "Telefonkontakt", "post": "Briefpost", "newsletter": "Newsletter"}


def display(value: Any) -> str:
    """A value as text: dates German, yes/no, lists comma-separated, nothing as a dash."""
    if value is None or value == "" or value == [] or value == {}:
        return "–"
    if isinstance(value, bool):
        return "ja" if value else "nein"
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return format_date(value)
    if isinstance(value, str) and len(value) >= 10 and value[4:5] == "-" and value[7:8] == "-":
        if len(value) == 10:
            return format_date(value)
        if value[10:11] == "T":  # an ISO date and time, as to_dict() writes it
            return format_datetime(value)
    if isinstance(value, list):
        return ", ".join(display(item) for item in value)
    if isinstance(value, dict):
        return "; ".join(f"{key}: {display(item)}" for key, item in value.items())
    return str(value)


def mask_iban(iban: str) -> str:
    compact = iban.replace(" ", "")
    return f"**** {compact[-4:]}" if compact else ""


def _attribute_labels(settings: Any) -> dict[str, str]:
    rules = getattr(settings, "rules", {}) or {}
    definitions = (rules.get("customers") or {}).get("attributes") or {}
    return {key: str(d.get("label") or key) for key, d in definitions.items() if isinstance(d, dict)}


def master_data(customer: Any, settings: Any, sees_bank: bool) -> dict[str, Any]:
    """The Stammdaten tab: rows (label, text) of the fields this customer has, and its sub-lists."""
    data = customer.to_dict()
    kind_fields = NATURAL if data.get("kind") == "natural" else LEGAL
    order = [*COMMON[:4], *kind_fields, *COMMON[4:]]
    rows = []
    for name in order:
        if name not in data:
            continue
        value = KIND_LABELS.get(data[name], data[name]) if name == "kind" else data[name]
        rows.append((FIELD_LABELS[name], display(value)))
    if data.get("legal_hold"):
        rows.append(("Legal Hold", data.get("legal_hold_reason") or "ja"))
    labels = _attribute_labels(settings)
    attributes = [(labels.get(key, key), display(value)) for key, value in (data.get("attributes") or {}).items()]
    communication = data.get("communication") or {}
    comm_rows = []
    if communication:
        comm_rows = [("Bevorzugter Kanal", CHANNELS.get(communication.get("preferred_channel") or "",
                                                        display(communication.get("preferred_channel")))),
                     ("Sprache", display(communication.get("language"))),
                     ("Keine Werbung", display(bool(communication.get("no_advertising"))))]
    accounts = []
    for account in data.get("bank_accounts") or []:
        iban = str(account.get("iban") or "")
        shown = iban if account.get("masked") or sees_bank else mask_iban(iban)  # masked: already by the API layer
        accounts.append({"holder": display(account.get("holder")), "iban": shown or "–",
                         "bic": display(account.get("bic")), "label": display(account.get("label"))})
    consents = [{"purpose": PURPOSES.get(str(c.get("purpose")), display(c.get("purpose"))),
                 "granted": display(bool(c.get("granted"))), "date": display(c.get("date")),
                 "source": display(c.get("source"))}
                for c in data.get("consents") or []]
    return {"rows": rows, "attributes": attributes, "communication": comm_rows, "bank_accounts": accounts,
            "consents": consents, "has": {name: name in data for name in ("bank_accounts", "consents",
                                                                          "communication", "attributes")}}


def contacts_view(customer: Any) -> dict[str, Any]:
    """The Kontakte tab: addresses (main first), contacts in their order (= priority), mail addresses."""
    data = customer.to_dict()
    addresses = sorted(data.get("addresses") or [], key=lambda a: list(ADDRESS_KINDS).index(a.get("kind"))
                       if a.get("kind") in ADDRESS_KINDS else len(ADDRESS_KINDS))
    shown = [{"kind": ADDRESS_KINDS.get(a.get("kind") or "", display(a.get("kind"))),
              "street": a.get("street") or "", "addition": a.get("addition") or "",
              "postal_code": a.get("postal_code") or "", "city": a.get("city") or "",
              "country": a.get("country") or ""} for a in addresses]
    contacts = [{"priority": i + 1, "name": display(c.get("name")), "role": display(c.get("role")),
                 "phones": [str(p) for p in c.get("phones") or [] if p], "email": c.get("email") or "",
                 "availability": display(c.get("availability")), "relation": display(c.get("relation")),
                 "emergency": bool(c.get("emergency"))} for i, c in enumerate(data.get("contacts") or [])]
    return {"addresses": shown, "contacts": contacts, "emails": list(data.get("emails") or []),
            "has_addresses": "addresses" in data, "has_contacts": "contacts" in data}


def field_label(name: str) -> str:
    return FIELD_LABELS.get(name, name)


def note_body(values: dict[str, str]) -> dict[str, Any]:
    """The use case's input from the note form (`at` is local time, Europe/Berlin)."""
    body: dict[str, Any] = {"type": values.get("type") or "note", "text": values.get("text") or None}
    if values.get("at"):
        try:
            local = datetime.fromisoformat(values["at"])
        except ValueError as exc:
            raise ValidationError("Bitte den Zeitpunkt als Datum und Uhrzeit angeben.", field="at") from exc
        body["at"] = (local if local.tzinfo else local.replace(tzinfo=OFFICE_TIME)).isoformat()
    if values.get("duration"):
        try:
            body["duration_minutes"] = int(values["duration"])
        except ValueError as exc:
            raise ValidationError("Die Dauer bitte in ganzen Minuten angeben.", field="duration_minutes") from exc
    if values.get("due"):
        body["due"] = values["due"]
        if values.get("assignee"):
            body["assignee"] = values["assignee"].lower()
    return body
