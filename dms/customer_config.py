"""The `[customers]` settings as a typed view: statuses, groups, branches and custom attributes.

`customer_config(settings)` reads and checks them (a ValidationError `bad_config` names what is
wrong); `dms check` and `dms serve` also refuse a configuration that dropped a status, group or
branch still in use (see dms/app/customer_status.py). Attribute definitions live in the DMS_CONFIG
file as `[customers.attributes.<key>]` tables (README, *Customers (master data)*).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from dms.errors import ValidationError

ATTRIBUTE_TYPES = ("text", "multiline", "bool", "int", "decimal", "choice", "date")
ATTRIBUTE_KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
MAX_STATUS = 32  # the catalog column
MAX_LABEL = 64  # groups and branches


@dataclass(frozen=True)
class AttributeSpec:
    """One admin-defined attribute: its type and the rules a value must keep."""

    key: str
    label: str
    type: str
    required: bool = False
    regex: str | None = None
    choices: tuple[str, ...] = ()
    min: int | float | None = None
    max: int | float | None = None

    @property
    def pattern(self) -> re.Pattern[str] | None:
        return re.compile(self.regex) if self.regex else None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"key": self.key, "label": self.label, "type": self.type, "required": self.required}
        if self.regex:
            data["regex"] = self.regex
        if self.choices:
            data["choices"] = list(self.choices)
        if self.min is not None:
            data["min"] = self.min
        if self.max is not None:
            data["max"] = self.max
        return data


@dataclass(frozen=True)
class CustomerConfig:
    statuses: tuple[str, ...] = ("Interessent", "Kunde", "ehemaliger Kunde")
    default_status: str = "Kunde"
    groups: tuple[str, ...] = ("Standard",)
    default_group: str = "Standard"
    branches: tuple[str, ...] = ("Zentrale",)
    default_branch: str = "Zentrale"
    branch_scoping: bool = False
    head_office_branches: tuple[str, ...] = ()
    external_number_editable: bool = True
    auto_status_on_invoice: str = ""
    auto_status_from: tuple[str, ...] = ("Interessent",)
    invoice_classes: tuple[str, ...] = ("Rechnung",)
    attributes: dict[str, AttributeSpec] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """What clients need to fill a customer form (GET /api/v1/customers/attributes)."""
        return {
            "attributes": [spec.to_dict() for spec in self.attributes.values()],
            "statuses": list(self.statuses), "default_status": self.default_status,
            "groups": list(self.groups), "default_group": self.default_group,
            "branches": list(self.branches), "default_branch": self.default_branch,
            "external_number_editable": self.external_number_editable,
        }


def _bad(message: str) -> ValidationError:
    return ValidationError(f"Konfiguration [customers]: {message}", code="bad_config")


def _names(section: dict[str, Any], key: str, default: tuple[str, ...], limit: int) -> tuple[str, ...]:
    value = section.get(key, list(default))
    if not isinstance(value, list) or not value:
        raise _bad(f"{key} muss eine nicht leere Liste von Namen sein.")
    names: list[str] = []
    for item in value:
        if not isinstance(item, str) or not item.strip() or len(item) > limit or item != item.strip():
            raise _bad(f"{key}: {item!r} ist kein gültiger Name (1 bis {limit} Zeichen, ohne Leerzeichen am Rand).")
        if item in names:
            raise _bad(f"{key}: {item!r} steht doppelt in der Liste.")
        names.append(item)
    return tuple(names)


def _default(section: dict[str, Any], key: str, listed: tuple[str, ...], list_key: str, fallback: str) -> str:
    value = section.get(key, fallback if fallback in listed else listed[0])
    if value not in listed:
        raise _bad(f"{key} = {value!r} steht nicht in {list_key} ({', '.join(listed)}).")
    return str(value)


def _flag(section: dict[str, Any], key: str, default: bool) -> bool:
    value = section.get(key, default)
    if not isinstance(value, bool):
        raise _bad(f"{key} muss true oder false sein, nicht {value!r}.")
    return value


def _number(spec: dict[str, Any], key: str, where: str) -> int | float | None:
    value = spec.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise _bad(f"{where}: {key} muss eine Zahl sein, nicht {value!r}.")
    return value


def _attribute(key: str, spec: Any) -> AttributeSpec:
    where = f"attributes.{key}"
    if not ATTRIBUTE_KEY.match(key):
        raise _bad(f"{where}: der Schlüssel muss mit einem Kleinbuchstaben beginnen und darf nur a-z, 0-9 und _ "
                   "enthalten (höchstens 32 Zeichen).")
    if not isinstance(spec, dict):
        raise _bad(f"{where} muss eine Tabelle sein ([customers.attributes.{key}]).")
    unknown = sorted(set(spec) - {"label", "type", "required", "regex", "choices", "min", "max"})
    if unknown:
        raise _bad(f"{where}: unbekannte Einträge {', '.join(unknown)}.")
    kind = spec.get("type", "text")
    if kind not in ATTRIBUTE_TYPES:
        raise _bad(f"{where}: type {kind!r} ist unbekannt (erlaubt: {', '.join(ATTRIBUTE_TYPES)}).")
    label = spec.get("label", key)
    if not isinstance(label, str) or not label.strip():
        raise _bad(f"{where}: label muss ein Text sein.")
    regex = spec.get("regex")
    if regex is not None:
        if kind not in ("text", "multiline") or not isinstance(regex, str):
            raise _bad(f"{where}: regex gibt es nur für die Typen text und multiline (als Text).")
        try:
            re.compile(regex)
        except re.error as exc:
            raise _bad(f"{where}: regex {regex!r} ist kein gültiger regulärer Ausdruck ({exc}).") from exc
    choices = spec.get("choices", [])
    if kind == "choice" and (not isinstance(choices, list) or not choices
                             or not all(isinstance(c, str) and c for c in choices)):
        raise _bad(f"{where}: type choice braucht choices, eine Liste von Texten.")
    if kind != "choice" and "choices" in spec:
        raise _bad(f"{where}: choices gibt es nur für type choice.")
    low, high = _number(spec, "min", where), _number(spec, "max", where)
    if (low is not None or high is not None) and kind not in ("int", "decimal"):
        raise _bad(f"{where}: min und max gibt es nur für die Typen int und decimal.")
    if low is not None and high is not None and low > high:
        raise _bad(f"{where}: min ist größer als max.")
    return AttributeSpec(key, label.strip(), kind, _flag(spec, "required", False) if "required" in spec else False,
                         regex, tuple(choices) if kind == "choice" else (), low, high)


def customer_config(settings: Any) -> CustomerConfig:
    """The checked `[customers]` settings of `settings` (a dms.config.Settings)."""
    section = settings.rules.get("customers", {})
    if not isinstance(section, dict):
        raise _bad("muss eine Tabelle sein.")
    statuses = _names(section, "statuses", CustomerConfig.statuses, MAX_STATUS)
    groups = _names(section, "groups", CustomerConfig.groups, MAX_LABEL)
    branches = _names(section, "branches", CustomerConfig.branches, MAX_LABEL)
    head_office = section.get("head_office_branches", [])
    if not isinstance(head_office, list) or any(name not in branches for name in head_office):
        raise _bad(f"head_office_branches muss eine Liste von Filialen aus branches sein ({', '.join(branches)}).")
    auto = section.get("auto_status_on_invoice", "")
    if auto and auto not in statuses:
        raise _bad(f"auto_status_on_invoice = {auto!r} steht nicht in statuses ({', '.join(statuses)}).")
    auto_from = section.get("auto_status_from", list(CustomerConfig.auto_status_from))
    if not isinstance(auto_from, list) or not all(isinstance(s, str) for s in auto_from):
        raise _bad("auto_status_from muss eine Liste von Status sein.")
    classes = section.get("invoice_classes", list(CustomerConfig.invoice_classes))
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        raise _bad("invoice_classes muss eine Liste von Dokumentklassen sein.")
    attributes = section.get("attributes", {})
    if not isinstance(attributes, dict):
        raise _bad("attributes muss eine Tabelle von Tabellen sein ([customers.attributes.<key>]).")
    return CustomerConfig(
        statuses=statuses,
        default_status=_default(section, "default_status", statuses, "statuses", "Kunde"),
        groups=groups,
        default_group=_default(section, "default_group", groups, "groups", "Standard"),
        branches=branches,
        default_branch=_default(section, "default_branch", branches, "branches", "Zentrale"),
        branch_scoping=_flag(section, "branch_scoping", False),
        head_office_branches=tuple(head_office),
        external_number_editable=_flag(section, "external_number_editable", True),
        auto_status_on_invoice=str(auto or ""),
        auto_status_from=tuple(auto_from),
        invoice_classes=tuple(classes),
        attributes={key: _attribute(key, spec) for key, spec in attributes.items()},
    )
