"""The customer list as a CSV or XLSX file (with the list's filters, custom attributes included), and the
empty import template. The columns are those of the import (dms/app/customer_columns.py): an export can be
edited and imported again with `--update`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dms.app import customer_columns as cols
from dms.app.audit import record
from dms.app.customer_list import find_customers
from dms.app.customer_tables import FORMATS, XLSX, write_table
from dms.app.customer_view import customer_json
from dms.app.principal import CUSTOMERS_READ, Principal, require
from dms.app.services import Services
from dms.customer_config import customer_config
from dms.errors import ValidationError

PAGE = 1000

NOTES: dict[str, str] = {
    "Kundennummer": "Leer: die nächste freie Nummer. Eine vorhandene Nummer ändert den Kunden nur mit "
                    "„aktualisieren“ (--update), sonst ist sie ein Fehler.",
    "Externe Nummer": "Nummer im Altsystem oder ERP, eindeutig. Ohne Kundennummer findet „aktualisieren“ den "
                      "Kunden auch über sie.",
    "Art": "Firma (juristische Person) oder Privatperson (natürliche Person). Leer: Privatperson, wenn Vor- oder "
           "Nachname und kein Name angegeben sind, sonst Firma.",
    "Name": "Firmenname; bei Privatpersonen leer lassen (wird aus Vor- und Nachname gebildet).",
    "Anrede": "Herr, Frau oder Divers.",
    "Geburtsdatum": "TT.MM.JJJJ oder JJJJ-MM-TT.",
    "USt-IdNr": "Mit Länderkennung, z. B. DE123456789.",
    "Status": "Einer der eingestellten Status; leer: der voreingestellte.",
    "Filiale": "Eine der eingestellten Filialen; leer: die voreingestellte.",
    "Gruppen": "Eingestellte Gruppen, durch Komma getrennt.",
    "Tags": "Freie Schlagwörter, durch Komma getrennt.",
    "E-Mail": "Eine oder mehrere Adressen, durch Komma getrennt.",
    "Straße": "Hauptanschrift: Straße und Hausnummer.",
    "PLZ": "Format je Land geprüft (DE fünf-, AT/CH vierstellig).",
    "Land": "ISO-Ländercode (DE, AT, CH, …) oder Ländername; leer: DE.",
    "IBAN": "Erstes Bankkonto; Prüfziffer und Länge werden geprüft.",
    "BIC": "Optional, 8 oder 11 Zeichen.",
}
GENERAL_NOTE = ("Die erste Zeile enthält die Spaltenüberschriften, jede weitere einen Kunden. Leere Zellen setzen "
                "nichts und ändern beim Aktualisieren nichts. Der Import schreibt alle Zeilen oder keine.")


@dataclass
class ExportFilters:
    """The filters of the customer list (GET /api/v1/customers)."""

    query: str | None = None
    status: str | None = None
    tag: str | None = None
    group: str | None = None
    branch: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)

    def given(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v}


def _format(form: str) -> str:
    if form not in FORMATS:
        raise ValidationError(f"format muss csv oder xlsx sein, nicht {form!r}.", field="format")
    return form


def _attribute_keys(settings: Any, customers: list[dict[str, Any]]) -> list[str]:
    defined = list(customer_config(settings).attributes)
    extra = sorted({k for c in customers for k in (c.get("attributes") or {}) if k not in defined})
    return defined + extra


def template(settings: Any, form: str = "csv") -> bytes:
    """The import template: the header row (custom attributes included); XLSX adds a sheet of hints."""
    config = customer_config(settings)
    keys = list(config.attributes)
    header = cols.header_row(keys)
    notes = [(h, NOTES.get(h, "")) for h in header if not h.startswith(cols.ATTRIBUTE_PREFIX)]
    for key, spec in config.attributes.items():
        hint = f"{spec.label} ({spec.type}{', Pflicht' if spec.required else ''})"
        if spec.choices:
            hint += ": " + ", ".join(spec.choices)
        notes.append((cols.ATTRIBUTE_PREFIX + key, hint))
    notes.append(("", GENERAL_NOTE))
    return write_table(_format(form), header, [], notes if form == XLSX else ())


def customer_dicts(services: Services, principal: Principal, filters: ExportFilters) -> list[dict[str, Any]]:
    """Every customer the list shows with these filters, as the API shows it to `principal`."""
    out: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = find_customers(services, principal, filters.query, status=filters.status, tag=filters.tag,
                              group=filters.group, branch=filters.branch, attributes=filters.attributes,
                              limit=PAGE, offset=offset, with_tags=False)
        out += [customer_json(c, principal) for c in page.customers]
        offset += PAGE
        if offset >= page.total or not page.customers:
            return out


def export_customers(services: Services, principal: Principal, filters: ExportFilters,
                     form: str = "csv") -> tuple[bytes, int]:
    """(file, number of customers): the filtered customer list as CSV or XLSX; audited (`customer.export`)."""
    require(principal, CUSTOMERS_READ)
    form = _format(form)
    customers = customer_dicts(services, principal, filters)
    keys = _attribute_keys(services.settings, customers)
    data = write_table(form, cols.header_row(keys), (cols.customer_row(c, keys) for c in customers))
    record(services, principal, "customer.export", "customer", None, format=form, count=len(customers),
           filters=filters.given())
    return data, len(customers)
