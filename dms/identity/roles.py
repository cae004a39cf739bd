"""Roles and permissions: the one table of who may do what.

A user has one role; an API token has scopes, which are permissions from the same list.
`admin` implies every other permission (users, tokens and settings are admin-only).
"""

from __future__ import annotations

from typing import Any

from dms.errors import Forbidden

DOCUMENTS_READ = "documents:read"
DOCUMENTS_WRITE = "documents:write"
CUSTOMERS_READ = "customers:read"
CUSTOMERS_WRITE = "customers:write"
CUSTOMERS_BANK = "customers:bank"  # see customers' IBANs in full (issue 14); without it they are masked
# with `[customers] branch_scoping`: the customers of every branch, not only of one's own (issue 14)
CUSTOMERS_ALL_BRANCHES = "customers:all_branches"
AUDIT_READ = "audit:read"
ADMIN = "admin"

PERMISSIONS: tuple[str, ...] = (
    DOCUMENTS_READ, DOCUMENTS_WRITE, CUSTOMERS_READ, CUSTOMERS_WRITE, CUSTOMERS_BANK, CUSTOMERS_ALL_BRANCHES,
    AUDIT_READ, ADMIN,
)

ROLES: dict[str, frozenset[str]] = {
    # everything, including users, tokens and settings
    "admin": frozenset(PERMISSIONS),
    # customers and documents: read, upload, edit, file
    "clerk": frozenset({DOCUMENTS_READ, DOCUMENTS_WRITE, CUSTOMERS_READ, CUSTOMERS_WRITE}),
    # reads everything including the audit trail, changes nothing
    "auditor": frozenset({DOCUMENTS_READ, CUSTOMERS_READ, AUDIT_READ}),
}


def permissions_of(roles: frozenset[str] | set[str] | tuple[str, ...]) -> frozenset[str]:
    """The permissions the roles grant together (unknown roles grant nothing)."""
    granted: set[str] = set()
    for role in roles:
        granted |= ROLES.get(role, frozenset())
    return frozenset(granted)


def grants(permissions: frozenset[str], permission: str) -> bool:
    return ADMIN in permissions or permission in permissions


def roles_with(permission: str) -> list[str]:
    """The roles that have a permission, for error messages."""
    return [role for role, granted in ROLES.items() if grants(granted, permission)]


def missing_permission(principal: Any, permission: str) -> Forbidden:
    """The 403 for a caller without `permission`, saying what is missing: the token's scope, or a role
    that has it. Details `missing_permission` and `roles_with_permission` go into the error body."""
    allowed = roles_with(permission)
    if getattr(principal, "kind", None) == "token":
        message = f"Dem API-Token fehlt der Scope {permission}."
    else:
        roles = ", ".join(sorted(getattr(principal, "roles", ()))) or "keine"
        message = (
            f"Keine Berechtigung für {permission}: die Rolle {roles} erlaubt das nicht "
            f"(nötig: {' oder '.join(allowed)})."
        )
    return Forbidden(message, missing_permission=permission, roles_with_permission=allowed)
