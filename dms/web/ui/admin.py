"""Admin pages: users (`/admin/benutzer`: add, disable/enable, reset password, role) and API tokens
(`/admin/tokens`: create, showing the secret once, revoke). Admins only (403 page for anyone else).

Every change goes through `IdentityRepository`, which audits it in the same transaction with the
admin as actor. Disabling a user or resetting a password ends that user's web sessions. An admin
cannot disable or demote themself, and the last active admin cannot be disabled or demoted.
"""

from __future__ import annotations

from datetime import timedelta

from flask import redirect, request

from dms.app.principal import ADMIN
from dms.customer_config import customer_config
from dms.errors import DmsError, Forbidden, ValidationError
from dms.identity.credentials import check_new_password
from dms.identity.repository import IdentityRepository, User, utcnow
from dms.identity.roles import PERMISSIONS, ROLES
from dms.web.auth import end_user_sessions
from dms.web.ui import ui_bp
from dms.web.ui.helpers import can, flash_error, flash_ok, page, principal, services

ACTIONS = ("sperren", "entsperren", "passwort", "rolle", "filialen")
SCOPE_LABELS = {
    "documents:read": "Dokumente lesen", "documents:write": "Dokumente hochladen und ändern",
    "customers:read": "Kunden lesen", "customers:write": "Kunden anlegen und ändern",
    "audit:read": "Protokoll lesen", "customers:bank": "Bankverbindungen (IBAN) vollständig sehen",
    "customers:all_branches": "Kunden aller Filialen sehen",
    "admin": "Administration (alles)",
}
MAX_TOKEN_DAYS = 3650


def _admin() -> None:
    if not can(ADMIN):
        raise Forbidden("Diese Seite ist nur für Administratoren.")


def _repository() -> IdentityRepository:
    return IdentityRepository.for_catalog(services().catalog)


def _actor() -> str:
    return principal().name


# --- users ------------------------------------------------------------------------------------


def _users_page(status: int = 200, **form: str):
    return page("ui/admin_users.html", users=_repository().list_users(), roles=list(ROLES), me=_actor(),
                form=form, branches=customer_config(services().settings).branches), status


def _chosen_branches() -> list[str]:
    """The branches ticked in the form, each a configured one."""
    configured = customer_config(services().settings).branches
    chosen = request.form.getlist("branches")
    unknown = [name for name in chosen if name not in configured]
    if unknown:
        raise ValidationError(f"Unbekannte Filiale {unknown[0][:64]!r}.", field="branches")
    return chosen


@ui_bp.get("/admin/benutzer")
def admin_users():
    _admin()
    return _users_page()


@ui_bp.post("/admin/benutzer")
def admin_add_user():
    _admin()
    username = (request.form.get("username") or "").strip()[:64]
    display_name = (request.form.get("display_name") or "").strip()[:200]
    role = request.form.get("role") or ""
    password = request.form.get("password") or ""
    repository = _repository()
    try:
        check_new_password(password)  # before the user exists: no user without a usable password
        user = repository.add_user(username, role, display_name=display_name or None, actor=_actor(),
                                   branches=_chosen_branches())
        repository.set_password(user.username, password, actor=_actor())
    except DmsError as exc:
        flash_error(exc.message)
        return _users_page(exc.http_status if exc.http_status < 500 else 400, username=username,
                           display_name=display_name, role=role)
    flash_ok(f"Benutzer {user.username} angelegt.")
    return redirect("/admin/benutzer")


def _last_active_admin(users: list[User], username: str) -> bool:
    admins = [u.username for u in users if u.role == "admin" and u.active]
    return admins == [username]


def _check_allowed(action: str, target: User, role: str | None, users: list[User]) -> None:
    """An admin keeps their own access, and some active admin always remains."""
    takes_admin = action == "sperren" or (action == "rolle" and target.role == "admin" and role != "admin")
    if not takes_admin:
        return
    if target.username == _actor():
        what = "sperren" if action == "sperren" else "die Administratorrolle entziehen"
        raise Forbidden(f"Sie können sich nicht selbst {what}.", code="self_change")
    if target.role == "admin" and target.active and _last_active_admin(users, target.username):
        raise ValidationError("Das ist der letzte aktive Administrator: erst einen anderen ernennen.",
                              code="last_admin")


