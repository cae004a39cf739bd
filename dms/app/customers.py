"""Use cases on customers and their files (Kundenakten)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dms import sidecars
from dms.app.audit import record
from dms.app.branches import check_new_branch, list_scope, scoped_customer, visible_customer
from dms.app.customer_duplicates import screen_duplicates
from dms.app.customer_list import CustomerList, find_customers  # noqa: F401  (the customer list, re-exported)
from dms.app.customer_view import audit_values
from dms.app.documents import sees_restricted
from dms.app.principal import CUSTOMERS_READ, CUSTOMERS_WRITE, DOCUMENTS_READ, Principal, require
from dms.app.services import Services
from dms.customer_config import CustomerConfig, customer_config
from dms.customer_input import customer_input, display_name, resolve_bank_accounts
from dms.domain import MASTER_DATA_FIELDS, Customer, Document
from dms.errors import Conflict, NotFound, PreconditionFailed, ValidationError


@dataclass
class CustomerFile:
    """A customer file: every folder of its Aktenplan (in order) with its documents."""

    customer: Customer
    folders: dict[str, list[Document]] = field(default_factory=dict)


MASTER_DATA = ("name", "kind", "status", "tags", "emails", *MASTER_DATA_FIELDS)  # audited with old and new values


def customer_settings(services: Services, principal: Principal) -> CustomerConfig:
    """The configured statuses, groups, branches and custom attributes (for forms and filters)."""
    require(principal, CUSTOMERS_READ)
    return customer_config(services.settings)


def create_customer(services: Services, principal: Principal, body: dict[str, Any]) -> Customer:
    """A new customer and its file: `name` (or first/last name), optional `number`, and any master data
    (dms/customer_input.py); status, group and branch default to the configured ones."""
    require(principal, CUSTOMERS_WRITE)
    config = customer_config(services.settings)
    values = customer_input(body, config)
    check_new_branch(services, principal, values, given="branch" in body)
    forced = screen_duplicates(services, values)  # 409 probable_duplicate unless `force`
    master = {name: values[name] for name in MASTER_DATA_FIELDS if name in values}
    if "bank_accounts" in master:  # a masked IBAN stands for nothing stored yet: a 400
        master["bank_accounts"] = resolve_bank_accounts(master["bank_accounts"], [])
    settings = services.settings
    customer = services.catalog.customers.create(
        values["name"],
        number=values.get("number"),
        kind=values["kind"],
        status=values["status"],
        tags=values.get("tags", []),
        emails=values.get("emails", []),
        folders=settings.folder_template,
        first_number=settings.first_customer_number,
        statuses=config.statuses,
        **master,
    )
    sidecars.write_customer(services.store, customer)
    shown = [name for name in MASTER_DATA if name in MASTER_DATA[:5] or getattr(customer, name)]
    record(services, principal, "customer.create", "customer", customer.number, new=audit_values(customer, shown),
           **forced)
    return customer


def change_values(
    config: CustomerConfig, before: Customer, body: dict[str, Any], *, text_input: bool = False
) -> dict[str, Any]:
    """The validated changes of `body` to `before` (PATCH, PUT of an existing customer, an import row
    with `text_input`): masked IBANs resolved, the external number kept read-only when configured, a
    person's derived name following first and last name."""
    changes = customer_input(body, config, partial=True, text_input=text_input)
    changes.pop("force", None)  # only creating looks for duplicates
    if "bank_accounts" in changes:
        changes["bank_accounts"] = resolve_bank_accounts(changes["bank_accounts"], before.bank_accounts)
    external = changes.get("external_number")
    if ("external_number" in changes and not config.external_number_editable and before.external_number
            and external != before.external_number):
        raise ValidationError("Die externe Nummer ist nicht änderbar ([customers] external_number_editable = "
                              "false).", code="read_only", field="external_number")
    if "name" not in changes and {"first_name", "last_name"} & set(changes):
        derived = display_name(before.first_name, before.last_name)
        if derived and before.name == derived:  # the name was the derived one: it stays derived
            name = display_name(changes.get("first_name", before.first_name),
                                changes.get("last_name", before.last_name))
            if name:
                changes["name"] = name
    return changes


def _audit_update(services: Services, principal: Principal, before: Customer, after: Customer, fields: list[str],
                  **details: Any) -> None:
    changed = [name for name in MASTER_DATA if name in fields and getattr(before, name) != getattr(after, name)]
    record(services, principal, "customer.update", "customer", after.number, fields=sorted(fields),
           old=audit_values(before, changed), new=audit_values(after, changed), **details)


