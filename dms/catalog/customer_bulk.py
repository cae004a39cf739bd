"""Many customers in one catalog transaction (the customer import: all rows or none).

`write_customers` creates the new customers (numbers given, or the next free ones) and changes existing ones
in ONE transaction; any failure rolls all of it back. A customer changed by someone else since the import read
it (its row version moved) fails the whole write with PreconditionFailed, and a number taken concurrently with
Conflict `customer_exists`: nothing was written, the import can simply be run again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dms.catalog.audit import append_entry
from dms.catalog.catalog import Catalog
from dms.catalog.convert import customer_from_row
from dms.catalog.customers import NUMBER_RE, apply_changes, row_values
from dms.catalog.engine import utcnow
from dms.catalog.models import CustomerRow
from dms.domain import Customer, CustomerKind, CustomerStatus
from dms.errors import Conflict, PreconditionFailed, ValidationError

CHUNK = 500  # numbers looked up per query


@dataclass(frozen=True)
class AuditEntry:
    """One audit entry written in the import's transaction (dms.catalog.audit.append_entry)."""

    action: str
    object_type: str
    object_id: str | None
    details: dict[str, Any]


# (created, updated) → the entries to append in the same transaction
AuditEntries = Callable[[list[Customer], list[Customer]], list[AuditEntry]]


@dataclass
class NewCustomer:
    row: int  # the file's row, for messages
    values: dict[str, Any]  # validated fields (dms.validation.customer_input); `number` optional


def _next_numbers(session: Session, count: int, first: int, taken: set[str]) -> list[str]:
    numbers = [int(n) for (n,) in session.execute(select(CustomerRow.number)) if n.isdigit()]
    numbers += [int(n) for n in taken if n.isdigit()]
    start = max([first - 1, *numbers]) + 1
    return [str(start + i) for i in range(count)]


def write_customers(
    catalog: Catalog,
    new: list[NewCustomer],
    changed: list[tuple[Customer, dict[str, Any]]],
    *,
    folders: list[str],
    first_number: int = 10001,
    defaults: dict[str, Any] | None = None,
    reserved: set[str] | None = None,
    audit: AuditEntries | None = None,
    actor: str = "cli",
    context: dict[str, str | None] | None = None,
) -> tuple[list[Customer], list[Customer]]:
    """Create `new` and apply each `(customer as read, changes)` of `changed`, all in one transaction:
    (created, updated) in the given order. `defaults` fill what a new customer's values leave out; `reserved`
    numbers (of merged customers) are never handed out. The audit
    entries `audit` makes of them are appended in the same transaction (`actor`, `context`: ip, user_agent,
    request_id), so customers and their audit trail are written together or not at all."""
    base = {"kind": str(CustomerKind.LEGAL), "status": str(CustomerStatus.CUSTOMER), **(defaults or {})}
    for item in new:
        number = item.values.get("number")
        if number is not None and not NUMBER_RE.match(str(number)):
            raise ValidationError(f"Ungültige Kundennummer {number!r} (Zeile {item.row}).", field="number")
    given = {str(i.values["number"]) for i in new if i.values.get("number")} | set(reserved or ())
    try:
        with catalog.session() as s:
            free = iter(_next_numbers(s, sum(1 for i in new if not i.values.get("number")), first_number, given))
            created_rows: list[CustomerRow] = []
            now = utcnow()
            for item in new:
                values = {**base, **{k: v for k, v in item.values.items() if v is not None}}
                row = CustomerRow(id=str(uuid.uuid4()), number=str(values.get("number") or next(free)),
                                  name=values["name"], kind=str(values["kind"]), status=str(values["status"]),
                                  folders=list(folders), created_at=now, **row_values(values))
                s.add(row)
                created_rows.append(row)
            updated_rows = _apply_changes(s, changed)
            s.flush()
            created = [customer_from_row(r) for r in created_rows]
            updated = [customer_from_row(r) for r in updated_rows]
            for entry in audit(created, updated) if audit is not None else []:
                append_entry(s, actor, entry.action, entry.object_type, entry.object_id, details=entry.details,
                             **(context or {}))
    except IntegrityError as exc:
        raise Conflict("Eine Kundennummer oder externe Nummer wurde während des Imports vergeben; nichts wurde "
                       "importiert. Bitte erneut importieren.", code="customer_exists") from exc
    return created, updated


def _apply_changes(s: Session, changed: list[tuple[Customer, dict[str, Any]]]) -> list[CustomerRow]:
    wanted = [c.number for c, _ in changed]
    rows: dict[str, CustomerRow] = {}
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start:start + CHUNK]
        rows.update({r.number: r for r in s.scalars(select(CustomerRow).where(CustomerRow.number.in_(chunk)))})
    out: list[CustomerRow] = []
    for before, changes in changed:
        row = rows.get(before.number)
        if row is None or (row.row_version or 1) != before.row_version:
            raise PreconditionFailed(
                f"Kunde {before.number} wurde während des Imports geändert oder gelöscht; nichts wurde importiert. "
                "Bitte erneut importieren.")
        apply_changes(row, {k: v for k, v in changes.items() if k != "force"})
        out.append(row)
    return out