def _apply(action: str, username: str) -> str:
    """Do one action on a user; returns the message for the page."""
    repository = _repository()
    users = repository.list_users()
    target = next((u for u in users if u.username == username), None)
    if target is None:
        raise ValidationError(f"Unbekannter Benutzer {username[:64]!r}.", code="user_not_found")
    role = (request.form.get("role") or request.form.get("rolle")) if action == "rolle" else None
    _check_allowed(action, target, role, users)
    if action in ("sperren", "entsperren"):
        repository.set_active(target.username, action == "entsperren", actor=_actor())
        if action == "sperren":
            end_user_sessions(services(), target.username)
            return f"Benutzer {target.username} gesperrt; seine Sitzungen sind beendet."
        return f"Benutzer {target.username} entsperrt."
    if action == "passwort":
        password = request.form.get("password") or request.form.get("passwort") or ""
        repository.set_password(target.username, password, actor=_actor())
        end_user_sessions(services(), target.username)
        return f"Passwort von {target.username} neu gesetzt; seine Sitzungen sind beendet."
    if action == "filialen":
        user = repository.set_branches(target.username, _chosen_branches(), actor=_actor())
        return f"Filialen von {target.username}: {', '.join(user.branches) or 'keine'}."
    repository.set_role(target.username, role or "", actor=_actor())
    return f"Rolle von {target.username} ist jetzt {role}."


@ui_bp.post("/admin/benutzer/<username>")
def admin_user_action(username: str):
    _admin()
    action = request.form.get("aktion") or ""
    if action not in ACTIONS:
        flash_error(f"Unbekannte Aktion: erlaubt sind {', '.join(ACTIONS)}.")
        return redirect("/admin/benutzer")
    try:
        flash_ok(_apply(action, username))
    except Forbidden:
        raise
    except DmsError as exc:
        if exc.http_status >= 500:
            raise
        flash_error(exc.message)
    return redirect("/admin/benutzer")


# --- API tokens -------------------------------------------------------------------------------


def _tokens_page(status: int = 200, *, new_token: str | None = None, created: str | None = None, **form: object):
    return page("ui/admin_tokens.html", tokens=_repository().list_tokens(include_revoked=True),
                permissions=PERMISSIONS, scope_labels=SCOPE_LABELS, new_token=new_token, created=created,
                form=form, now=utcnow()), status


@ui_bp.get("/admin/tokens")
def admin_tokens():
    _admin()
    return _tokens_page()


def _expiry_days(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_TOKEN_DAYS:
        raise ValidationError(f"Ablauf in Tagen: eine ganze Zahl von 1 bis {MAX_TOKEN_DAYS}, oder leer (unbegrenzt).",
                              field="expires")
    return int(text)


@ui_bp.post("/admin/tokens")
def admin_create_token():
    _admin()
    name = (request.form.get("name") or "").strip()[:64]
    scopes = [scope for scope in request.form.getlist("scopes") if scope in PERMISSIONS]
    days_text = (request.form.get("expires_days") or "")[:10]
    try:
        days = _expiry_days(days_text)
        expires = utcnow() + timedelta(days=days) if days else None
        record, secret = _repository().create_token(name, scopes, expires_at=expires, actor=_actor())
    except DmsError as exc:
        if exc.http_status >= 500:
            raise
        flash_error(exc.message)
        return _tokens_page(exc.http_status, name=name, scopes=scopes, expires_days=days_text)
    # shown this once (the page is sent with Cache-Control: no-store); only its hash is stored
    return _tokens_page(201, new_token=secret, created=record.name)


@ui_bp.post("/admin/tokens/<name>/widerrufen")
def admin_revoke_token(name: str):
    _admin()
    try:
        token = _repository().revoke_token(name, actor=_actor())
    except DmsError as exc:
        if exc.http_status >= 500:
            raise
        flash_error(exc.message)
        return redirect("/admin/tokens")
    flash_ok(f"Token {token.name} widerrufen.")
    return redirect("/admin/tokens")
