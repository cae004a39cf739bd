"""How a customer is shown: to whom the bank accounts are visible, and what the audit trail keeps.

IBANs are personal data of a special sensitivity for offices: callers without the permission
`customers:bank` (role admin, or a token with that scope) see each IBAN masked ("**** 3000",
`masked: true`). The audit trail always keeps them masked (auditors read it without that
permission).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from dms.app.principal import CUSTOMERS_BANK, Principal
from dms.domain import Customer
from dms.masterdata.iban import mask_iban


def sees_bank_accounts(principal: Principal) -> bool:
    return principal.can(CUSTOMERS_BANK)


def _accounts(accounts: list[dict[str, Any]], visible: bool) -> list[dict[str, Any]]:
    return [{**account, "iban": account.get("iban") if visible else mask_iban(account.get("iban") or ""),
             "masked": not visible} for account in accounts]


def customer_json(customer: Customer, principal: Principal) -> dict[str, Any]:
    """The customer as the API shows it to `principal` (IBANs masked without `customers:bank`)."""
    data = customer.to_dict()
    data["bank_accounts"] = _accounts(customer.bank_accounts, sees_bank_accounts(principal))
    return data


def _audit_value(name: str, value: Any) -> Any:
    if name == "bank_accounts":
        return [{k: v for k, v in a.items() if k != "masked"} for a in _accounts(value or [], False)]
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def audit_values(customer: Customer, fields: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """The values of `fields` as the audit trail keeps them (IBANs masked, dates as text)."""
    return {name: _audit_value(name, getattr(customer, name)) for name in fields}
