"""Command line for users and API tokens: `dms users …`, `dms tokens …` (registered by `register`).

Secrets never come from the command line: a password is read from an interactive prompt
(with confirmation) or, when stdin is not a terminal, from its first line; a token is printed
once, alone on stdout (`TOKEN=$(dms tokens create …)`), and only its hash is stored.
"""

from __future__ import annotations

import sys
from datetime import datetime

import click

from dms.config import Settings
from dms.errors import DmsError, ValidationError
from dms.identity.repository import IdentityRepository
from dms.identity.roles import PERMISSIONS, ROLES

ACTOR = "cli"


def register(main: click.Group) -> None:
    """Add the `users` and `tokens` groups to the main command group."""
    main.add_command(users)
    main.add_command(tokens)


def _fail(exc: DmsError) -> None:
    click.secho(f"Fehler [{exc.code}]: {exc.message}", fg="red", err=True)
    sys.exit(1)


def refuse_unsafe_listen(host: str, auth_mode: str) -> None:
    """For `dms serve`: exit with the reason when the mode is unknown or `local` is asked to listen beyond loopback."""
    from dms.web.auth import check_listen_address

    try:
        check_listen_address(host, auth_mode)
    except DmsError as exc:
        _fail(exc)


def _repository() -> IdentityRepository:
    from dms.app.services import open_catalog

    settings = Settings.from_env()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return IdentityRepository.for_catalog(open_catalog(settings))


def _branches(names: tuple[str, ...]) -> list[str]:
    """The branch names, each one of `[customers] branches` (else a ValidationError naming them)."""
    from dms.customer_config import customer_config

    configured = customer_config(Settings.from_env()).branches
    unknown = [name for name in names if name not in configured]
    if unknown:
        raise ValidationError(f"Unbekannte Filiale {unknown[0]!r}: konfiguriert sind {', '.join(configured)}.",
                              field="branches")
    return list(names)


def _when(value: datetime | None, never: str = "-") -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else never


# --- users -----------------------------------------------------------------------------------


@click.group()
def users() -> None:
    """Manage users (name, role, password) for DMS_AUTH_MODE=users."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(list(ROLES)), required=True, help="admin, clerk or auditor.")
@click.option("--display-name", help="Full name (default: the user name).")
@click.option("--branch", "branches", multiple=True,
              help="A branch (Filiale) whose customers the user sees with branch scoping (repeatable).")
def users_add(name: str, role: str, display_name: str | None, branches: tuple[str, ...]) -> None:
    """Create an active user without a password (set one with `dms users passwd NAME`)."""
    try:
        user = _repository().add_user(name, role, display_name=display_name, actor=ACTOR,
                                      branches=_branches(branches))
    except DmsError as exc:
        _fail(exc)
    click.echo(f"{user.username}\t{user.role}\t{user.display_name}")
    click.echo(f"Passwort setzen mit: dms users passwd {user.username}", err=True)


@users.command("list")
def users_list() -> None:
    """List users: name, role, state, password set, created, last login."""
    for user in _repository().list_users():
        state = "aktiv" if user.active else "gesperrt"
        password = "Passwort" if user.has_password else "kein Passwort"
        click.echo(
            f"{user.username}\t{user.display_name}\t{user.role}\t{state}\t{password}\t"
            f"{', '.join(user.branches) or '-'}\t"
            f"angelegt {_when(user.created_at)}\tzuletzt {_when(user.last_login_at, 'nie')}"
        )


@users.command("branches")
@click.argument("name")
@click.argument("branches", nargs=-1)
def users_branches(name: str, branches: tuple[str, ...]) -> None:
    """Set the branches (Filialen) of a user: every one given replaces the old ones (none: no branch)."""
    try:
        user = _repository().set_branches(name, _branches(branches), actor=ACTOR)
    except DmsError as exc:
        _fail(exc)
    click.echo(f"{user.username}\t{', '.join(user.branches) or 'keine Filiale'}")


@users.command("disable")
@click.argument("name")
def users_disable(name: str) -> None:
    """Lock a user out (kept for the audit trail; `dms users enable` lets them in again)."""
    try:
        user = _repository().set_active(name, False, actor=ACTOR)
    except DmsError as exc:
        _fail(exc)
    click.echo(f"{user.username} gesperrt")


@users.command("enable")
@click.argument("name")
def users_enable(name: str) -> None:
    """Let a disabled user in again."""
    try:
        user = _repository().set_active(name, True, actor=ACTOR)
    except DmsError as exc:
        _fail(exc)
    click.echo(f"{user.username} aktiv")


def _read_password() -> str:
    if sys.stdin.isatty():
        return click.prompt("Neues Passwort", hide_input=True, confirmation_prompt="Passwort wiederholen")
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


@users.command("passwd")
@click.argument("name")
def users_passwd(name: str) -> None:
    """Set a user's password: prompted twice, or the first line of stdin when it is not a terminal."""
    try:
        repository = _repository()
        repository.get_user(name)  # an unknown user fails before the prompt
        password = _read_password()
        if not password:
            raise ValidationError("Kein Passwort angegeben.", field="password")
        user = repository.set_password(name, password, actor=ACTOR)
    except DmsError as exc:
        _fail(exc)
    click.echo(f"Passwort für {user.username} gesetzt")


# --- API tokens ------------------------------------------------------------------------------


@click.group()
def tokens() -> None:
    """Manage API tokens for other systems (DMS_AUTH_MODE=users)."""


@tokens.command("create")
@click.option("--name", required=True, help="Name of the token, e.g. the calling system (erp).")
@click.option("--scope", "scopes", multiple=True, required=True, type=click.Choice(list(PERMISSIONS)),
              help="Permission of the token (repeatable).")
@click.option("--expires", help="Valid for 365d, 12w, 1y, 48h or until a date (2027-12-31). Default: no expiry.")
@click.option("--branch", "branches", multiple=True,
              help="A branch (Filiale) whose customers the token sees with branch scoping (repeatable).")
def tokens_create(name: str, scopes: tuple[str, ...], expires: str | None, branches: tuple[str, ...]) -> None:
    """Create a token and print it once (only its hash is stored)."""
    from dms.identity.credentials import parse_expiry

    try:
        record, token = _repository().create_token(name, scopes, expires_at=parse_expiry(expires), actor=ACTOR,
                                                   branches=_branches(branches))
    except DmsError as exc:
        _fail(exc)
    click.echo(
        f"Token {record.name} angelegt (Scopes: {', '.join(record.scopes)}; gültig bis "
        f"{_when(record.expires_at, 'unbegrenzt')}). Es wird nur dieses eine Mal angezeigt:",
        err=True,
    )
    click.echo(token)


@tokens.command("list")
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked tokens.")
def tokens_list(include_revoked: bool) -> None:
    """List tokens: name, scopes, created, last used, expiry (never the token itself)."""
    for token in _repository().list_tokens(include_revoked=include_revoked):
        state = f"\twiderrufen {_when(token.revoked_at)}" if token.revoked_at else ""
        click.echo(
            f"{token.name}\t{','.join(token.scopes)}\tangelegt {_when(token.created_at)}\t"
            f"zuletzt {_when(token.last_used_at, 'nie')}\tgültig bis {_when(token.expires_at, 'unbegrenzt')}{state}"
        )


@tokens.command("revoke")
@click.argument("name")
def tokens_revoke(name: str) -> None:
    """Revoke the valid token of that name at once."""
    try:
        token = _repository().revoke_token(name, actor=ACTOR)
    except DmsError as exc:
        _fail(exc)
    click.echo(f"Token {token.name} widerrufen")
