"""Idempotency keys: the first answer to a request, per caller and key, to replay it on a retry.

The key is claimed by inserting its row (primary key: principal + key) before the request is
answered, with `status` NULL; a second request with the same key finds the row: the same
request gets the stored answer (or 409 while the first one is still running), a different one
(other fingerprint) 422. The insert is the lock, on SQLite and PostgreSQL alike, across
processes and restarts. Expired rows are deleted lazily, whenever a key is claimed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from dms.catalog.convert import aware
from dms.catalog.engine import Database, utcnow
from dms.catalog.models import IdempotencyRow


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Claim:
    """What claiming a key found: `new` (go ahead), `replay` (`response`), `running` or `reused`."""

    outcome: str
    response: StoredResponse | None = None


class IdempotencyKeys:
    def __init__(self, db: Database) -> None:
        self.db = db

    def claim(
        self, principal: str, key: str, fingerprint: str, *, ttl: timedelta, abandoned_after: timedelta
    ) -> Claim:
        """Claim `key` for a request with `fingerprint`. A row older than `ttl` is gone; one still
        running after `abandoned_after` (its process died) is taken over."""
        now = utcnow()
        with self.db.session() as s:
            s.execute(delete(IdempotencyRow).where(IdempotencyRow.created_at < now - ttl))
        for _ in range(3):
            try:
                with self.db.session() as s:
                    s.add(IdempotencyRow(principal=principal, key=key, fingerprint=fingerprint, created_at=now))
                return Claim("new")
            except IntegrityError:
                pass
            with self.db.session() as s:
                row = s.get(IdempotencyRow, (principal, key))
                if row is None:
                    continue  # expired and deleted in between: claim again
                if row.fingerprint != fingerprint:
                    return Claim("reused")
                if row.status is not None:
                    return Claim("replay", StoredResponse(row.status, row.response_body or "",
                                                          dict(row.response_headers or {})))
                started = aware(row.created_at) or now
                if now - started < abandoned_after:
                    return Claim("running")
                taken = s.execute(
                    update(IdempotencyRow)
                    .where(IdempotencyRow.principal == principal, IdempotencyRow.key == key,
                           IdempotencyRow.status.is_(None), IdempotencyRow.created_at == row.created_at)
                    .values(created_at=now)
                    .execution_options(synchronize_session=False)
                )
                return Claim("new" if taken.rowcount == 1 else "running")
        return Claim("running")

    def complete(self, principal: str, key: str, status: int, body: str, headers: dict[str, Any]) -> None:
        with self.db.session() as s:
            s.execute(
                update(IdempotencyRow)
                .where(IdempotencyRow.principal == principal, IdempotencyRow.key == key)
                .values(status=status, response_body=body, response_headers=headers)
                .execution_options(synchronize_session=False)
            )

    def release(self, principal: str, key: str) -> None:
        """Forget a claim whose request failed in a way worth retrying (5xx): the next try runs again."""
        with self.db.session() as s:
            s.execute(
                delete(IdempotencyRow)
                .where(IdempotencyRow.principal == principal, IdempotencyRow.key == key,
                       IdempotencyRow.status.is_(None))
                .execution_options(synchronize_session=False)
            )
