"""What the customer import asks of the rest of the system: the API's validator, the customers that exist,
and probable duplicates (dms.masterdata.duplicates). Kept apart so the import itself
(dms/app/customer_import.py) reads as the two phases it is.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from dms.app import customer_columns as cols
from dms.app.customers import change_values
from dms.app.services import Services
from dms.catalog.customer_aliases import CustomerAliases
from dms.customer_config import CustomerConfig
from dms.customer_input import customer_input, resolve_bank_accounts
from dms.domain import Customer
from dms.errors import ValidationError
from dms.masterdata.duplicates import Candidate, blocking_keys, match

# Fields whose change is worth a duplicate check on an update.
IDENTIFYING = {"name", "first_name", "last_name", "birth_date", "addresses", "vat_id", "register_court",
               "register_number", "kind"}
SCAN_BATCH = 1000
MAX_CANDIDATES = 5  # named per warning


def validate(body: dict[str, Any], config: CustomerConfig, *, before: Customer | None) -> dict[str, Any]:
    """The values of a row as `POST /customers` (no `before`) or `PATCH /customers/<number>` (a change of
    `before`) would take them: the API's validator (dms.customer_input) on the cells' text forms, masked IBANs
    ("**** 3000") resolved against the stored accounts, and for a change the PATCH use case's own rules
    (external number read-only when configured, a derived name following first and last name)."""
    if before is None:
        values = customer_input(body, config, text_input=True)
        if values.get("bank_accounts"):
            values["bank_accounts"] = resolve_bank_accounts(values["bank_accounts"], [])
        return values
    return change_values(config, before, {k: v for k, v in body.items() if k != "number"}, text_input=True)


def field_errors(exc: ValidationError) -> list[tuple[str, str, str]]:
    """(field path, code, message) of each field a validation error names (`fields` and `codes`), or of its
    one `field`."""
    fields = exc.details.get("fields")
    codes = exc.details.get("codes")
    if isinstance(fields, dict) and fields:
        codes = codes if isinstance(codes, dict) else {}
        return [(str(path), str(codes.get(path, exc.code)), str(message)) for path, message in fields.items()]
    return [(str(exc.details.get("field") or ""), exc.code, exc.message)]


def fold_number(text: str) -> str:
    return text.strip().casefold()


def _comparable(value: Any) -> Any:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return sorted(value)
    return value


def changes(current: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """The validated values that differ from the customer's (`current`: as the API shows it, bank data
    unmasked; tags and groups compared as sets)."""
    return {k: v for k, v in values.items() if _comparable(current.get(k)) != _comparable(_jsonable(v))}


def _jsonable(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


# --- the customers that exist ------------------------------------------------------------------


@dataclass
class Existing:
    """The customers that exist, by number and by (folded) external number; the numbers of merged customers."""

    by_number: dict[str, Customer] = field(default_factory=dict)
    by_external: dict[str, Customer] = field(default_factory=dict)
    aliases: set[str] = field(default_factory=set)
    views: dict[str, dict[str, Any]] = field(default_factory=dict)

    def view(self, customer: Customer) -> dict[str, Any]:
        """The customer as the API shows it to someone who may see everything (bank data unmasked), made once."""
        if customer.number not in self.views:
            self.views[customer.number] = customer.to_dict()
        return self.views[customer.number]

    @classmethod
    def load(cls, services: Services) -> Existing:
        known = cls(aliases=set(CustomerAliases(services.catalog.db).numbers()))
        for customer in _all_customers(services):
            known.by_number[customer.number] = customer
            external = getattr(customer, "external_number", None)
            if external:
                known.by_external[fold_number(external)] = customer
        return known


def _all_customers(services: Services) -> Iterator[Customer]:
    start = 0
    while True:
        batch = services.catalog.customers.query(None, limit=SCAN_BATCH, offset=start)
        yield from batch
        if len(batch) < SCAN_BATCH:
            return
        start += SCAN_BATCH


# --- probable duplicates -----------------------------------------------------------------------


def duplicate_warnings(rows: Iterable[tuple[int, dict[str, Any]]], known: Existing,
                       lay: cols.Layout) -> list[dict[str, Any]]:
    """One warning per row that probably duplicates an existing customer or an earlier row of the file, by the
    rules of `POST /customers` (dms.masterdata.duplicates). Only customers and rows sharing one of the rules'
    keys (`blocking_keys`: an address, the birth date, VAT id, register entry) are compared."""
    index: dict[str, list[tuple[str, Candidate]]] = defaultdict(list)
    for customer in known.by_number.values():
        candidate = Candidate.of(known.view(customer))
        for key in blocking_keys(candidate):
            index[key].append((f"customer:{customer.number}", candidate))
    warnings: list[dict[str, Any]] = []
    for row, data in rows:
        mine = Candidate.of(data)
        keys = blocking_keys(mine)
        others = {ref: other for key in keys for ref, other in index.get(key, ())}
        found: list[dict[str, Any]] = []
        for ref, other in others.items():
            hit = match(mine, other)
            if hit is None:
                continue
            kind, _, name = ref.partition(":")
            place = {"number": name} if kind == "customer" else {"row": int(name)}
            found.append({**place, "name": hit.name, "reason": hit.reason, "score": hit.score})
        if found:
            found.sort(key=lambda c: (-float(c["score"]), c.get("row", 0), c.get("number", "")))
            warnings.append(_warning(row, found[:MAX_CANDIDATES], lay))
        for key in keys:
            index[key].append((f"row:{row}", mine))
    return warnings


def _warning(row: int, candidates: list[dict[str, Any]], lay: cols.Layout) -> dict[str, Any]:
    described = "; ".join(
        (f"Zeile {c['row']}" if "row" in c else f"Kunde {c['number']}") + f" ({c['name']}): {c['reason']}"
        for c in candidates
    )
    return {"row": row, "column": lay.column("name"), "code": "probable_duplicate",
            "message": f"Wahrscheinlich doppelt: {described}", "candidates": candidates}
