"""The customer list: filters (text, status, tag, group, branch, custom attributes) and paging.

The catalog filters what its columns hold (text, status, branch); tags, groups and attributes
(JSON) are checked here on the catalog's rows, read in batches. Customers created before branches
existed (no branch) count as the default branch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dms.app.branches import list_scope
from dms.app.principal import CUSTOMERS_READ, Principal, require
from dms.app.services import Services
from dms.customer_config import AttributeSpec, CustomerConfig, customer_config
from dms.customer_fields import date_value, flag
from dms.domain import Customer
from dms.errors import ValidationError
from dms.validation import quote

SCAN_BATCH = 1000


@dataclass
class CustomerList:
    """One page of customers (`total`: how many matched in all) and every tag of those that matched."""

    customers: list[Customer]
    total: int
    tags: list[str] = field(default_factory=list)


def _known(value: str | None, allowed: tuple[str, ...], name: str, what: str) -> None:
    if value is not None and value not in allowed:
        raise ValidationError(f"Unbekannte{what} {quote(value)!r}: erlaubt sind {', '.join(allowed)}.", field=name)


def _number(text: str) -> float:
    try:
        return float(text.replace(",", "."))
    except ValueError:
        raise ValidationError(f"{quote(text)!r} ist keine Zahl.") from None


def _attribute_test(spec: AttributeSpec, wanted: str) -> Callable[[Any], bool]:
    """Whether a stored value matches the filter text `wanted` (texts: substring, case-insensitive)."""
    path = f"attr.{spec.key}"
    try:
        if spec.type in ("text", "multiline"):
            needle = wanted.casefold()
            return lambda value: isinstance(value, str) and needle in value.casefold()
        if spec.type == "choice":
            return lambda value: value == wanted
        if spec.type == "bool":
            expected = flag(wanted, path, text_input=True)
            return lambda value: value is expected
        if spec.type == "date":
            day = date_value(wanted, path, text_input=True)
            return lambda value: day is not None and value == day.isoformat()
        number = _number(wanted)
        return lambda value: isinstance(value, int | float) and not isinstance(value, bool) and value == number
    except ValidationError as exc:
        raise ValidationError(f"{path}: {exc.message}", field=path) from exc


def attribute_filters(config: CustomerConfig, raw: Mapping[str, str]) -> dict[str, Callable[[Any], bool]]:
    """`{key: test}` for the filters `attr.<key>=value`; an attribute the configuration lacks is a 400."""
    tests = {}
    for key, wanted in raw.items():
        spec = config.attributes.get(key)
        if spec is None:
            known = ", ".join(config.attributes) or "keine"
            raise ValidationError(f"Unbekanntes Attribut {quote(key)!r} (definiert: {known}).",
                                  code="unknown_attribute", field=f"attr.{quote(key)}")
        tests[key] = _attribute_test(spec, wanted)
    return tests


def find_customers(
    services: Services,
    principal: Principal,
    query: str | None = None,
    *,
    status: str | None = None,
    tag: str | None = None,
    group: str | None = None,
    branch: str | None = None,
    attributes: Mapping[str, str] | None = None,
    limit: int = 25,
    offset: int = 0,
    with_tags: bool = True,
) -> CustomerList:
    """Customers by number: `query` (number, name, also with umlauts folded, external number), `status`,
    `tag` (case-insensitive), `group`, `branch`, `attributes` ({key: value}), with the total for paging
    and (`with_tags`) every tag of the customers matching all but the tag filter."""
    require(principal, CUSTOMERS_READ)
    config = customer_config(services.settings)
    _known(status, config.statuses, "status", "r Status")
    _known(group, config.groups, "group", " Gruppe")
    _known(branch, config.branches, "branch", " Filiale")
    tests = attribute_filters(config, attributes or {})
    repository = services.catalog.customers
    # branch scoping: the branch asked for within the caller's own (dms/app/branches.py)
    scope = list_scope(services, principal, branch) or {
        "branch": branch, "unset_branch": branch is not None and branch == config.default_branch}
    where: dict[str, Any] = {"status": status, **scope}
    if tag is None and group is None and not tests and not with_tags:
        return CustomerList(repository.query(query, limit=limit, offset=offset, **where),
                            repository.count(query, **where))
    wanted = tag.casefold() if tag else None
    matched: list[Customer] = []
    tags: set[str] = set()
    start = 0
    while True:
        batch = repository.query(query, limit=SCAN_BATCH, offset=start, **where)
        for customer in batch:
            if group is not None and group not in customer.groups:
                continue
            if not all(test(customer.attributes.get(key)) for key, test in tests.items()):
                continue
            tags.update(customer.tags)
            if wanted is not None and wanted not in {t.casefold() for t in customer.tags}:
                continue
            matched.append(customer)
        if len(batch) < SCAN_BATCH:
            break
        start += SCAN_BATCH
    return CustomerList(matched[offset:offset + limit], len(matched), sorted(tags, key=str.casefold))
