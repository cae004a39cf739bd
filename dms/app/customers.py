"""Use cases on customers and their files (Kundenakten)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dms import sidecars
from dms.app.audit import changes as audit_changes
from dms.app.audit import record
from dms.app.documents import sees_restricted
from dms.app.principal import CUSTOMERS_READ, CUSTOMERS_WRITE, DOCUMENTS_READ, Principal, require
from dms.app.services import Services
from dms.domain import Customer, CustomerKind, CustomerStatus, Document
from dms.errors import Conflict, NotFound, PreconditionFailed, ValidationError
from dms.validation import customer_input


@dataclass
class CustomerFile:
    """A customer file: every folder of its Aktenplan (in order) with its documents."""

    customer: Customer
    folders: dict[str, list[Document]] = field(default_factory=dict)


def create_customer(services: Services, principal: Principal, body: dict[str, Any]) -> Customer:
    """A new customer and its file (`name`, optional `number`, `kind`, `status`, `tags`, `emails`)."""
    require(principal, CUSTOMERS_WRITE)
    values = customer_input(body)
    settings = services.settings
    customer = services.catalog.customers.create(
        values["name"],
        number=values.get("number"),
        kind=values.get("kind") or CustomerKind.LEGAL,
        status=values.get("status") or CustomerStatus.CUSTOMER,
        tags=values.get("tags", []),
        emails=values.get("emails", []),
        folders=settings.folder_template,
        first_number=settings.first_customer_number,
    )
    sidecars.write_customer(services.store, customer)
    new = {name: getattr(customer, name) for name in MASTER_DATA}
    record(services, principal, "customer.create", "customer", customer.number, new=new)
    return customer


def update_customer(
    services: Services, principal: Principal, number: str, body: dict[str, Any], *, if_match: list[str] | None = None
) -> Customer:
    """Change name, kind, status, tags or emails; with `if_match` (ETags, `*` = any) only from that state (else 412)."""
    require(principal, CUSTOMERS_WRITE)
    changes = customer_input(body, partial=True)
    before = services.catalog.customers.get(number)
    customer = services.catalog.customers.update(number, if_match=_expected(if_match), **changes)
    sidecars.write_customer(services.store, customer)
    old_new = audit_changes({k: getattr(before, k) for k in changes}, {k: getattr(customer, k) for k in changes})
    record(services, principal, "customer.update", "customer", number, fields=sorted(changes), **old_new)
    return customer


def get_customer(services: Services, principal: Principal, number: str) -> Customer:
    require(principal, CUSTOMERS_READ)
    customer = services.catalog.customers.get(number)
    record(services, principal, "customer.read", "customer", number)
    return customer


def list_customers(
    services: Services, principal: Principal, query: str | None = None, *, limit: int = 100, offset: int = 0
) -> list[Customer]:
    """Customers by number; `query` filters by name or number."""
    require(principal, CUSTOMERS_READ)
    return services.catalog.customers.query(query, limit=limit, offset=offset)


@dataclass
class CustomerList:
    """One page of customers (`total`: how many matched in all) and every tag of those that matched."""

    customers: list[Customer]
    total: int
    tags: list[str] = field(default_factory=list)


SCAN_BATCH = 1000


def find_customers(
    services: Services,
    principal: Principal,
    query: str | None = None,
    *,
    status: str | None = None,
    tag: str | None = None,
    limit: int = 25,
    offset: int = 0,
) -> CustomerList:
    """Customers by number, filtered by name or number (`query`), `status` and `tag` (case-insensitive),
    with the total for paging. The catalog filters the text; status and tags are checked here, so a
    list of very many customers is read in batches."""
    require(principal, CUSTOMERS_READ)
    if status is not None and status not in {s.value for s in CustomerStatus}:
        allowed = ", ".join(s.value for s in CustomerStatus)
        raise ValidationError(f"Unbekannter Status {status!r}: erlaubt sind {allowed}.", field="status")
    wanted = tag.casefold() if tag else None
    matched: list[Customer] = []
    tags: set[str] = set()
    start = 0
    while True:
        batch = services.catalog.customers.query(query, limit=SCAN_BATCH, offset=start)
        for customer in batch:
            if status is not None and customer.status != status:
                continue
            tags.update(customer.tags)
            if wanted is not None and wanted not in {t.casefold() for t in customer.tags}:
                continue
            matched.append(customer)
        if len(batch) < SCAN_BATCH:
            break
        start += SCAN_BATCH
    return CustomerList(matched[offset:offset + limit], len(matched), sorted(tags, key=str.casefold))


def next_number(services: Services, principal: Principal) -> str:
    """The next free customer number (a suggestion: creating takes the next free one anyway)."""
    require(principal, CUSTOMERS_READ)
    return services.catalog.customers.next_number(services.settings.first_customer_number)


def customer_file(services: Services, principal: Principal, number: str) -> CustomerFile:
    """The customer file: every folder with its documents (by date, then title); the rest in the inbox."""
    require(principal, DOCUMENTS_READ)
    customer = services.catalog.customers.get(number)
    documents = services.catalog.documents.query(customer_number=number, limit=100_000,
                                                 include_restricted=sees_restricted(principal))
    result = CustomerFile(customer, {name: [] for name in customer.folders})
    for document in sorted(documents, key=lambda d: (d.document_date or d.created_at.date(), d.title)):
        result.folders.setdefault(document.folder or services.settings.inbox_folder, []).append(document)
    record(services, principal, "file.read", "customer", number)
    return result


# --- master data from an ERP (PUT) ------------------------------------------------------------

MASTER_DATA = ("name", "kind", "status", "tags", "emails")


def _expected(if_match: list[str] | None) -> list[str] | None:
    """The ETags a change requires; None when there is no precondition (absent or `*`)."""
    return None if if_match is None or "*" in if_match else list(if_match)


def upsert_customer(
    services: Services, principal: Principal, number: str, body: dict[str, Any], *, if_match: list[str] | None = None
) -> tuple[Customer, bool]:
    """Create customer `number` or change the given fields (name, kind, status, tags, emails): (customer, created).

    `if_match` (ETags; `*` = it must exist) makes the change conditional: a customer in another
    state, or none, is a 412 and nothing changes. Every change is audited with old and new values."""
    require(principal, CUSTOMERS_WRITE)
    if "number" in body:
        raise ValidationError("Die Kundennummer steht im Pfad, nicht im Anfragetext.", field="number")
    changes = customer_input(body, partial=True)
    customers = services.catalog.customers
    for _ in range(5):
        before = customers.find(number)
        if before is None:
            if if_match is not None:
                raise PreconditionFailed(f"Kunde {number} existiert nicht (If-Match); nichts wurde angelegt.")
            try:
                return create_customer(services, principal, {**body, "number": number}), True
            except Conflict as exc:
                if exc.code != "customer_exists":
                    raise
                continue  # created concurrently: update it
        expected = _expected(if_match)
        try:
            # an empty `If-Match` names no state: 412 like a stale one (not unconditional)
            customer = customers.update(number, if_match=[before.etag] if expected is None else expected, **changes)
        except PreconditionFailed:
            if expected is not None:
                raise
            continue  # changed concurrently: read again, so old values are right
        except NotFound:
            continue
        if customer.row_version != before.row_version:
            sidecars.write_customer(services.store, customer)
            fields = [name for name in MASTER_DATA if name in changes]
            old_new = audit_changes({k: getattr(before, k) for k in fields}, {k: getattr(customer, k) for k in fields})
            record(services, principal, "customer.update", "customer", number, fields=sorted(changes), via="put",
                   **old_new)
        return customer, False
    raise Conflict(f"Kunde {number} wird gerade von anderen geändert, bitte erneut versuchen.")

