"""Probable duplicates when a customer is created (issue #14).

`screen_duplicates` runs in the create use case (POST /api/v1/customers and the creating PUT) on
the validated values: the customers sharing a key with the new one (dms/catalog/duplicate_candidates.py)
go through the duplicate rules (dms/masterdata/duplicates.py). Any match is a 409
`probable_duplicate` with the candidates `[{number, name, reason, score}]`, the most certain first,
unless the caller sent `force: true`: then the customer is created and the audit entry names the
customers it probably duplicates (`forced_duplicate_of`). The number of a merged customer
(an alias, dms/catalog/customer_aliases.py) is taken for good: 409 `customer_merged` (`number`: the survivor).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from dms.app.services import Services
from dms.catalog.customer_aliases import CustomerAliases
from dms.catalog.duplicate_candidates import candidates
from dms.domain import Customer
from dms.errors import Conflict
from dms.masterdata.duplicates import Match, find_duplicates
from dms.masterdata.names import name_key
from dms.masterdata.postal import normalize_address

SHOWN = 10  # candidates named in a 409 (the most certain ones)


def _address_keys(values: dict[str, Any]) -> list[str]:
    keys = [normalize_address(a) for a in values.get("addresses") or [] if isinstance(a, dict)]
    return [key for key in keys if key]


def _as_dict(customer: Customer) -> dict[str, Any]:
    return customer.to_dict()


def probable_duplicates(services: Services, values: dict[str, Any]) -> list[Match]:
    """The existing customers the new one (validated values of a create) probably duplicates, most certain first."""
    wanted = {**values, "number": values.get("number") or ""}
    born = values.get("birth_date")
    found = candidates(
        services.catalog.db,
        name_key=name_key(wanted) or None,
        address_keys=_address_keys(values),
        birth_date=born if isinstance(born, date) else None,
        vat_id=values.get("vat_id") or None,
        register_number=values.get("register_number") or None,
    )
    return find_duplicates(wanted, [_as_dict(c) for c in found])


def _message(matches: list[Match]) -> str:
    first = matches[0]
    more = f" und {len(matches) - 1} weitere" if len(matches) > 1 else ""
    return (f"Diesen Kunden gibt es wahrscheinlich schon: {first.number} {first.name} ({first.reason}){more}. "
            "Mit \"force\": true wird er trotzdem angelegt.")


def screen_duplicates(services: Services, values: dict[str, Any]) -> dict[str, Any]:
    """Before creating a customer from `values` (dms.customer_input, `force` included when sent): Conflict
    409 `probable_duplicate` with `candidates` when it probably exists already, unless `values["force"]`;
    returns what the create's audit entry adds (`{"forced_duplicate_of": [numbers]}` when forced, else {})."""
    number = values.get("number")
    if number:
        survivor = CustomerAliases(services.catalog.db).resolve(str(number))
        if survivor is not None:
            raise Conflict(f"Die Kundennummer {number} gehörte einem Kunden, der mit {survivor} zusammengeführt "
                           "wurde; sie wird nicht wieder vergeben.", code="customer_merged", number=survivor)
    matches = probable_duplicates(services, values)
    if not matches:
        return {}
    if values.get("force"):
        return {"forced_duplicate_of": [m.number for m in matches]}
    raise Conflict(_message(matches), code="probable_duplicate",
                   candidates=[m.to_dict() for m in matches[:SHOWN]])
