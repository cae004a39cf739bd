"""Web client sessions and the login rate limit, in the catalog database.

A session is a random secret in an HttpOnly cookie; only its sha256 is stored, with the user, the
session's CSRF token and when it was last used. `SessionStore.find` returns a session only while
it is neither idle for longer than the idle timeout nor older than its absolute lifetime; the
user's current role and active flag are read by the caller on every request, so disabling a user
or changing a role takes effect at once.

Failed logins are counted per user name and per client address (`LoginThrottle`); after
`max_failures` within `window`, further attempts for that key are refused until the window has
passed, the right password included.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from dms.identity.models import LoginFailureRow, WebSessionRow
from dms.identity.repository import TOUCH_INTERVAL, aware, utcnow


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class WebSession:
    id: str
    username: str
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime


class SessionStore:
    def __init__(self, engine: Engine, *, idle: timedelta, lifetime: timedelta) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.idle = idle
        self.lifetime = lifetime

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self._sessions.begin() as s:
            yield s

    def create(self, username: str, *, ip: str | None, user_agent: str | None) -> tuple[str, WebSession]:
        """A new session: the cookie's secret (only returned here) and its record."""
        secret = secrets.token_urlsafe(32)
        now = utcnow()
        row = WebSessionRow(
            id=_digest(secret), username=username, csrf_token=secrets.token_urlsafe(32), created_at=now,
            last_seen_at=now, ip=(ip or "")[:64] or None, user_agent=(user_agent or "")[:500] or None,
        )
        with self._session() as s:
            s.add(row)
            # a cheap clean-up of this user's dead sessions on every login
            s.execute(delete(WebSessionRow).where(
                WebSessionRow.username == username, WebSessionRow.last_seen_at < now - self.idle,
            ))
        return secret, self._record(row)

    def find(self, secret: str) -> tuple[WebSession | None, str | None]:
        """The live session of a cookie's secret, or (None, why): "expired" (idle or too old) or "unknown"."""
        if not secret or len(secret) > 128:
            return None, "unknown"
        key = _digest(secret)
        now = utcnow()
        with self._session() as s:
            row = s.get(WebSessionRow, key)
            if row is None:
                return None, "unknown"
            last_seen, created = aware(row.last_seen_at), aware(row.created_at)
            assert last_seen is not None and created is not None
            if now - last_seen > self.idle or now - created > self.lifetime:
                s.delete(row)
                return None, "expired"
            if now - last_seen >= TOUCH_INTERVAL:  # not a write on every request
                s.execute(update(WebSessionRow).where(WebSessionRow.id == key).values(last_seen_at=now))
                row.last_seen_at = now
            return self._record(row), None

    def destroy(self, secret: str) -> None:
        with self._session() as s:
            s.execute(delete(WebSessionRow).where(WebSessionRow.id == _digest(secret)))

    def destroy_user(self, username: str) -> int:
        """End every session of a user (disabled, password reset)."""
        with self._session() as s:
            return s.execute(delete(WebSessionRow).where(WebSessionRow.username == username)).rowcount or 0

    @staticmethod
    def _record(row: WebSessionRow) -> WebSession:
        created, last_seen = aware(row.created_at), aware(row.last_seen_at)
        assert created is not None and last_seen is not None
        return WebSession(row.id, row.username, row.csrf_token, created, last_seen)


class LoginThrottle:
    def __init__(self, engine: Engine, *, max_failures: int, window: timedelta) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.max_failures = max_failures
        self.window = window

    def locked_until(self, keys: list[str]) -> datetime | None:
        """The latest time until which one of `keys` is locked, or None."""
        now = utcnow()
        with self._sessions() as s:
            rows = s.scalars(select(LoginFailureRow).where(LoginFailureRow.key.in_(keys))).all()
        until = [aware(row.locked_until) for row in rows if row.locked_until is not None]
        live = [value for value in until if value is not None and value > now]
        return max(live) if live else None

    def failed(self, keys: list[str]) -> None:
        now = utcnow()
        with self._sessions.begin() as s:
            for key in keys:
                row = s.get(LoginFailureRow, key)
                first = aware(row.first_at) if row is not None else None
                if row is None or first is None or now - first > self.window:
                    s.merge(LoginFailureRow(key=key, failures=1, first_at=now, locked_until=None))
                    continue
                row.failures += 1
                if row.failures >= self.max_failures:
                    row.locked_until = now + self.window

    def succeeded(self, keys: list[str]) -> None:
        with self._sessions.begin() as s:
            s.execute(delete(LoginFailureRow).where(LoginFailureRow.key.in_(keys)))
