"""Customer records of the catalog. Methods take and return domain records, never ORM rows."""

from __future__ import annotations

import json
import random
import re
import time
import uuid
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from dms.catalog.convert import customer_from_row
from dms.catalog.engine import Database, utcnow
from dms.catalog.models import CustomerRow
from dms.domain import Customer, CustomerKind, CustomerStatus
from dms.errors import Conflict, NotFound, PreconditionFailed, ValidationError
from dms.validation import email_address, emails_field

NUMBER_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,31}$")
UPDATABLE = {"name", "kind", "status", "tags", "emails",
             "legal_hold", "legal_hold_reason", "erasure_state", "erasure_requested_at"}  # retention: #12


def _stale(number: str) -> PreconditionFailed:
    return PreconditionFailed(
        f"Kunde {number} wurde inzwischen geändert (If-Match passt nicht); nichts wurde geändert. "
        "Bitte neu lesen und erneut senden.",
    )


class CustomerRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def next_number(self, first: int = 10001) -> str:
        with self.db.session() as s:
            numbers = [int(n) for (n,) in s.execute(select(CustomerRow.number)) if n.isdigit()]
        return str(max([first - 1, *numbers]) + 1)

    def create(
        self,
        name: str,
        *,
        folders: list[str],
        number: str | None = None,
        kind: str = CustomerKind.LEGAL,
        status: str = CustomerStatus.CUSTOMER,
        tags: list[str] | None = None,
        emails: list[str] | None = None,
        first_number: int = 10001,
        customer_id: str | None = None,
        created_at: datetime | None = None,
    ) -> Customer:
        name = (name or "").strip()
        addresses = emails_field(emails)
        if not name:
            raise ValidationError("Der Kundenname fehlt.", field="name")
        if kind not in set(CustomerKind):
            raise ValidationError(f"Unbekannte Art {kind!r}: erlaubt sind natural, legal.", field="kind")
        if status not in set(CustomerStatus):
            allowed = ", ".join(s.value for s in CustomerStatus)
            raise ValidationError(f"Unbekannter Status {status!r}: erlaubt sind {allowed}.", field="status")
        if number is not None:
            number = str(number).strip()
            if not NUMBER_RE.match(number):
                raise ValidationError(f"Ungültige Kundennummer {number!r}.", field="number")
        for attempt in range(20):  # concurrent creators race for the same next number: retry with jitter
            candidate = number or self.next_number(first_number)
            row = CustomerRow(
                id=customer_id or str(uuid.uuid4()),
                number=candidate,
                name=name,
                kind=str(kind),
                status=str(status),
                tags=sorted(set(tags or [])),
                folders=list(folders),
                emails=addresses,
                created_at=created_at or utcnow(),
            )
            try:
                with self.db.session() as s:
                    s.add(row)
                return customer_from_row(row)
            except IntegrityError as exc:
                if number is not None:
                    raise Conflict(
                        f"Die Kundennummer {number} ist bereits vergeben.", code="customer_exists", number=number
                    ) from exc
                time.sleep(random.uniform(0, 0.01 * (attempt + 1)))
        raise Conflict("Keine freie Kundennummer gefunden, bitte erneut versuchen.")

    def get(self, number: str) -> Customer:
        with self.db.session() as s:
            row = s.scalar(select(CustomerRow).where(CustomerRow.number == str(number)))
            if row is None:
                raise NotFound(f"Kunde {number} existiert nicht.", code="customer_not_found")
            return customer_from_row(row)

    def find(self, number: str) -> Customer | None:
        try:
            return self.get(number)
        except NotFound:
            return None

    def find_by_name(self, name: str) -> list[Customer]:
        with self.db.session() as s:
            rows = s.scalars(select(CustomerRow).where(func.lower(CustomerRow.name) == name.strip().lower()))
            return [customer_from_row(r) for r in rows]

    def find_by_email(self, address: str) -> list[Customer]:
        """Customers that have `address` among their `emails` (case-insensitive, exact), by number."""
        try:
            wanted = email_address(address)
        except ValidationError:
            return []
        # a coarse LIKE on the stored JSON text (as the JSON type wrote it), then the exact match
        pattern = "%" + json.dumps(wanted).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = (select(CustomerRow).where(cast(CustomerRow.emails, String).like(pattern, escape="\\"))
                .order_by(CustomerRow.number))
        with self.db.session() as s:
            return [customer_from_row(r) for r in s.scalars(stmt) if wanted in (r.emails or [])]

    def query(self, text: str | None = None, limit: int = 100, offset: int = 0) -> list[Customer]:
        """Customers ordered by number; `text` filters by name or number."""
        with self.db.session() as s:
            stmt = select(CustomerRow).order_by(CustomerRow.number).limit(limit).offset(offset)
            if text:
                like = f"%{text.lower()}%"
                stmt = stmt.where(func.lower(CustomerRow.name).like(like) | CustomerRow.number.like(like))
            return [customer_from_row(r) for r in s.scalars(stmt)]

    def update(self, number: str, *, if_match: Collection[str] | None = None, **changes: Any) -> Customer:
        """Change fields; only a real change writes (and increments `row_version`, so the ETag changes).

        `if_match`: the ETags the caller expects the customer to have (None: any). The row is
        written only if its version is still the one read (checked by the UPDATE itself), so a
        concurrent change between reading and writing is a PreconditionFailed too; without
        `if_match` the change is simply made on the newer state."""
        unknown = set(changes) - UPDATABLE
        if unknown:
            raise ValidationError(f"Nicht änderbar: {', '.join(sorted(unknown))}.")
        if "kind" in changes and changes["kind"] not in set(CustomerKind):
            raise ValidationError(f"Unbekannte Art {changes['kind']!r}.", field="kind")
        if "status" in changes and changes["status"] not in set(CustomerStatus):
            raise ValidationError(f"Unbekannter Status {changes['status']!r}.", field="status")
        if "emails" in changes:
            changes["emails"] = emails_field(changes["emails"])
        for attempt in range(5):
            try:
                with self.db.session() as s:
                    row = s.scalar(select(CustomerRow).where(CustomerRow.number == str(number)))
                    if row is None:
                        raise NotFound(f"Kunde {number} existiert nicht.", code="customer_not_found")
                    if if_match is not None and customer_from_row(row).etag not in if_match:
                        raise _stale(number)
                    for key, value in changes.items():
                        value = sorted(set(value)) if key == "tags" else value
                        if getattr(row, key) != value:
                            setattr(row, key, value)
                return customer_from_row(row)
            except StaleDataError as exc:  # changed by someone else between our read and our write
                if if_match is not None:
                    raise _stale(number) from exc
                time.sleep(random.uniform(0, 0.01 * (attempt + 1)))
        raise Conflict(f"Kunde {number} wird gerade von anderen geändert, bitte erneut versuchen.")
