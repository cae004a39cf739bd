"""The one place every API request is authenticated and authorised.

`local` mode (the embedded default) treats every caller as the local administrator; users,
roles and API tokens plug in here without touching any endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import g, request

from dms.errors import Forbidden, Unauthorized
from dms.services import Services


@dataclass(frozen=True)
class Principal:
    name: str
    roles: frozenset[str] = field(default_factory=frozenset)

    def can(self, permission: str) -> bool:
        return "admin" in self.roles or permission in self.roles


LOCAL_ADMIN = Principal("local", frozenset({"admin"}))


def authenticate(services: Services) -> Principal:
    mode = services.settings.auth_mode
    if mode == "local":
        return LOCAL_ADMIN
    raise Unauthorized(f"Anmeldeverfahren {mode!r} ist nicht eingerichtet.")


def load_principal(services: Services) -> None:
    g.principal = authenticate(services)
    g.request_id = request.headers.get("X-Request-Id")


def current_principal() -> Principal:
    principal = getattr(g, "principal", None)
    if principal is None:
        raise Unauthorized("Nicht angemeldet.")
    return principal


def require(permission: str) -> Principal:
    principal = current_principal()
    if not principal.can(permission):
        raise Forbidden(f"Keine Berechtigung für {permission}.")
    return principal
