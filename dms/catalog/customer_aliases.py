"""Numbers of merged customers (issue #14): the old number stays an alias of the surviving customer.

A merge (dms/app/customer_merge.py) moves everything of the merged customer to the survivor and then
`retire`s it here: in one transaction its catalog row goes and an alias row `old number → survivor`
takes its place, so the old number keeps resolving (API redirect, mail to `akte+<old nr>@`) and is
never handed out again. The merged customer's sidecar stays in the object store as a marker (id,
number, `merged_into`, no master data), so `dms rebuild-catalog` restores the alias (`restore_alias`).

The ORM row lives here on the catalog's `Base`; dms/catalog/models.py imports this module (as it
does dms/identity/models.py) so that create_all and the migration checks see the table
(migration 0014).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import DateTime, String, Text, func, select, update
from sqlalchemy.orm import Mapped, mapped_column

from dms.catalog.models import Base, CustomerRow, DocumentRow, MailMessageRow
from dms.errors import Conflict, NotFound

if TYPE_CHECKING:
    from dms.catalog.engine import Database

MAX_HOPS = 32  # an alias of an alias … (A merged into B, B later into C): resolved to the end


class CustomerAliasRow(Base):
    """`old_number` was merged into customer `number` (the survivor; repointed when that is merged too)."""

    __tablename__ = "customer_aliases"

    old_number: Mapped[str] = mapped_column(String(32), primary_key=True)
    number: Mapped[str] = mapped_column(String(32), index=True)
    old_id: Mapped[str] = mapped_column(String(36))  # the merged customer's id: its sidecar customers/<id>.json
    merged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    merged_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)


@dataclass(frozen=True)
class CustomerAlias:
    old_number: str
    number: str
    old_id: str
    merged_at: datetime
    merged_by: str
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"old_number": self.old_number, "number": self.number, "merged_at": self.merged_at.isoformat(),
                "merged_by": self.merged_by, "reason": self.reason}


def _alias(row: CustomerAliasRow) -> CustomerAlias:
    at = row.merged_at if row.merged_at.tzinfo else row.merged_at.replace(tzinfo=UTC)  # SQLite drops the zone
    return CustomerAlias(row.old_number, row.number, row.old_id, at, row.merged_by, row.reason)


class CustomerAliases:
    """The alias table over the catalog's database (`CustomerAliases(catalog.db)`)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def resolve(self, number: str) -> str | None:
        """The number of the customer `number` was merged into (following later merges), None when it is no alias."""
        seen: list[str] = []
        current = str(number)
        with self.db.session() as s:
            while len(seen) < MAX_HOPS:
                target = s.scalar(select(CustomerAliasRow.number).where(CustomerAliasRow.old_number == current))
                if target is None or target in seen:
                    break
                seen.append(current)
                current = target
        return current if seen else None

    def get(self, old_number: str) -> CustomerAlias | None:
        with self.db.session() as s:
            row = s.get(CustomerAliasRow, str(old_number))
            return _alias(row) if row is not None else None

    def of(self, number: str) -> list[CustomerAlias]:
        """The aliases that name customer `number` (its merged customers), oldest merge first."""
        stmt = select(CustomerAliasRow).where(CustomerAliasRow.number == str(number)).order_by(
            CustomerAliasRow.merged_at, CustomerAliasRow.old_number)
        with self.db.session() as s:
            return [_alias(r) for r in s.scalars(stmt)]

    def numbers(self) -> list[str]:
        """Every old number (taken for good: never a new customer's number)."""
        with self.db.session() as s:
            return list(s.scalars(select(CustomerAliasRow.old_number)))

    def document_ids(self, number: str) -> list[str]:
        """Every document of customer `number`: trashed and GDPR-restricted ones included, oldest first."""
        stmt = (select(DocumentRow.id).join(CustomerRow, DocumentRow.customer_id == CustomerRow.id)
                .where(CustomerRow.number == str(number)).order_by(DocumentRow.created_at, DocumentRow.id))
        with self.db.session() as s:
            return list(s.scalars(stmt))

    def retire(self, old_number: str, number: str, *, merged_by: str, reason: str | None = None,
               merged_at: datetime | None = None) -> CustomerAlias:
        """Customer `old_number` (without documents by now) becomes an alias of customer `number`, in one
        transaction: its row is deleted, the alias added, aliases naming it repointed to `number`, and its
        received mail listed under `number`. Conflict while documents still name it."""
        at = merged_at or datetime.now(UTC)
        with self.db.session() as s:
            old = s.scalar(select(CustomerRow).where(CustomerRow.number == str(old_number)))
            if old is None:
                raise NotFound(f"Kunde {old_number} existiert nicht.", code="customer_not_found")
            if s.scalar(select(CustomerRow.id).where(CustomerRow.number == str(number))) is None:
                raise NotFound(f"Kunde {number} existiert nicht.", code="customer_not_found")
            left = s.scalar(select(func.count()).select_from(DocumentRow).where(DocumentRow.customer_id == old.id))
            if left:
                raise Conflict(f"Kunde {old_number} hat noch {left} Dokument(e); die Zusammenführung wird "
                               "fortgesetzt, bitte erneut versuchen.", code="merge_incomplete")
            s.execute(update(CustomerAliasRow).where(CustomerAliasRow.number == old.number).values(number=number))
            s.execute(update(MailMessageRow).where(MailMessageRow.customer_number == old.number)
                      .values(customer_number=number))
            row = CustomerAliasRow(old_number=old.number, number=str(number), old_id=old.id, merged_at=at,
                                   merged_by=merged_by, reason=reason)
            s.delete(old)
            s.flush()  # the customer row goes before its number is taken by the alias
            s.add(row)
        return _alias(row)

    def restore(self, alias: CustomerAlias) -> bool:
        """Add an alias as it was (rebuild from the sidecars); False when its number is taken already."""
        with self.db.session() as s:
            taken = s.get(CustomerAliasRow, alias.old_number) is not None or s.scalar(
                select(CustomerRow.id).where(CustomerRow.number == alias.old_number)) is not None
            if taken:
                return False
            s.add(CustomerAliasRow(old_number=alias.old_number, number=alias.number, old_id=alias.old_id,
                                   merged_at=alias.merged_at, merged_by=alias.merged_by, reason=alias.reason))
        return True


# --- the sidecar of a merged customer ----------------------------------------------------------

MERGED_INTO = "merged_into"


def merged_marker(alias: CustomerAlias) -> dict[str, Any]:
    """The keys of a merged customer's sidecar beside `format`, `id` and `number` (format 1)."""
    return {MERGED_INTO: alias.number, "merged_at": alias.merged_at.isoformat(), "merged_by": alias.merged_by,
            "merge_reason": alias.reason}


def alias_of_record(record: dict[str, Any]) -> CustomerAlias | None:
    """The alias a customer sidecar stands for (`merged_into` set), else None."""
    target = record.get(MERGED_INTO)
    if not target:
        return None
    at = record.get("merged_at")
    return CustomerAlias(
        old_number=str(record["number"]), number=str(target), old_id=str(record["id"]),
        merged_at=datetime.fromisoformat(at) if at else datetime.now(UTC),
        merged_by=str(record.get("merged_by") or "rebuild"), reason=record.get("merge_reason"),
    )


def restore_alias(catalog: Any, record: dict[str, Any]) -> bool:
    """For dms/rebuild.py: a customer sidecar marked `merged_into` becomes its alias again (True),
    instead of a customer; False for an ordinary customer sidecar."""
    alias = alias_of_record(record)
    if alias is None:
        return False
    CustomerAliases(catalog.db).restore(alias)
    return True
