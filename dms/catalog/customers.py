"""Customer records of the catalog. Methods take and return domain records, never ORM rows."""

from __future__ import annotations

import json
import random
import re
import time
import uuid
from collections import Counter
from collections.abc import Collection
from datetime import date, datetime
from typing import Any

from sqlalchemy import String, and_, cast, false, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.sql.elements import ColumnElement

from dms.catalog.convert import customer_from_row
from dms.catalog.customer_aliases import CustomerAliasRow
from dms.catalog.engine import Database, utcnow
from dms.catalog.models import CustomerRow
from dms.domain import MASTER_DATA_FIELDS, Customer, CustomerKind, CustomerStatus
from dms.errors import Conflict, NotFound, PreconditionFailed, ValidationError
from dms.masterdata import address_key as _address_key
from dms.masterdata import name_key as _name_key
from dms.masterdata import normalize_name
from dms.validation import email_address, emails_field

NUMBER_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,31}$")
UPDATABLE = {"name", "kind", "status", "tags", "emails",
             "legal_hold", "legal_hold_reason", "erasure_state", "erasure_requested_at",  # retention: #12
             *MASTER_DATA_FIELDS}  # master data: issue 14
JSON_LISTS = {"tags", "emails", "groups", "addresses", "contacts", "bank_accounts", "consents"}
JSON_OBJECTS = {"communication", "attributes"}
KEYED = {"name", "kind", "first_name", "last_name", "addresses"}  # what name_key and address_key depend on
BUILT_IN_STATUSES = tuple(s.value for s in CustomerStatus)


def _stale(number: str) -> PreconditionFailed:
    return PreconditionFailed(
        f"Kunde {number} wurde inzwischen geändert (If-Match passt nicht); nichts wurde geändert. "
        "Bitte neu lesen und erneut senden.",
    )


def _check_status(status: str, statuses: Collection[str] | None) -> None:
    allowed = BUILT_IN_STATUSES if statuses is None else tuple(statuses)
    if status not in allowed:
        raise ValidationError(f"Unbekannter Status {status!r}: erlaubt sind {', '.join(allowed)}.", field="status")


def _stored(value: Any, key: str) -> Any:
    """A column's value as the domain sees it (NULL of a JSON list or object is empty)."""
    if value is None and key in JSON_LISTS:
        return []
    if value is None and key in JSON_OBJECTS:
        return {}
    return value


def keys_of(values: dict[str, Any]) -> dict[str, str | None]:
    """`name_key` and `address_key` of a customer's values (None when empty)."""
    return {"name_key": _name_key(values) or None, "address_key": _address_key(values) or None}


def row_values(values: dict[str, Any]) -> dict[str, Any]:
    """The column values of a new customer row from validated values (dms.customer_input): master data,
    empty lists for what is missing, and the keys for duplicate search. For writing many rows in one
    transaction (imports); `create` uses it too."""
    columns = {key: values.get(key) for key in MASTER_DATA_FIELDS}
    for key in JSON_LISTS:
        columns[key] = list(values.get(key) or [])
    for key in JSON_OBJECTS:
        columns[key] = dict(values.get(key) or {})
    columns["tags"] = sorted(set(columns["tags"]))
    columns.update(keys_of({**values, **columns}))
    return columns


def apply_changes(row: CustomerRow, changes: dict[str, Any]) -> bool:
    """Set the changed fields on `row` (and its keys); whether anything changed."""
    changed = False
    for key, value in changes.items():
        value = sorted(set(value)) if key == "tags" else value
        if _stored(getattr(row, key), key) != _stored(value, key):
            setattr(row, key, value)
            changed = True
    if changed and KEYED & set(changes):
        current = {key: getattr(row, key) for key in KEYED}
        for key, value in keys_of(current).items():
            if getattr(row, key) != value:
                setattr(row, key, value)
    return changed


class CustomerRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def next_number(self, first: int = 10001) -> str:
        with self.db.session() as s:
            numbers = [int(n) for (n,) in s.execute(select(CustomerRow.number)) if n.isdigit()]
            # the numbers of merged customers are taken for good (dms/catalog/customer_aliases.py)
            numbers += [int(n) for (n,) in s.execute(select(CustomerAliasRow.old_number)) if n.isdigit()]
        return str(max([first - 1, *numbers]) + 1)

    def _taken_external(self, external_number: str | None) -> bool:
        if not external_number:
            return False
        with self.db.session() as s:
            return s.scalar(select(CustomerRow.id).where(CustomerRow.external_number == external_number)) is not None

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
        statuses: Collection[str] | None = None,
        **master: Any,
    ) -> Customer:
        """A new customer; `master`: the master data of issue 14 (validated by dms.customer_input);
        `statuses`: the allowed statuses (default: the built-in three)."""
        name = (name or "").strip()
        addresses = emails_field(emails)
        unknown = set(master) - set(MASTER_DATA_FIELDS)
        if unknown:
            raise ValidationError(f"Unbekannte Felder: {', '.join(sorted(unknown))}.")
        if not name:
            raise ValidationError("Der Kundenname fehlt.", field="name")
        if kind not in set(CustomerKind):
            raise ValidationError(f"Unbekannte Art {kind!r}: erlaubt sind natural, legal.", field="kind")
        _check_status(status, statuses)
        if number is not None:
            number = str(number).strip()
            if not NUMBER_RE.match(number):
                raise ValidationError(f"Ungültige Kundennummer {number!r}.", field="number")
        columns = row_values({**master, "name": name, "kind": str(kind), "tags": tags or [], "emails": addresses})
        for attempt in range(20):  # concurrent creators race for the same next number: retry with jitter
            candidate = number or self.next_number(first_number)
            row = CustomerRow(
                id=customer_id or str(uuid.uuid4()),
                number=candidate,
                name=name,
                kind=str(kind),
                status=str(status),
                folders=list(folders),
                created_at=created_at or utcnow(),
                **columns,
            )
            try:
                with self.db.session() as s:
                    s.add(row)
                return customer_from_row(row)
            except IntegrityError as exc:
                if self._taken_external(columns.get("external_number")):
                    raise self._external_conflict(columns["external_number"]) from exc
                if number is not None:
                    raise Conflict(
                        f"Die Kundennummer {number} ist bereits vergeben.", code="customer_exists", number=number
                    ) from exc
                time.sleep(random.uniform(0, 0.01 * (attempt + 1)))
        raise Conflict("Keine freie Kundennummer gefunden, bitte erneut versuchen.")

    @staticmethod
    def _external_conflict(external_number: str) -> Conflict:
        return Conflict(f"Die externe Nummer {external_number} hat schon ein anderer Kunde.",
                        code="external_number_exists", field="external_number")

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

    @staticmethod
    def _where(text: str | None, status: str | None, branch: str | None, unset_branch: bool,
               branches: Collection[str] | None = None) -> list[ColumnElement]:
        conditions: list[ColumnElement] = []
        if text:
            like = f"%{text.lower()}%"
            matches = [func.lower(CustomerRow.name).like(like), CustomerRow.number.like(like),
                       func.lower(CustomerRow.external_number).like(like)]
            folded = normalize_name(text)
            if folded:
                matches.append(CustomerRow.name_key.like(f"%{folded}%"))
            conditions.append(or_(*matches))
        if status is not None:
            conditions.append(CustomerRow.status == status)
        if branch is not None:
            same = CustomerRow.branch == branch
            conditions.append(or_(same, CustomerRow.branch.is_(None)) if unset_branch else same)
        if branches is not None:  # any of these (branch scoping); none at all: nothing
            inside = CustomerRow.branch.in_(sorted(branches)) if branches else false()
            conditions.append(or_(inside, CustomerRow.branch.is_(None)) if unset_branch else inside)
        return conditions

    def query(
        self, text: str | None = None, limit: int = 100, offset: int = 0, *, status: str | None = None,
        branch: str | None = None, unset_branch: bool = False, branches: Collection[str] | None = None,
    ) -> list[Customer]:
        """Customers ordered by number; `text` filters by number, name (also umlaut-folded) or external
        number, `status` and `branch` exactly (`unset_branch`: customers without a branch count as it)."""
        stmt = select(CustomerRow).order_by(CustomerRow.number).limit(limit).offset(offset)
        conditions = self._where(text, status, branch, unset_branch, branches)
        if conditions:
            stmt = stmt.where(and_(*conditions))
        with self.db.session() as s:
            return [customer_from_row(r) for r in s.scalars(stmt)]

    def count(self, text: str | None = None, *, status: str | None = None, branch: str | None = None,
              unset_branch: bool = False, branches: Collection[str] | None = None) -> int:
        """How many customers `query` with these filters finds in all."""
        stmt = select(func.count()).select_from(CustomerRow)
        conditions = self._where(text, status, branch, unset_branch, branches)
        if conditions:
            stmt = stmt.where(and_(*conditions))
        with self.db.session() as s:
            return int(s.scalar(stmt) or 0)

    def numbers_in(self, branches: Collection[str], *, unset: bool) -> list[str]:
        """The numbers of the customers of `branches` (`unset`: and of those without a branch)."""
        conditions = self._where(None, None, None, unset, branches)
        with self.db.session() as s:
            return list(s.scalars(select(CustomerRow.number).where(and_(*conditions))))

    def value_counts(self) -> dict[str, Counter[str]]:
        """How many customers have each status, group and branch (customers without a branch: none)."""
        counts: dict[str, Counter[str]] = {"status": Counter(), "groups": Counter(), "branch": Counter()}
        with self.db.session() as s:
            for status, groups, branch in s.execute(select(CustomerRow.status, CustomerRow.groups,
                                                           CustomerRow.branch)):
                counts["status"][status] += 1
                counts["groups"].update(set(groups or []))
                if branch is not None:
                    counts["branch"][branch] += 1
        return counts

    def candidates(
        self, *, name_key: str | None = None, address_key: str | None = None, birth_date: date | None = None,
        vat_id: str | None = None, register: tuple[str, str] | None = None, exclude: str | None = None,
        limit: int = 200,
    ) -> list[Customer]:
        """Customers that may be duplicates: the same normalised name (and, when given, birth date), the
        same normalised main address, VAT id, or register court and number; by number, without `exclude`."""
        matches: list[ColumnElement] = []
        if name_key:
            same_name = CustomerRow.name_key == name_key
            matches.append(and_(same_name, CustomerRow.birth_date == birth_date) if birth_date else same_name)
        if address_key:
            matches.append(CustomerRow.address_key == address_key)
        if vat_id:
            matches.append(CustomerRow.vat_id == vat_id)
        if register and all(register):
            matches.append(and_(CustomerRow.register_court == register[0], CustomerRow.register_number == register[1]))
        if not matches:
            return []
        stmt = select(CustomerRow).where(or_(*matches)).order_by(CustomerRow.number).limit(limit)
        if exclude is not None:
            stmt = stmt.where(CustomerRow.number != exclude)
        with self.db.session() as s:
            return [customer_from_row(r) for r in s.scalars(stmt)]

    def update(
        self, number: str, *, if_match: Collection[str] | None = None, statuses: Collection[str] | None = None,
        **changes: Any,
    ) -> Customer:
        """Change fields; only a real change writes (and increments `row_version`, so the ETag changes).

        `if_match`: the ETags the caller expects the customer to have (None: any). The row is
        written only if its version is still the one read (checked by the UPDATE itself), so a
        concurrent change between reading and writing is a PreconditionFailed too; without
        `if_match` the change is simply made on the newer state. `statuses`: the allowed statuses
        (default: the built-in three)."""
        unknown = set(changes) - UPDATABLE
        if unknown:
            raise ValidationError(f"Nicht änderbar: {', '.join(sorted(unknown))}.")
        if "kind" in changes and changes["kind"] not in set(CustomerKind):
            raise ValidationError(f"Unbekannte Art {changes['kind']!r}.", field="kind")
        if "status" in changes:
            _check_status(changes["status"], statuses)
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
                    apply_changes(row, changes)
                return customer_from_row(row)
            except StaleDataError as exc:  # changed by someone else between our read and our write
                if if_match is not None:
                    raise _stale(number) from exc
                time.sleep(random.uniform(0, 0.01 * (attempt + 1)))
            except IntegrityError as exc:  # the only unique column a change can hit
                raise self._external_conflict(str(changes.get("external_number"))) from exc
        raise Conflict(f"Kunde {number} wird gerade von anderen geändert, bitte erneut versuchen.")
