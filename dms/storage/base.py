"""The object store interface. The object store is the system of record."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class StoredObject:
    key: str
    version_id: str
    size: int


class ObjectStore(Protocol):
    """A versioned key/value store of bytes (local folders or an S3 bucket).

    Writing an existing key keeps the older versions; `get` without version id reads the latest.
    """

    def put(self, key: str, data: bytes, *, content_type: str = "application/octet-stream") -> StoredObject: ...

    def get(self, key: str, version_id: str | None = None) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def list_keys(self, prefix: str = "") -> Iterator[str]: ...

    def versions(self, key: str) -> list[str]:
        """Version ids of a key, oldest first."""
        ...

    def ping(self) -> None: ...

    def delete(self, key: str) -> None:
        """Remove every version of a key (never used on documents; e.g. a deleted quarantined mail)."""
        ...


LOCK_MODES = ("COMPLIANCE", "GOVERNANCE")  # S3 Object Lock modes; retention.policy.LockMode has the same values


@dataclass(frozen=True)
class ArchiveLock:
    """The lock of one archived version: retained until, in which mode, and whether a legal hold is set."""

    retain_until: datetime | None
    mode: str | None
    legal_hold: bool


class ArchiveStore(Protocol):
    """WORM storage: versions that nobody can delete or change before their retention date.

    Every put creates a new version (the older ones stay as they are). A version can be deleted
    once its retain-until date has passed and no legal hold is set on it; earlier, `delete_version`
    raises `Forbidden` (code `retention_active` or `legal_hold_active`). Implementations: an S3
    Object Lock bucket (tamper-proof) and local files (the same rules, enforced in software only).
    """

    def put_locked(
        self,
        key: str,
        data: bytes,
        *,
        retain_until: datetime,
        mode: str = "COMPLIANCE",
        legal_hold: bool = False,
        content_type: str = "application/octet-stream",
    ) -> StoredObject:
        """Store a new version locked until `retain_until` (aware, in the future) in `mode` (LOCK_MODES)."""
        ...

    def get(self, key: str, version_id: str | None = None) -> bytes: ...

    def retention(self, key: str, version_id: str | None = None) -> datetime | None: ...

    def lock(self, key: str, version_id: str) -> ArchiveLock: ...

    def extend_retention(self, key: str, version_id: str, until: datetime) -> datetime:
        """Move retain-until later (the mode stays); an earlier date raises ValidationError `retention_shortening`."""
        ...

    def set_legal_hold(self, key: str, version_id: str, on: bool) -> None: ...

    def legal_hold(self, key: str, version_id: str) -> bool: ...

    def versions(self, key: str) -> list[str]:
        """Version ids of a key, oldest first."""
        ...

    def list_versions(self, prefix: str = "") -> list[StoredObject]:
        """Every version under `prefix`, by key, oldest first per key."""
        ...

    def delete_version(self, key: str, version_id: str) -> None:
        """Delete one version; refused (`Forbidden`) while its retention runs or a legal hold is set."""
        ...

    def ping(self) -> None: ...
