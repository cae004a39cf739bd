"""The one place every API request is authenticated and authorised.

`DMS_AUTH_MODE` decides how:

- `local` (the embedded default): no authentication, every caller is the local administrator.
  Only safe on a loopback address, so `dms serve` refuses any other (`check_listen_address`).
- `users`: `Authorization: Bearer dms_…` (an API token, see `dms tokens`) or HTTP Basic with the
  name and password of an active user (see `dms users`). No, an unknown, wrong, revoked or
  expired credential → 401 with `WWW-Authenticate`; a credential without the permission an
  endpoint needs → 403 naming the missing permission (`require`).

The web client (`dms.web.ui`) signs in at `/login` (`web_login`) and gets a server-side session
in an HttpOnly cookie (`dms.identity.sessions`). A request without `Authorization` but with a
live session cookie is that user, on the pages and on the API alike; any non-GET request
authenticated by the cookie must carry the session's CSRF token (form field `csrf_token` or
header `X-CSRF-Token`), else 403 `csrf_failed` (`check_csrf`). In `local` mode the pages get a
session of the local administrator without a login (for the CSRF token).

The permissions of roles and the meaning of scopes are in `dms.identity.roles`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import logging
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from flask import after_this_request, current_app, g, request

from dms.app.principal import Principal
from dms.errors import Forbidden, TooManyRequests, Unauthorized, ValidationError
from dms.identity import credentials
from dms.identity.repository import TOUCH_INTERVAL, IdentityRepository, utcnow
from dms.identity.roles import PERMISSIONS, ROLES, grants, missing_permission
from dms.identity.sessions import LoginThrottle, SessionStore, WebSession

if TYPE_CHECKING:
    from flask import Response

__all__ = [
    "AUTH_MODES", "LOCAL_ADMIN", "SESSION_COOKIE", "AuthenticatedPrincipal", "Principal", "authenticate",
    "check_csrf", "check_listen_address", "current_principal", "load_principal", "load_web_principal",
    "require", "web_login", "web_logout",
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
    sessions: SessionStore
    throttle: LoginThrottle


_IDENTITY = "dms.identity"
_identity_lock = threading.Lock()


def _identity(services: Any) -> _Identity:
    """The identity repository (on the catalog's engine) and the password checker, once per app."""
    identity = current_app.extensions.get(_IDENTITY)
    if identity is None:
        with _identity_lock:
            identity = current_app.extensions.get(_IDENTITY)
            if identity is None:
                web = services.settings.web
                engine = services.catalog.engine
                identity = _Identity(
                    IdentityRepository.for_catalog(services.catalog), credentials.PasswordChecker(),
                    SessionStore(engine, idle=timedelta(minutes=float(web.get("idle_minutes", 30))),
                                 lifetime=timedelta(hours=float(web.get("session_hours", 12)))),
                    LoginThrottle(engine, max_failures=int(web.get("login_max_failures", 5)),
                                  window=timedelta(minutes=float(web.get("login_window_minutes", 15)))),
                )
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
        f"token:{api_token.name}", frozenset(), kind="token", permissions=frozenset(api_token.scopes),
        branches=frozenset(api_token.branches),
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
    return _user_principal(user)


def _authenticate_users(services: Any) -> AuthenticatedPrincipal:
    header = request.headers.get("Authorization", "").strip()
    if not header:
        from_cookie = _from_session(services)
        if from_cookie is not None:
            if request.method not in SAFE_METHODS:
                check_csrf()
            return from_cookie
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


# --- web client sessions ----------------------------------------------------------------------

SESSION_COOKIE = "dms_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _user_principal(user: Any) -> AuthenticatedPrincipal:
    return AuthenticatedPrincipal(
        user.username, frozenset({user.role}), kind="user", permissions=ROLES.get(user.role, frozenset()),
        branches=frozenset(user.branches),
    )


def session_cookie_secure(services: Any) -> bool:
    setting = services.settings.web.get("cookie_secure", "auto")
    if isinstance(setting, bool):
        return setting
    if str(setting).lower() in ("true", "1", "yes"):
        return True
    if str(setting).lower() in ("false", "0", "no"):
        return False
    # auto: Secure, except for plain http to a loopback address (a laptop without TLS)
    return request.is_secure or not _is_loopback(request.host.rsplit(":", 1)[0] if "]" not in request.host
                                                  else request.host.split("]")[0] + "]")


def _set_session_cookie(services: Any, secret: str | None) -> None:
    secure = session_cookie_secure(services)
    max_age = int(float(services.settings.web.get("session_hours", 12)) * 3600)

    @after_this_request
    def _cookie(response: Response) -> Response:
        if secret is None:
            response.delete_cookie(SESSION_COOKIE, path="/", secure=secure, httponly=True, samesite="Lax")
        else:
            response.set_cookie(SESSION_COOKIE, secret, max_age=max_age, path="/", secure=secure, httponly=True,
                                samesite="Lax")
        return response


def _from_session(services: Any) -> AuthenticatedPrincipal | None:
    """The user of a live session cookie (also sets `g.web_session`), or None."""
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        return None
    identity = _identity(services)
    session, why = identity.sessions.find(secret)
    if session is None:
        g.session_expired = why == "expired"
        return None
    if session.username == LOCAL_ADMIN.name and services.settings.auth_mode == "local":
        g.web_session = session
        return LOCAL_ADMIN
    record = identity.repository.login_record(session.username)
    if record is None or not record[0].active:  # disabled or removed since: the session is over
        identity.sessions.destroy(secret)
        return None
    g.web_session = session
    return _user_principal(record[0])


def load_web_principal(services: Any) -> AuthenticatedPrincipal | None:
    """The principal of a web client page (sets `g.principal`), or None: sign in first.

    In `local` mode a page without a session gets a new one of the local administrator."""
    g.principal = None
    if services.settings.auth_mode not in AUTH_MODES:
        raise Unauthorized(f"Anmeldeverfahren DMS_AUTH_MODE={services.settings.auth_mode!r} ist nicht eingerichtet.")
    principal = _from_session(services)
    if principal is None and services.settings.auth_mode == "local":
        secret, session = _identity(services).sessions.create(
            LOCAL_ADMIN.name, ip=request.remote_addr, user_agent=request.headers.get("User-Agent"))
        _set_session_cookie(services, secret)
        g.web_session = session
        principal = LOCAL_ADMIN
    g.principal = principal
    return principal


def check_csrf() -> None:
    """403 `csrf_failed` unless the request carries this session's CSRF token."""
    session: WebSession | None = getattr(g, "web_session", None)
    sent = request.headers.get(CSRF_HEADER) or ""
    if not sent and request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        sent = request.form.get(CSRF_FIELD) or ""
    if session is None or not sent or not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
        raise Forbidden("Die Anfrage wurde abgewiesen: das CSRF-Token fehlt oder ist ungültig. Bitte die Seite "
                        "neu laden und erneut versuchen.", code="csrf_failed")


def check_same_origin() -> None:
    """403 `csrf_failed` when a browser says the request comes from another site (Origin or Referer)."""
    from urllib.parse import urlsplit

    sent = request.headers.get("Origin") or request.headers.get("Referer")
    if sent and sent != "null" and urlsplit(sent).netloc != request.host:
        raise Forbidden("Die Anfrage kommt von einer anderen Seite und wurde abgewiesen.", code="csrf_failed")


def web_login(services: Any, username: str, password: str) -> AuthenticatedPrincipal:
    """Sign a browser in: check the password (with the login rate limit) and start a session."""
    identity = _identity(services)
    username = username.strip().lower()[:64]
    keys = [f"user:{username}", f"ip:{request.remote_addr or '-'}"]
    g.claimed = username
    locked = identity.throttle.locked_until(keys)
    if locked is not None:
        minutes = max(1, int((locked - utcnow()).total_seconds() // 60) + 1)
        raise TooManyRequests(
            f"Zu viele fehlgeschlagene Anmeldungen. Bitte in {minutes} Minute(n) erneut versuchen.",
            retry_after=minutes * 60,
        )
    record = identity.repository.login_record(username) if username else None
    user, password_hash = record if record is not None else (None, None)
    usable_hash = password_hash if user is not None and user.active else None
    if not identity.checker.verify(usable_hash, password) or user is None or password_hash is None:
        identity.throttle.failed(keys)
        raise Unauthorized("Benutzername oder Passwort falsch, oder der Benutzer ist gesperrt.")
    identity.throttle.succeeded(keys)
    if identity.checker.needs_rehash(password_hash):
        identity.repository.replace_password_hash(user.username, password_hash, credentials.HASHER.hash(password))
    identity.repository.touch_login(user.username, utcnow())
    secret, session = identity.sessions.create(
        user.username, ip=request.remote_addr, user_agent=request.headers.get("User-Agent"))
    _set_session_cookie(services, secret)
    g.web_session = session
    g.principal = _user_principal(user)
    return g.principal


def web_logout(services: Any) -> None:
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        _identity(services).sessions.destroy(secret)
    _set_session_cookie(services, None)


def end_user_sessions(services: Any, username: str) -> int:
    """End every web session of a user (after disabling them or resetting their password)."""
    return _identity(services).sessions.destroy_user(username)


# --- authorisation -------------------------------------------------------------------------


def require(permission: str) -> Principal:
    principal = current_principal()
    if getattr(principal, "kind", None) == "anonymous":
        raise _challenge(f"Anmeldung erforderlich ({permission}).")
    if not principal.can(permission):
        raise missing_permission(principal, permission)
    return principal
