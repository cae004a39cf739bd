"""Object store on the local file system (embedded default).

Layout: `<root>/<key>.obj/<version id>`; version ids sort by time, so the newest is the
largest name. Writes go to a temp file first and are renamed into place (atomic on POSIX).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from dms.errors import BackendUnavailable, NotFound, ValidationError
from dms.storage.base import StoredObject

SUFFIX = ".obj"


class LocalObjectStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._last_version = 0

    def _dir(self, key: str) -> Path:
        parts = key.split("/")
        if not key or any(p in ("", ".", "..") for p in parts) or key.startswith("/"):
            raise ValidationError(f"Ungültiger Objektschlüssel {key!r}.", code="bad_key")
        return self.root.joinpath(*parts[:-1], parts[-1] + SUFFIX)

    def _new_version_id(self) -> str:
        with self._lock:
            now = time.time_ns()
            self._last_version = max(now, self._last_version + 1)
            return f"{self._last_version:020d}"

    def put(self, key: str, data: bytes, *, content_type: str = "application/octet-stream") -> StoredObject:
        target_dir = self._dir(key)
        target_dir.mkdir(parents=True, exist_ok=True)
        version_id = self._new_version_id()
        fd, tmp = tempfile.mkstemp(dir=target_dir, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target_dir / version_id)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return StoredObject(key, version_id, len(data))

    def versions(self, key: str) -> list[str]:
        target_dir = self._dir(key)
        if not target_dir.is_dir():
            return []
        return sorted(p.name for p in target_dir.iterdir() if not p.name.startswith("."))

    def get(self, key: str, version_id: str | None = None) -> bytes:
        versions = self.versions(key)
        if not versions or (version_id is not None and version_id not in versions):
            raise NotFound(f"Objekt {key} ({version_id or 'aktuell'}) fehlt im Speicher.", code="object_missing")
        return (self._dir(key) / (version_id or versions[-1])).read_bytes()

    def exists(self, key: str) -> bool:
        return bool(self.versions(key))

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        for dirpath, dirnames, _files in os.walk(self.root):
            dirnames.sort()
            for name in list(dirnames):
                if name.endswith(SUFFIX):
                    dirnames.remove(name)
                    rel = Path(dirpath, name).relative_to(self.root).as_posix()[: -len(SUFFIX)]
                    if rel.startswith(prefix):
                        yield rel

    def delete(self, key: str) -> None:
        """Remove every version of `key` (missing: nothing to do)."""
        shutil.rmtree(self._dir(key), ignore_errors=True)

    def ping(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise BackendUnavailable(f"Speicherordner {self.root} ist nicht beschreibbar.")
