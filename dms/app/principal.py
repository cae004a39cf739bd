"""Who acts, and the one permission check every use case makes first."""

from __future__ import annotations

from dataclasses import dataclass, field

from dms.errors import Forbidden

CUSTOMERS_READ = "customers:read"
CUSTOMERS_WRITE = "customers:write"
DOCUMENTS_READ = "documents:read"
DOCUMENTS_WRITE = "documents:write"
AUDIT_READ = "audit:read"
ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: its name (recorded in the audit log) and its roles."""

    name: str
    roles: frozenset[str] = field(default_factory=frozenset)

    def can(self, permission: str) -> bool:
        return ADMIN in self.roles or permission in self.roles


# The operator at the command line (a local administrator, audited as "cli").
CLI = Principal("cli", frozenset({ADMIN}))


def require(principal: Principal, permission: str) -> Principal:
    """`principal` if it holds `permission`, else Forbidden (403)."""
    if not principal.can(permission):
        raise Forbidden(f"Keine Berechtigung für {permission}.")
    return principal
