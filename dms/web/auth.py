"""The one place every API request is authenticated and authorised.

`DMS_AUTH_MODE` decides how:

- `local` (the embedded default): no authentication, every caller is the local administrator.
  Only safe on a loopback address, so `dms serve` refuses any other (`check_listen_address`).
- `users`: `Authorization: Bearer dms_…` (an API token, see `dms tokens`) or HTTP Basic with the
  name and password of an active user (see `dms users`). No, an unknown, wrong, revoked or
  expired credential → 401 with `WWW-Authenticate`; a credential without the permission an
  endpoint needs → 403 naming the missing permission (`require`).

The permissions of roles and the meaning of scopes are in `dms.identity.roles`.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flask import after_this_request, current_app, g, request

from dms.app.principal import Principal
from dms.errors import Unauthorized, ValidationError
from dms.identity import credentials
from dms.identity.repository import TOUCH_INTERVAL, IdentityRepository, utcnow
from dms.identity.roles import PERMISSIONS, ROLES, grants, missing_permission

if TYPE_CHECKING:
    from flask import Response

__all__ = [
    "AUTH_MODES", "LOCAL_ADMIN", "AuthenticatedPrincipal", "Principal", "authenticate", "check_listen_address",
    "current_principal", "load_principal", "record_refusal", "require",
]

log = logging.getLogger(__name__)

AUTH_MODES = ("local", "users")
REALM = "kundenakte"
# Reachable without a credential in `users` mode: the liveness check of load balancers and
# `compose.yaml`'s health check, and the API's description (what the README says too; the docs
# page /api/docs loads it before anyone has entered a credential). Everything else needs one.
PUBLIC_ENDPOINTS = frozenset({"api.health", "api.openapi"})
MAX_CREDENTIAL = 4096  # longer Authorization values are refused before any work


@dataclass(frozen=True)
class AuthenticatedPrincipal(Principal):
    """A caller as authenticated here: `kind` local | user | token | anonymous, and its permissions.

    `roles` holds a user's role (admin, clerk, auditor); `permissions` what the role or the
    token's scopes grant. `name` is what the audit log records (a token as `token:<name>`).
    """

    kind: str = "local"
    permissions: frozenset[str] = field(default_factory=frozenset)

    def can(self, permission: str) -> bool:
        return grants(self.permissions, permission)


LOCAL_ADMIN = AuthenticatedPrincipal("local", frozenset({"admin"}), kind="local", permissions=frozenset(PERMISSIONS))
ANONYMOUS = AuthenticatedPrincipal("anonymous", kind="anonymous")


# --- listening address ---------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    host = host.strip().strip("[]")
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(addresses) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)


def check_listen_address(host: str, auth_mode: str) -> None:
    """Refuse an unknown mode, and `local` mode (no authentication) on anything but loopback."""
    if auth_mode not in AUTH_MODES:
        raise ValidationError(
            f"DMS_AUTH_MODE={auth_mode!r} ist unbekannt: erlaubt sind {', '.join(AUTH_MODES)}.", code="bad_config"
        )
    if auth_mode == "local" and not _is_loopback(host):
        raise ValidationError(
            f"DMS_AUTH_MODE=local (ohne Anmeldung) lauscht nur auf Loopback (127.0.0.1, ::1), nicht auf {host}: "
            "sonst wäre jede Akte ohne Passwort aus dem Netz erreichbar. Für den Betrieb im Netz "
            "DMS_AUTH_MODE=users setzen und Benutzer anlegen (dms users add NAME --role admin).",
            code="bad_config",
        )


# --- authentication ------------------------------------------------------------------------


@dataclass
class _Identity:
    repository: IdentityRepository
    checker: credentials.PasswordChecker


_IDENTITY = "dms.identity"
_identity_lock = threading.Lock()


def _identity(services: Any) -> _Identity:
    """The identity repository (on the catalog's engine) and the password checker, once per app."""
    identity = current_app.extensions.get(_IDENTITY)
    if identity is None:
        with _identity_lock:
            identity = current_app.extensions.get(_IDENTITY)
            if identity is None:
                identity = _Identity(IdentityRepository.for_catalog(services.catalog), credentials.PasswordChecker())
                current_app.extensions[_IDENTITY] = identity
    return identity


def _challenge(message: str, *, invalid_token: bool = False) -> Unauthorized:
    """A 401 whose response names the schemes we accept (RFC 9110 requires WWW-Authenticate)."""
    bearer = f'Bearer realm="{REALM}"' + (', error="invalid_token"' if invalid_token else "")
    value = f'{bearer}, Basic realm="{REALM}", charset="UTF-8"'

    @after_this_request
    def _add_header(response: Response) -> Response:
        response.headers["WWW-Authenticate"] = value
        return response

    return Unauthorized(message)


def _stale(last: datetime | None, now: datetime) -> bool:
    return last is None or now - last >= TOUCH_INTERVAL


def _from_token(identity: _Identity, token: str) -> AuthenticatedPrincipal:
    token_id = credentials.token_id_of(token)
    record = identity.repository.token_record(token_id) if token_id else None
    g.claimed = f"token:{record[0].name}" if record is not None else None  # for the audit of a refusal
    if record is None or not credentials.token_matches(record[1], token):
        raise _challenge("Das API-Token ist ungültig.", invalid_token=True)
    api_token = record[0]
    now = utcnow()
    if api_token.revoked_at is not None:
        raise _challenge(f"Das API-Token {api_token.name!r} wurde widerrufen.", invalid_token=True)
    if api_token.expires_at is not None and api_token.expires_at <= now:
        raise _challenge(f"Das API-Token {api_token.name!r} ist abgelaufen.", invalid_token=True)
    if _stale(api_token.last_used_at, now):  # no write (no SQLite write lock) on most requests
        identity.repository.touch_token(api_token.id, now)
    return AuthenticatedPrincipal(
        f"token:{api_token.name}", frozenset(), kind="token", permissions=frozenset(api_token.scopes)
    )


def _from_basic(identity: _Identity, value: str) -> AuthenticatedPrincipal:
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise _challenge("Die Basic-Anmeldedaten sind nicht lesbar.") from None
    username, colon, password = decoded.partition(":")
    if not colon:
        raise _challenge("Die Basic-Anmeldedaten sind nicht lesbar.")
    g.claimed = username[:64]  # for the audit of a refusal
    record = identity.repository.login_record(username) if len(username) <= 64 else None
    user, password_hash = record if record is not None else (None, None)
    # an unknown or disabled user costs one argon2 verification like a wrong password
    usable_hash = password_hash if user is not None and user.active else None
    if not identity.checker.verify(usable_hash, password) or user is None or password_hash is None:
        raise _challenge("Benutzername oder Passwort falsch, oder der Benutzer ist gesperrt.")
    if identity.checker.needs_rehash(password_hash):  # argon2 parameters raised since it was set
        identity.repository.replace_password_hash(user.username, password_hash, credentials.HASHER.hash(password))
    now = utcnow()
    if _stale(user.last_login_at, now):
        identity.repository.touch_login(user.username, now)
    return AuthenticatedPrincipal(
        user.username, frozenset({user.role}), kind="user", permissions=ROLES.get(user.role, frozenset())
    )


def _authenticate_users(services: Any) -> AuthenticatedPrincipal:
    header = request.headers.get("Authorization", "").strip()
    if not header:
        if request.endpoint in PUBLIC_ENDPOINTS:
            return ANONYMOUS
        raise _challenge(
            "Anmeldung erforderlich: API-Token (Authorization: Bearer dms_…) oder Benutzername und Passwort (Basic)."
        )
    if len(header) > MAX_CREDENTIAL:
        raise _challenge("Die Anmeldedaten sind zu lang.")
    scheme, _, value = header.partition(" ")
    scheme, value = scheme.lower(), value.strip()
    if scheme == "bearer":
        return _from_token(_identity(services), value)
    if scheme == "basic":
        return _from_basic(_identity(services), value)
    raise _challenge(f"Anmeldeverfahren {scheme!r} wird nicht unterstützt: Bearer oder Basic.")


def authenticate(services: Any) -> Principal:
    mode = services.settings.auth_mode
    if mode == "local":
        return LOCAL_ADMIN
    if mode == "users":
        return _authenticate_users(services)
    raise Unauthorized(f"Anmeldeverfahren DMS_AUTH_MODE={mode!r} ist nicht eingerichtet.")


def load_principal(services: Any) -> None:
    g.principal = authenticate(services)


def current_principal() -> Principal:
    principal = getattr(g, "principal", None)
    if principal is None:
        raise Unauthorized("Nicht angemeldet.")
    return principal


# --- authorisation -------------------------------------------------------------------------


def require(permission: str) -> Principal:
    principal = current_principal()
    if getattr(principal, "kind", None) == "anonymous":
        raise _challenge(f"Anmeldung erforderlich ({permission}).")
    if not principal.can(permission):
        raise missing_permission(principal, permission)
    return principal


# --- the audit of refusals ---------------------------------------------------------------------


def record_refusal(response: Response) -> None:
    """Record a request answered 401 (failed login: actor `anonymous`, the name or token it
    claimed in `claimed`) or 403 (refused: actor the principal, and the missing permission).

    Called for every 401/403 response (dms.web.context). A catalog that cannot take the entry
    does not turn the refusal into a 500: it is logged."""
    from dms.app.audit import record_as

    principal = getattr(g, "principal", None)
    refused = response.status_code == 403 and principal is not None
    body = response.get_json(silent=True) if response.is_json else None
    error = body.get("error") or {} if isinstance(body, dict) else {}
    view_args = request.view_args or {}
    details: dict[str, Any] = {
        "status": response.status_code, "method": request.method, "path": request.path[:500],
        "code": error.get("code"), "reason": str(error.get("message") or "")[:500],
    }
    if error.get("missing_permission"):
        details["missing_permission"] = error["missing_permission"]
    if not refused and g.get("claimed"):
        details["claimed"] = g.claimed
    try:
        record_as(
            current_app.extensions["dms"], principal.name if refused else "anonymous",
            "access.denied" if refused else "auth.failed", "request", request.endpoint,
            customer_number=view_args.get("number"), document_id=view_args.get("document_id"), **details,
        )
    except Exception:  # the refusal stands; only its entry is missing
        log.exception("audit entry of a refused request could not be written")
