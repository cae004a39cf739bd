"""Use cases on customers and their files (Kundenakten)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dms import sidecars
from dms.app.audit import record
from dms.app.principal import CUSTOMERS_READ, CUSTOMERS_WRITE, DOCUMENTS_READ, Principal, require
from dms.app.services import Services
from dms.domain import Customer, CustomerKind, CustomerStatus, Document
from dms.validation import customer_input


@dataclass
class CustomerFile:
    """A customer file: every folder of its Aktenplan (in order) with its documents."""

    customer: Customer
    folders: dict[str, list[Document]] = field(default_factory=dict)


def create_customer(services: Services, principal: Principal, body: dict[str, Any]) -> Customer:
    """A new customer and its file (`name`, optional `number`, `kind`, `status`, `tags`)."""
    require(principal, CUSTOMERS_WRITE)
    values = customer_input(body)
    settings = services.settings
    customer = services.catalog.customers.create(
        values["name"],
        number=values.get("number"),
        kind=values.get("kind") or CustomerKind.LEGAL,
        status=values.get("status") or CustomerStatus.CUSTOMER,
        tags=values.get("tags", []),
        folders=settings.folder_template,
        first_number=settings.first_customer_number,
    )
    sidecars.write_customer(services.store, customer)
    record(services, principal, "customer.create", "customer", customer.number)
    return customer


def update_customer(services: Services, principal: Principal, number: str, body: dict[str, Any]) -> Customer:
    """Change name, kind, status or tags."""
    require(principal, CUSTOMERS_WRITE)
    changes = customer_input(body, partial=True)
    customer = services.catalog.customers.update(number, **changes)
    sidecars.write_customer(services.store, customer)
    record(services, principal, "customer.update", "customer", number, fields=sorted(changes))
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


def next_number(services: Services, principal: Principal) -> str:
    """The next free customer number (a suggestion: creating takes the next free one anyway)."""
    require(principal, CUSTOMERS_READ)
    return services.catalog.customers.next_number(services.settings.first_customer_number)


def customer_file(services: Services, principal: Principal, number: str) -> CustomerFile:
    """The customer file: every folder with its documents (by date, then title); the rest in the inbox."""
    require(principal, DOCUMENTS_READ)
    customer = services.catalog.customers.get(number)
    documents = services.catalog.documents.query(customer_number=number, limit=100_000)
    result = CustomerFile(customer, {name: [] for name in customer.folders})
    for document in sorted(documents, key=lambda d: (d.document_date or d.created_at.date(), d.title)):
        result.folders.setdefault(document.folder or services.settings.inbox_folder, []).append(document)
    record(services, principal, "file.read", "customer", number)
    return result