def update_customer(
    services: Services, principal: Principal, number: str, body: dict[str, Any], *, if_match: list[str] | None = None
) -> Customer:
    """Change the given fields (a list or object replaces the whole of it); with `if_match` (ETags,
    `*` = any) only from that state (else 412). Every change is audited with old and new values."""
    require(principal, CUSTOMERS_WRITE)
    config = customer_config(services.settings)
    before = scoped_customer(services, principal, number)
    changes = change_values(config, before, body)
    check_new_branch(services, principal, changes, given="branch" in changes)
    expected = _expected(if_match)
    customer = services.catalog.customers.update(number, if_match=expected, statuses=config.statuses, **changes)
    sidecars.write_customer(services.store, customer)
    _audit_update(services, principal, before, customer, list(changes))
    return customer


def get_customer(services: Services, principal: Principal, number: str) -> Customer:
    require(principal, CUSTOMERS_READ)
    customer = visible_customer(services, principal, number)  # merged: Moved (308); another branch's: 404
    record(services, principal, "customer.read", "customer", number)
    return customer


def list_customers(
    services: Services, principal: Principal, query: str | None = None, *, limit: int = 100, offset: int = 0
) -> list[Customer]:
    """Customers by number; `query` filters by number, name or external number."""
    require(principal, CUSTOMERS_READ)
    return services.catalog.customers.query(query, limit=limit, offset=offset, **list_scope(services, principal, None))


def next_number(services: Services, principal: Principal) -> str:
    """The next free customer number (a suggestion: creating takes the next free one anyway)."""
    require(principal, CUSTOMERS_READ)
    return services.catalog.customers.next_number(services.settings.first_customer_number)


def customer_file(services: Services, principal: Principal, number: str) -> CustomerFile:
    """The customer file: every folder with its documents (by date, then title); the rest in the inbox."""
    require(principal, DOCUMENTS_READ)
    customer = visible_customer(services, principal, number)  # merged: Moved (308); another branch's: 404
    documents = services.catalog.documents.query(customer_number=number, limit=100_000,
                                                 include_restricted=sees_restricted(principal))
    result = CustomerFile(customer, {name: [] for name in customer.folders})
    for document in sorted(documents, key=lambda d: (d.document_date or d.created_at.date(), d.title)):
        result.folders.setdefault(document.folder or services.settings.inbox_folder, []).append(document)
    record(services, principal, "file.read", "customer", number)
    return result


# --- master data from an ERP (PUT) ------------------------------------------------------------


def _expected(if_match: list[str] | None) -> list[str] | None:
    """The ETags a change requires; None when there is no precondition (absent or `*`)."""
    return None if if_match is None or "*" in if_match else list(if_match)


def upsert_customer(
    services: Services, principal: Principal, number: str, body: dict[str, Any], *, if_match: list[str] | None = None
) -> tuple[Customer, bool]:
    """Create customer `number` or change the given fields: (customer, created).

    `if_match` (ETags; `*` = it must exist) makes the change conditional: a customer in another
    state, or none, is a 412 and nothing changes. Every change is audited with old and new values."""
    require(principal, CUSTOMERS_WRITE)
    if "number" in body:
        raise ValidationError("Die Kundennummer steht im Pfad, nicht im Anfragetext.", field="number")
    config = customer_config(services.settings)
    customer_input(body, config, partial=True)  # a bad body is a 400 before anything else
    customers = services.catalog.customers
    for _ in range(5):
        before = customers.find(number)
        if before is not None:
            before = scoped_customer(services, principal, number)  # another branch's: 404
        if before is None:
            if if_match is not None:
                raise PreconditionFailed(f"Kunde {number} existiert nicht (If-Match); nichts wurde angelegt.")
            try:
                return create_customer(services, principal, {**body, "number": number}), True
            except Conflict as exc:
                if exc.code != "customer_exists":
                    raise
                continue  # created concurrently: update it
        changes = change_values(config, before, body)
        check_new_branch(services, principal, changes, given="branch" in changes)
        expected = _expected(if_match)
        try:
            # an empty `If-Match` names no state: 412 like a stale one (not unconditional)
            customer = customers.update(number, if_match=[before.etag] if expected is None else expected,
                                        statuses=config.statuses, **changes)
        except PreconditionFailed:
            if expected is not None:
                raise
            continue  # changed concurrently: read again, so old values are right
        except NotFound:
            continue
        if customer.row_version != before.row_version:
            sidecars.write_customer(services.store, customer)
            _audit_update(services, principal, before, customer, list(changes), via="put")
        return customer, False
    raise Conflict(f"Kunde {number} wird gerade von anderen geändert, bitte erneut versuchen.")
