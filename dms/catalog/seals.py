"""Seals of the audit trail: which entries were written to the WORM archive, as which object.

The archive is the reference (dms/app/audit_seal.py): these rows say what the catalog believes
was sealed, so that `dms audit verify` can tell a seal object that went missing from one whose
row was deleted. `add` is idempotent per key. The entry reads (`entries`, `head_id`) give the
audit rows in the form that is hashed (dms/catalog/audit_chain.py) plus their `hash`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from dms.catalog.audit_chain import FIELDS
from dms.catalog.convert import aware
from dms.catalog.engine import Database
from dms.catalog.models import AuditRow, AuditSealRow


@dataclass(frozen=True)
class Seal:
    """One seal object: entries `first_seq`..`last_seq` (ids, both included) and the chain head."""

    key: str
    version_id: str
    manifest_version_id: str
    first_seq: int
    last_seq: int
    count: int
    head_hash: str
    sha256: str
    retain_until: datetime
    mode: str
    sealed_at: datetime

    @property
    def manifest_key(self) -> str:
        return manifest_key(self.key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key, "version_id": self.version_id, "manifest_key": self.manifest_key,
            "manifest_version_id": self.manifest_version_id, "first_seq": self.first_seq,
            "last_seq": self.last_seq, "count": self.count, "head_hash": self.head_hash, "sha256": self.sha256,
            "retain_until": self.retain_until.isoformat(), "mode": self.mode, "sealed_at": self.sealed_at.isoformat(),
        }


def manifest_key(key: str) -> str:
    """`archive/audit/1-42.jsonl` → `archive/audit/1-42.manifest.json`."""
    return key.removesuffix(".jsonl") + ".manifest.json"


def _seal(row: AuditSealRow) -> Seal:
    return Seal(
        key=row.key, version_id=row.version_id, manifest_version_id=row.manifest_version_id,
        first_seq=row.first_seq, last_seq=row.last_seq, count=row.count, head_hash=row.head_hash,
        sha256=row.sha256, retain_until=aware(row.retain_until), mode=row.mode,  # type: ignore[arg-type]
        sealed_at=aware(row.sealed_at),  # type: ignore[arg-type]
    )


def _entry(row: AuditRow) -> dict[str, Any]:
    return {**{name: getattr(row, name) for name in FIELDS}, "hash": row.hash}


class AuditSeals:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, seal: Seal) -> Seal:
        """Record a seal; a seal with the same key already recorded is returned as it is."""
        existing = self.find(seal.key)
        if existing is not None:
            return existing
        try:
            with self.db.session() as s:
                s.add(AuditSealRow(
                    key=seal.key, version_id=seal.version_id, manifest_version_id=seal.manifest_version_id,
                    first_seq=seal.first_seq, last_seq=seal.last_seq, count=seal.count, head_hash=seal.head_hash,
                    sha256=seal.sha256, retain_until=seal.retain_until, mode=seal.mode, sealed_at=seal.sealed_at,
                ))
        except IntegrityError:  # recorded concurrently
            pass
        found = self.find(seal.key)
        assert found is not None
        return found

    def find(self, key: str) -> Seal | None:
        with self.db.session() as s:
            row = s.scalar(select(AuditSealRow).where(AuditSealRow.key == key))
            return _seal(row) if row is not None else None

    def all(self) -> list[Seal]:
        """Every recorded seal, oldest entries first."""
        with self.db.session() as s:
            rows = s.scalars(select(AuditSealRow).order_by(AuditSealRow.first_seq, AuditSealRow.last_seq))
            return [_seal(row) for row in rows]

    def last(self) -> Seal | None:
        """The seal that reaches furthest (highest `last_seq`)."""
        with self.db.session() as s:
            row = s.scalar(select(AuditSealRow).order_by(AuditSealRow.last_seq.desc(), AuditSealRow.id).limit(1))
            return _seal(row) if row is not None else None

    # --- the audit entries (read only) ------------------------------------------------------

    def head_id(self) -> int | None:
        """Id of the newest audit entry (None: the trail is empty)."""
        with self.db.session() as s:
            return s.scalar(select(func.max(AuditRow.id)))

    def count_after(self, seq: int) -> int:
        """How many audit entries have an id above `seq` (not sealed yet when `seq` is the last head)."""
        with self.db.session() as s:
            return int(s.scalar(select(func.count()).select_from(AuditRow).where(AuditRow.id > seq)) or 0)

    def entries(self, after: int, upto: int | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Audit entries with `after` < id <= `upto`, in id order, at most `limit`, each with its `hash`."""
        query = select(AuditRow).where(AuditRow.id > after).order_by(AuditRow.id)
        if upto is not None:
            query = query.where(AuditRow.id <= upto)
        if limit is not None:
            query = query.limit(limit)
        with self.db.session() as s:
            return [_entry(row) for row in s.scalars(query)]
