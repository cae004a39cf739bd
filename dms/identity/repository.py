"""Users and API tokens in the catalog database.

Works on the catalog's engine (`IdentityRepository.for_catalog(catalog)`), with its own
sessions, and returns plain records, never ORM rows. Every change is written to the audit log
in the same transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, or_, select, update
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from dms.catalog.audit import append_entry
from dms.errors import BackendUnavailable, Conflict, NotFound, ValidationError
from dms.identity import credentials
from dms.identity.models import ApiTokenRow, UserRow
from dms.identity.roles import PERMISSIONS, ROLES

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")
TOKEN_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# last_login_at / last_used_at are written at most this often per user or token, so that every
# authenticated GET does not become a database write
TOUCH_INTERVAL = timedelta(seconds=60)
MAX_BRANCH = 64  # as `customers.branch`
MAX_BRANCHES = 100


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class User:
    username: str
    display_name: str
    role: str
    active: bool
    has_password: bool
    created_at: datetime
    last_login_at: datetime | None
    branches: tuple[str, ...] = ()

    @classmethod
    def from_row(cls, row: UserRow) -> User:
        return cls(
            username=row.username, display_name=row.display_name, role=row.role, active=row.active,
            has_password=row.password_hash is not None, created_at=aware(row.created_at),  # type: ignore[arg-type]
            last_login_at=aware(row.last_login_at), branches=tuple(row.branches or ()),
        )


@dataclass(frozen=True)
class ApiToken:
    id: str
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    branches: tuple[str, ...] = ()

    @classmethod
    def from_row(cls, row: ApiTokenRow) -> ApiToken:
        return cls(
            id=row.id, name=row.name, scopes=tuple(row.scopes), created_at=aware(row.created_at),  # type: ignore[arg-type]
            created_by=row.created_by, expires_at=aware(row.expires_at), last_used_at=aware(row.last_used_at),
            revoked_at=aware(row.revoked_at), branches=tuple(row.branches or ()),
        )

    def usable(self, now: datetime | None = None) -> bool:
        now = now or utcnow()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


def normalise_username(username: str) -> str:
    return (username or "").strip().lower()


def branch_names(branches: list[str] | tuple[str, ...]) -> list[str]:
    """Branch names as stored (trimmed, each once, sorted); which names exist is the configuration's
    business (`[customers] branches`), checked by the caller."""
    names = sorted({str(b).strip() for b in branches if str(b).strip()})
    if any(len(name) > MAX_BRANCH for name in names) or len(names) > MAX_BRANCHES:
        raise ValidationError(f"Höchstens {MAX_BRANCHES} Filialen mit je höchstens {MAX_BRANCH} Zeichen.",
                              field="branches")
    return names


class IdentityRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def for_catalog(cls, catalog: Any) -> IdentityRepository:
        """On the catalog's engine, whatever else the catalog object looks like."""
        return cls(catalog.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        try:
            with self._sessions() as session, session.begin():
                yield session
        except (OperationalError, InterfaceError) as exc:
            raise BackendUnavailable(f"Katalog nicht erreichbar: {exc.orig}") from exc

    @staticmethod
    def _audit(s: Session, actor: str, action: str, object_type: str, object_id: str, **details: Any) -> None:
        append_entry(s, actor, action, object_type, object_id, details=details)

    # --- users ----------------------------------------------------------------------------

    def add_user(self, username: str, role: str, *, display_name: str | None = None, actor: str = "cli",
                 branches: list[str] | tuple[str, ...] = ()) -> User:
        username = normalise_username(username)
        if not USERNAME_RE.match(username):
            raise ValidationError(
                f"Ungültiger Benutzername {username!r}: Kleinbuchstaben, Ziffern und . _ @ - (höchstens 64).",
                field="username",
            )
        if role not in ROLES:
            raise ValidationError(f"Unbekannte Rolle {role!r}: erlaubt sind {', '.join(ROLES)}.", field="role")
        display_name = (display_name or "").strip()[:200] or username
        names = branch_names(branches)
        row = UserRow(username=username, display_name=display_name, role=role, active=True, password_hash=None,
                      created_at=utcnow(), last_login_at=None, branches=names or None)
        try:
            with self.session() as s:
                if s.scalar(select(UserRow.id).where(UserRow.username == username)) is not None:
                    raise Conflict(f"Den Benutzer {username!r} gibt es bereits.", code="user_exists")
                s.add(row)
                s.flush()
                self._audit(s, actor, "user.create", "user", username, role=role,
                            **({"branches": names} if names else {}))
        except IntegrityError as exc:  # a parallel add of the same name
            raise Conflict(f"Den Benutzer {username!r} gibt es bereits.", code="user_exists") from exc
        return User.from_row(row)

    def _user_row(self, s: Session, username: str) -> UserRow:
        row = s.scalar(select(UserRow).where(UserRow.username == normalise_username(username)))
        if row is None:
            raise NotFound(f"Unbekannter Benutzer {username!r}.", code="user_not_found")
        return row

    def get_user(self, username: str) -> User:
        with self.session() as s:
            return User.from_row(self._user_row(s, username))

    def list_users(self) -> list[User]:
        with self.session() as s:
            return [User.from_row(row) for row in s.scalars(select(UserRow).order_by(UserRow.username))]

    def set_active(self, username: str, active: bool, *, actor: str = "cli") -> User:
        with self.session() as s:
            row = self._user_row(s, username)
            row.active = active
            self._audit(s, actor, "user.enable" if active else "user.disable", "user", row.username)
            return User.from_row(row)

    def set_role(self, username: str, role: str, *, actor: str = "cli") -> User:
        """Give a user another role (audited `user.role` with old and new); the same role changes nothing."""
        if role not in ROLES:
            raise ValidationError(f"Unbekannte Rolle {role!r}: erlaubt sind {', '.join(ROLES)}.", field="role")
        with self.session() as s:
            row = self._user_row(s, username)
            if row.role != role:
                old, row.role = row.role, role
                self._audit(s, actor, "user.role", "user", row.username, old={"role": old}, new={"role": role})
            return User.from_row(row)

    def set_branches(self, username: str, branches: list[str] | tuple[str, ...], *, actor: str = "cli") -> User:
        """The branches whose customers the user sees (audited `user.branches` with old and new)."""
        names = branch_names(branches)
        with self.session() as s:
            row = self._user_row(s, username)
            old = list(row.branches or [])
            if old != names:
                row.branches = names or None
                self._audit(s, actor, "user.branches", "user", row.username, old={"branches": old},
                            new={"branches": names})
            return User.from_row(row)

    def set_password(self, username: str, password: str, *, actor: str = "cli") -> User:
        password_hash = credentials.hash_password(password)  # outside the transaction: it takes a while
        with self.session() as s:
            row = self._user_row(s, username)
            row.password_hash = password_hash
            self._audit(s, actor, "user.password", "user", row.username)
            return User.from_row(row)

    def login_record(self, username: str) -> tuple[User, str | None] | None:
        """The user and its password hash, for authentication only; None if there is no such user."""
        with self.session() as s:
            row = s.scalar(select(UserRow).where(UserRow.username == normalise_username(username)))
            return None if row is None else (User.from_row(row), row.password_hash)

    def replace_password_hash(self, username: str, old_hash: str, new_hash: str) -> None:
        """After a login with outdated argon2 parameters (only if nobody changed it meanwhile)."""
        with self.session() as s:
            s.execute(update(UserRow).where(UserRow.username == username, UserRow.password_hash == old_hash)
                      .values(password_hash=new_hash))

    def touch_login(self, username: str, now: datetime | None = None) -> None:
        now = now or utcnow()
        with self.session() as s:
            s.execute(
                update(UserRow)
                .where(UserRow.username == username,
                       or_(UserRow.last_login_at.is_(None), UserRow.last_login_at < now - TOUCH_INTERVAL))
                .values(last_login_at=now)
            )

    # --- API tokens -----------------------------------------------------------------------

    def create_token(
        self, name: str, scopes: list[str] | tuple[str, ...], *, expires_at: datetime | None = None,
        actor: str = "cli", branches: list[str] | tuple[str, ...] = (),
    ) -> tuple[ApiToken, str]:
        """A new token; returns its record and the token itself, which is shown once and never stored."""
        name = (name or "").strip()
        if not TOKEN_NAME_RE.match(name):
            raise ValidationError(
                f"Ungültiger Tokenname {name!r}: Buchstaben, Ziffern und . _ - (höchstens 64).", field="name"
            )
        scopes = sorted(set(scopes))
        unknown = [scope for scope in scopes if scope not in PERMISSIONS]
        if unknown or not scopes:
            raise ValidationError(
                f"Ungültige Scopes {unknown or '(keine)'}: erlaubt sind {', '.join(PERMISSIONS)}.", field="scope"
            )
        names = branch_names(branches)
        token_id, token = credentials.new_token()
        row = ApiTokenRow(
            id=token_id, name=name, scopes=scopes, secret_hash=credentials.hash_token(token), created_at=utcnow(),
            created_by=actor, expires_at=expires_at, last_used_at=None, revoked_at=None, branches=names or None,
        )
        with self.session() as s:
            active = s.scalar(select(ApiTokenRow.id).where(ApiTokenRow.name == name, ApiTokenRow.revoked_at.is_(None)))
            if active is not None:
                raise Conflict(f"Es gibt bereits ein gültiges Token {name!r}; erst widerrufen.", code="token_exists")
            s.add(row)
            s.flush()
            self._audit(s, actor, "token.create", "token", name, scopes=scopes, token_id=token_id,
                        expires_at=expires_at.isoformat() if expires_at else None,
                        **({"branches": names} if names else {}))
        return ApiToken.from_row(row), token

    def list_tokens(self, *, include_revoked: bool = False) -> list[ApiToken]:
        query = select(ApiTokenRow).order_by(ApiTokenRow.name, ApiTokenRow.created_at)
        if not include_revoked:
            query = query.where(ApiTokenRow.revoked_at.is_(None))
        with self.session() as s:
            return [ApiToken.from_row(row) for row in s.scalars(query)]

    def revoke_token(self, name: str, *, actor: str = "cli") -> ApiToken:
        with self.session() as s:
            row = s.scalar(select(ApiTokenRow).where(ApiTokenRow.name == name, ApiTokenRow.revoked_at.is_(None)))
            if row is None:
                raise NotFound(f"Kein gültiges Token {name!r}.", code="token_not_found")
            row.revoked_at = utcnow()
            self._audit(s, actor, "token.revoke", "token", name, token_id=row.id)
            return ApiToken.from_row(row)

    def token_record(self, token_id: str) -> tuple[ApiToken, str] | None:
        """The token and its stored hash, for authentication only."""
        with self.session() as s:
            row = s.get(ApiTokenRow, token_id)
            return None if row is None else (ApiToken.from_row(row), row.secret_hash)

    def touch_token(self, token_id: str, now: datetime | None = None) -> None:
        now = now or utcnow()
        with self.session() as s:
            s.execute(
                update(ApiTokenRow)
                .where(ApiTokenRow.id == token_id,
                       or_(ApiTokenRow.last_used_at.is_(None), ApiTokenRow.last_used_at < now - TOUCH_INTERVAL))
                .values(last_used_at=now)
            )
