"""Branch scoping (Filialen): with `[customers] branch_scoping` a caller sees only the customers of its
own branches, and their documents. Anything else is answered as if it did not exist (404, never 403),
so a caller cannot even learn that a customer number is taken in another branch.

Who sees every branch: callers with the permission `customers:all_branches` (the admin role; a token
scope) and members of a branch listed in `[customers] head_office_branches`. Customers without a
branch (created before branches existed) belong to the default branch. Documents not filed to any
customer (the Posteingang) are not scoped.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dms.app.principal import CUSTOMERS_ALL_BRANCHES, Principal
from dms.app.services import Services
from dms.catalog.customer_aliases import CustomerAliases
from dms.customer_config import customer_config
from dms.domain import Customer, Document
from dms.errors import Moved, NotFound, ValidationError
from dms.validation import quote


def visible_branches(services: Services, principal: Principal) -> frozenset[str] | None:
    """The branches whose customers `principal` sees; None: all of them (no scoping for it)."""
    config = customer_config(services.settings)
    if not config.branch_scoping or principal.can(CUSTOMERS_ALL_BRANCHES):
        return None
    if principal.branches & set(config.head_office_branches):
        return None
    return frozenset(principal.branches)


def branch_of(services: Services, customer: Customer) -> str:
    return customer.branch or customer_config(services.settings).default_branch


def sees_customer(services: Services, principal: Principal, customer: Customer) -> bool:
    branches = visible_branches(services, principal)
    return branches is None or branch_of(services, customer) in branches


def _hidden(number: str) -> NotFound:
    # the very words of the catalog's own 404 for a number nobody has
    return NotFound(f"Kunde {number} existiert nicht.", code="customer_not_found")


def current_customer(services: Services, number: str) -> Customer:
    """Customer `number`; `Moved` (308) naming the survivor when it was merged into another; NotFound else."""
    try:
        return services.catalog.customers.get(number)
    except NotFound:
        survivor = CustomerAliases(services.catalog.db).resolve(number)
        if survivor is None:
            raise
    raise Moved(f"Kunde {number} wurde mit Kunde {survivor} zusammengeführt.", code="customer_merged",
                number=survivor, merged_number=str(number))


def visible_customer(services: Services, principal: Principal, number: str) -> Customer:
    """Customer `number` (a merged number: Moved, 308), or 404 when it is not there or not in the
    caller's branches."""
    customer = current_customer(services, number)
    if not sees_customer(services, principal, customer):
        raise _hidden(number)
    return customer


def scoped_customer(services: Services, principal: Principal, number: str) -> Customer:
    """Customer `number` as the catalog has it (no redirect for merged numbers), or 404 when it is not
    there or not in the caller's branches: for changes."""
    customer = services.catalog.customers.get(number)
    if not sees_customer(services, principal, customer):
        raise _hidden(number)
    return customer


def check_customer_number(services: Services, principal: Principal, number: str | None) -> None:
    """404 unless customer `number` (None: no customer) is in the caller's branches."""
    if number is None or visible_branches(services, principal) is None:
        return
    customer = services.catalog.customers.find(str(number))
    if customer is not None and not sees_customer(services, principal, customer):
        raise _hidden(str(number))


def check_document(services: Services, principal: Principal, document: Document) -> Document:
    """`document`, or 404 (as for an unknown id) when it belongs to a customer of another branch."""
    if document.customer_number is None or visible_branches(services, principal) is None:
        return document
    customer = services.catalog.customers.find(document.customer_number)
    if customer is not None and not sees_customer(services, principal, customer):
        raise NotFound(f"Dokument {document.id} existiert nicht.", code="document_not_found")
    return document


def visible_numbers(services: Services, principal: Principal) -> tuple[str, ...] | None:
    """The numbers of every customer the caller sees (for search filters); None: no restriction."""
    branches = visible_branches(services, principal)
    if branches is None:
        return None
    default = customer_config(services.settings).default_branch
    return tuple(services.catalog.customers.numbers_in(branches, unset=default in branches))


def list_scope(services: Services, principal: Principal, branch: str | None) -> dict[str, Any]:
    """The catalog's branch filter for a customer list (`branch` asked for, within the caller's)."""
    default = customer_config(services.settings).default_branch
    branches = visible_branches(services, principal)
    wanted: Iterable[str] | None = branches
    if branch is not None:
        wanted = {branch} if branches is None or branch in branches else set()
    if wanted is None:
        return {}
    chosen = frozenset(wanted)
    return {"branches": chosen, "unset_branch": default in chosen}


def check_new_branch(services: Services, principal: Principal, values: dict[str, Any], *, given: bool) -> None:
    """A new or changed customer must stay in the caller's branches: a scoped caller's new customer
    gets its first branch unless one is `given`; naming another branch is a 400."""
    branches = visible_branches(services, principal)
    if branches is None or (not given and "branch" not in values):
        return
    if not branches:
        raise ValidationError("Ihnen ist keine Filiale zugeordnet; Kunden anlegen oder ändern ist nicht möglich.",
                              code="no_branch", field="branch")
    if not given:  # the configured default branch, which may not be the caller's
        values["branch"] = sorted(branches)[0]
    elif values.get("branch") not in branches:
        raise ValidationError(f"Die Filiale {quote(str(values.get('branch')))!r} gehört nicht zu Ihren Filialen "
                              f"({', '.join(sorted(branches))}).", code="foreign_branch", field="branch")
