"""The customers worth comparing with a new one for duplicates (issue #14), found by indexed keys.

The duplicate rules (dms/masterdata/duplicates.py) need the same birth date, the same address, the
same VAT id or register entry, so only customers sharing one of those keys (or the exact normalised
name, for addresses other than the main one) are read: `name_key`, `address_key` (the normalised
main address), `birth_date`, `vat_id`, `register_number`. Never more than `limit` of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select

from dms.catalog.convert import customer_from_row
from dms.catalog.models import CustomerRow
from dms.domain import Customer

if TYPE_CHECKING:
    from dms.catalog.engine import Database

LIMIT = 200


def candidates(
    db: Database,
    *,
    name_key: str | None = None,
    address_keys: Iterable[str] = (),
    birth_date: date | None = None,
    vat_id: str | None = None,
    register_number: str | None = None,
    limit: int = LIMIT,
) -> list[Customer]:
    """Customers sharing at least one of the given keys, by number (none when no key is given)."""
    conditions: list[Any] = []
    if name_key:
        conditions.append(CustomerRow.name_key == name_key)
    keys = sorted({key for key in address_keys if key})
    if keys:
        conditions.append(CustomerRow.address_key.in_(keys))
    if birth_date is not None:
        conditions.append(CustomerRow.birth_date == birth_date)
    if vat_id:
        conditions.append(CustomerRow.vat_id == vat_id)
    if register_number:
        conditions.append(CustomerRow.register_number == register_number)
    if not conditions:
        return []
    stmt = select(CustomerRow).where(or_(*conditions)).order_by(CustomerRow.number).limit(limit)
    with db.session() as s:
        return [customer_from_row(row) for row in s.scalars(stmt)]
