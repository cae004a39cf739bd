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


class ArchiveStore(Protocol):
    """WORM storage: objects that nobody can delete or change before their retention date."""

    def put_locked(
        self, key: str, data: bytes, *, retain_until: datetime, content_type: str = "application/octet-stream"
    ) -> StoredObject: ...

    def get(self, key: str, version_id: str | None = None) -> bytes: ...

    def retention(self, key: str, version_id: str | None = None) -> datetime | None: ...

    def delete_version(self, key: str, version_id: str) -> None:
        """Delete one version; refused (an error) while its retention runs."""
        ...
