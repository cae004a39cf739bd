"""Who acts, and the one permission check every use case makes first."""

from __future__ import annotations

from dataclasses import dataclass, field

from dms.errors import Forbidden

CUSTOMERS_READ = "customers:read"
CUSTOMERS_WRITE = "customers:write"
CUSTOMERS_BANK = "customers:bank"  # IBANs in full (issue 14)
CUSTOMERS_ALL_BRANCHES = "customers:all_branches"  # every branch's customers when branch scoping is on
DOCUMENTS_READ = "documents:read"
DOCUMENTS_WRITE = "documents:write"
AUDIT_READ = "audit:read"
ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: its name (recorded in the audit log), its roles and the branches
    (Filialen) it belongs to (they matter only with `[customers] branch_scoping`)."""

    name: str
    roles: frozenset[str] = field(default_factory=frozenset)
    branches: frozenset[str] = field(default_factory=frozenset)

    def can(self, permission: str) -> bool:
        return ADMIN in self.roles or permission in self.roles


# The operator at the command line (a local administrator, audited as "cli").
CLI = Principal("cli", frozenset({ADMIN}))


def require(principal: Principal, permission: str) -> Principal:
    """`principal` if it holds `permission`, else Forbidden (403)."""
    if not principal.can(permission):
        raise Forbidden(f"Keine Berechtigung für {permission}.")
    return principal
