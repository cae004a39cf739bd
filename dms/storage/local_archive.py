"""Archive store on the local file system (embedded default): WORM rules enforced in software.

Layout: `<root>/<key>.obj/<version id>` holds the bytes of a version and
`<root>/<key>.obj/<version id>.lock.json` its lock (retain-until, mode, legal hold, size, sha256).
Both are written to temp files and renamed into place, the lock first: a version whose bytes
exist always has its lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dms.errors import BackendUnavailable, Forbidden, NotFound, ValidationError
from dms.storage.base import LOCK_MODES, ArchiveLock, StoredObject

SUFFIX = ".obj"
LOCK_SUFFIX = ".lock.json"


class LocalArchiveStore:
    """ArchiveStore in a folder: the same rules as the S3 Object Lock archive, enforced by this code.

    It refuses to delete a version before its retain-until date or while a legal hold is set,
    never overwrites a version (a put under an existing key adds a version), and refuses to
    shorten a retention. These rules hold only for callers that go through this class: anyone
    with access to the disk can change or delete the files. Only a WORM-capable object store
    (an S3 bucket with Object Lock, `S3ArchiveStore`) makes them tamper-proof.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._last_version = 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.root)!r})"

    # --- writing -------------------------------------------------------------------------------

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
        target = self._dir(key)
        _check_aware(retain_until, "retain_until")
        _check_mode(mode)
        if retain_until <= datetime.now(UTC):
            raise ValidationError("Das Aufbewahrungsdatum muss in der Zukunft liegen.", code="bad_retention")
        target.mkdir(parents=True, exist_ok=True)
        version_id = self._new_version_id()
        lock = {
            "key": key,
            "version_id": version_id,
            "retain_until": retain_until.astimezone(UTC).isoformat(),
            "mode": mode,
            "legal_hold": bool(legal_hold),
            "content_type": content_type,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "stored_at": datetime.now(UTC).isoformat(),
        }
        _write_atomic(target / (version_id + LOCK_SUFFIX), json.dumps(lock, indent=1).encode("utf-8"))
        _write_atomic(target / version_id, data)
        return StoredObject(key, version_id, len(data))

    def extend_retention(self, key: str, version_id: str, until: datetime) -> datetime:
        """Move the retain-until date later; an earlier one is refused (`retention_shortening`)."""
        _check_aware(until, "until")
        with self._lock:
            lock = self._read_lock(key, version_id)
            current = datetime.fromisoformat(lock["retain_until"])
            if until < current:
                raise ValidationError(
                    f"Die Aufbewahrung läuft bis {current.isoformat()} und kann nicht verkürzt werden.",
                    code="retention_shortening",
                )
            lock["retain_until"] = until.astimezone(UTC).isoformat()
            self._write_lock(key, version_id, lock)
        return until

    def set_legal_hold(self, key: str, version_id: str, on: bool) -> None:
        with self._lock:
            lock = self._read_lock(key, version_id)
            lock["legal_hold"] = bool(on)
            self._write_lock(key, version_id, lock)

    def delete_version(self, key: str, version_id: str) -> None:
        """Delete one version once its retention has passed and no legal hold is set.

        A version that is not there is no error (as on S3), so an interrupted sweep can run again.
        """
        with self._lock:
            if version_id not in self.versions(key):
                return
            state = self.lock(key, version_id)
            if state.legal_hold:
                raise Forbidden(
                    f"Objekt {key} ({version_id}) steht unter Legal Hold und kann nicht gelöscht werden.",
                    code="legal_hold_active",
                )
            if state.retain_until is not None and state.retain_until > datetime.now(UTC):
                raise Forbidden(
                    f"Objekt {key} ({version_id}) ist aufbewahrungspflichtig und kann nicht gelöscht werden.",
                    code="retention_active",
                    retain_until=state.retain_until.isoformat(),
                )
            target = self._dir(key)
            (target / version_id).unlink()
            (target / (version_id + LOCK_SUFFIX)).unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                target.rmdir()  # only when it was the last version

    # --- reading -------------------------------------------------------------------------------

    def get(self, key: str, version_id: str | None = None) -> bytes:
        path = self._version_path(key, version_id)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise _missing(key, version_id) from None

    def retention(self, key: str, version_id: str | None = None) -> datetime | None:
        return self.lock(key, version_id or self._version_path(key, None).name).retain_until

    def lock(self, key: str, version_id: str) -> ArchiveLock:
        lock = self._read_lock(key, version_id)
        until = lock.get("retain_until")
        return ArchiveLock(
            retain_until=datetime.fromisoformat(until) if until else None,
            mode=lock.get("mode"),
            legal_hold=bool(lock.get("legal_hold")),
        )

    def legal_hold(self, key: str, version_id: str) -> bool:
        return self.lock(key, version_id).legal_hold

    def versions(self, key: str) -> list[str]:
        target = self._dir(key)
        if not target.is_dir():
            return []
        return sorted(p.name for p in target.iterdir() if _is_version(p.name))

    def list_versions(self, prefix: str = "") -> list[StoredObject]:
        found = []
        for dirpath, dirnames, _files in os.walk(self.root):
            dirnames.sort()
            for name in list(dirnames):
                if not name.endswith(SUFFIX):
                    continue
                dirnames.remove(name)
                key = Path(dirpath, name).relative_to(self.root).as_posix()[: -len(SUFFIX)]
                if key.startswith(prefix):
                    found += [
                        StoredObject(key, v, (self._dir(key) / v).stat().st_size) for v in self.versions(key)
                    ]
        return found

    def ping(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise BackendUnavailable(f"Archivordner {self.root} ist nicht beschreibbar.")

    # --- files ---------------------------------------------------------------------------------

    def _dir(self, key: str) -> Path:
        parts = key.split("/") if key else []
        if not parts or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise ValidationError(f"Ungültiger Objektschlüssel {key!r}.", code="bad_key")
        return self.root.joinpath(*parts[:-1], parts[-1] + SUFFIX)

    def _version_path(self, key: str, version_id: str | None) -> Path:
        versions = self.versions(key)
        if not versions or (version_id is not None and version_id not in versions):
            raise _missing(key, version_id)
        return self._dir(key) / (version_id or versions[-1])

    def _read_lock(self, key: str, version_id: str) -> dict[str, Any]:
        path = self._version_path(key, version_id).with_name(version_id + LOCK_SUFFIX)
        try:
            lock: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise _missing(key, version_id) from None
        return lock

    def _write_lock(self, key: str, version_id: str, lock: dict[str, Any]) -> None:
        _write_atomic(self._dir(key) / (version_id + LOCK_SUFFIX), json.dumps(lock, indent=1).encode("utf-8"))

    def _new_version_id(self) -> str:
        with self._lock:
            self._last_version = max(time.time_ns(), self._last_version + 1)
            return f"{self._last_version:020d}"


def _is_version(name: str) -> bool:
    return not name.startswith(".") and not name.endswith(LOCK_SUFFIX)


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _missing(key: str, version_id: str | None) -> NotFound:
    return NotFound(f"Objekt {key} ({version_id or 'aktuell'}) fehlt im Archiv.", code="object_missing")


def _check_aware(value: datetime, name: str) -> None:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")


def _check_mode(mode: str) -> None:
    if mode not in LOCK_MODES:
        raise ValueError(f"mode must be one of {LOCK_MODES}, got {mode!r}")
