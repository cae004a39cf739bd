"""S3 backends (scale-out): a versioned bucket as the object store, an Object Lock bucket as the WORM archive."""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Iterator
from datetime import UTC, datetime

from minio.commonconfig import COMPLIANCE, ENABLED
from minio.error import S3Error
from minio.helpers import MIN_PART_SIZE
from minio.retention import Retention
from minio.time import from_iso8601utc
from minio.versioningconfig import VersioningConfig

from dms.errors import BackendUnavailable, Conflict, DmsError, Forbidden, NotFound, ValidationError
from dms.storage.base import LOCK_MODES, ArchiveLock, StoredObject
from dms.storage.s3_client import CLIENT_ERRORS, S3Bucket, check_aware, check_key, s3_errors, translate

NULL_VERSION = "null"  # what S3 calls the version of an object written while versioning was off


class S3ObjectStore(S3Bucket):
    """ObjectStore on a versioned S3 bucket; version ids are the ones S3 assigns."""

    def ensure_bucket(self) -> None:
        """Create the bucket if missing and switch versioning on (idempotent)."""
        with s3_errors(self.bucket):
            if not self.client.bucket_exists(self.bucket):
                self.client.make_bucket(self.bucket, location=self.region)
            if self.client.get_bucket_versioning(self.bucket).status != ENABLED:
                self.client.set_bucket_versioning(self.bucket, VersioningConfig(ENABLED))

    def put(self, key: str, data: bytes, *, content_type: str = "application/octet-stream") -> StoredObject:
        check_key(key)
        with s3_errors(self.bucket, key):
            result = self.client.put_object(self.bucket, key, io.BytesIO(data), len(data), content_type=content_type)
        return StoredObject(key, result.version_id or NULL_VERSION, len(data))

    def exists(self, key: str) -> bool:
        check_key(key)
        try:
            with s3_errors(self.bucket, key):
                self.client.stat_object(self.bucket, key)
        except NotFound:
            return False
        return True

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        """Keys whose latest version is not a delete marker, sorted."""
        with s3_errors(self.bucket):
            names = [o.object_name for o in self.client.list_objects(self.bucket, prefix=prefix, recursive=True)]
        return iter(sorted(n for n in names if n))

    def versions(self, key: str) -> list[str]:
        check_key(key)
        with s3_errors(self.bucket, key):
            listed = self.client.list_objects(self.bucket, prefix=key, recursive=True, include_version=True)
            # S3 lists the versions of a key newest first; delete markers are no readable versions.
            ids = [o.version_id or NULL_VERSION for o in listed if o.object_name == key and not o.is_delete_marker]
        return ids[::-1]

    def delete(self, key: str) -> None:
        """Remove every version (and delete marker) of `key`."""
        check_key(key)
        with s3_errors(self.bucket, key):
            listed = self.client.list_objects(self.bucket, prefix=key, recursive=True, include_version=True)
            for item in [o for o in listed if o.object_name == key]:
                self.client.remove_object(self.bucket, key, version_id=item.version_id)


class S3ArchiveStore(S3Bucket):
    """ArchiveStore on an Object Lock bucket: every version locked (COMPLIANCE or GOVERNANCE) until its
    retain-until date, optionally under legal hold; the server enforces both (tamper-proof)."""

    def ensure_bucket(self) -> None:
        """Create the bucket with Object Lock; an existing bucket without it is refused."""
        with s3_errors(self.bucket):
            if not self.client.bucket_exists(self.bucket):
                self.client.make_bucket(self.bucket, location=self.region, object_lock=True)
                return
            try:
                config = self.client.get_object_lock_config(self.bucket)
            except S3Error as exc:
                if exc.code != "ObjectLockConfigurationNotFoundError":
                    raise
                config = None
        if config is None:
            raise Conflict(
                f"Der Archiv-Bucket {self.bucket} existiert ohne Object Lock; Object Lock lässt sich nur beim "
                "Anlegen einschalten. Bitte einen neuen Bucket konfigurieren.",
                code="object_lock_missing",
            )

    def put_locked(
        self,
        key: str,
        data: bytes,
        *,
        retain_until: datetime,
        mode: str = COMPLIANCE,
        legal_hold: bool = False,
        content_type: str = "application/octet-stream",
    ) -> StoredObject:
        check_key(key)
        check_aware(retain_until)
        if mode not in LOCK_MODES:
            raise ValueError(f"mode must be one of {LOCK_MODES}, got {mode!r}")
        if retain_until <= datetime.now(UTC):
            raise ValidationError("Das Aufbewahrungsdatum muss in der Zukunft liegen.", code="bad_retention")
        # Object Lock uploads need an integrity header; minio-py sends Content-MD5 only over HTTPS.
        checksum = base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")
        with s3_errors(self.bucket, key):
            result = self.client.put_object(
                self.bucket, key, io.BytesIO(data), len(data),
                content_type=content_type,
                metadata={"x-amz-checksum-sha256": checksum},
                retention=Retention(str(mode), retain_until),
                legal_hold=legal_hold,
                part_size=max(len(data), MIN_PART_SIZE),  # one PUT: the checksum covers the whole object
            )
        return StoredObject(key, result.version_id or NULL_VERSION, len(data))

    def retention(self, key: str, version_id: str | None = None) -> datetime | None:
        check_key(key)
        with s3_errors(self.bucket, key, version_id):
            config = self.client.get_object_retention(self.bucket, key, version_id=version_id)
        return config.retain_until_date if config else None

    def lock(self, key: str, version_id: str) -> ArchiveLock:
        """Retain-until, mode and legal hold of one version, from one HEAD request."""
        check_key(key)
        try:
            with s3_errors(self.bucket, key, version_id):
                headers = self.client.stat_object(self.bucket, key, version_id=version_id).metadata or {}
        except DmsError as exc:
            # A HEAD answer has no body: a malformed version id comes back as a bare 400 BadRequest.
            server = exc.__cause__
            if isinstance(server, S3Error) and server.code == "BadRequest":
                raise NotFound(f"Objekt {key} ({version_id}) fehlt im Speicher.", code="object_missing") from exc
            raise
        until = headers.get("x-amz-object-lock-retain-until-date")
        return ArchiveLock(
            retain_until=from_iso8601utc(until) if until else None,
            mode=headers.get("x-amz-object-lock-mode"),
            legal_hold=headers.get("x-amz-object-lock-legal-hold", "OFF").upper() == "ON",
        )

    def extend_retention(self, key: str, version_id: str, until: datetime) -> datetime:
        """Move the retain-until date later, keeping the mode; shortening is refused here, before the
        server is asked (which refuses it too in COMPLIANCE mode)."""
        check_aware(until, "until")
        check_key(key)
        with s3_errors(self.bucket, key, version_id):
            config = self.client.get_object_retention(self.bucket, key, version_id=version_id)
        current = config.retain_until_date if config else None
        if current is not None and until < current:
            raise ValidationError(
                f"Die Aufbewahrung läuft bis {current.isoformat()} und kann nicht verkürzt werden.",
                code="retention_shortening",
            )
        mode = config.mode if config and config.mode else COMPLIANCE
        with s3_errors(self.bucket, key, version_id):
            self.client.set_object_retention(self.bucket, key, Retention(mode, until), version_id=version_id)
        return until

    def set_legal_hold(self, key: str, version_id: str, on: bool) -> None:
        check_key(key)
        with s3_errors(self.bucket, key, version_id):
            if on:
                self.client.enable_object_legal_hold(self.bucket, key, version_id=version_id)
            else:
                self.client.disable_object_legal_hold(self.bucket, key, version_id=version_id)

    def legal_hold(self, key: str, version_id: str) -> bool:
        check_key(key)
        with s3_errors(self.bucket, key, version_id):
            return bool(self.client.is_object_legal_hold_enabled(self.bucket, key, version_id=version_id))

    def versions(self, key: str) -> list[str]:
        check_key(key)
        return [v.version_id for v in self.list_versions(key) if v.key == key]

    def list_versions(self, prefix: str = "") -> list[StoredObject]:
        """Every version under `prefix` (delete markers left out), by key, oldest first per key."""
        with s3_errors(self.bucket):
            listed = list(self.client.list_objects(self.bucket, prefix=prefix, recursive=True, include_version=True))
        found = [
            StoredObject(o.object_name, o.version_id or NULL_VERSION, o.size or 0)
            for o in listed if o.object_name and not o.is_delete_marker
        ]
        # S3 lists the versions of a key newest first; keep the key order, reverse within a key.
        order = {name: i for i, name in enumerate(dict.fromkeys(o.key for o in found))}
        return sorted(reversed(found), key=lambda o: order[o.key])

    def delete_version(self, key: str, version_id: str) -> None:
        """Delete one version; while its retention runs or a legal hold is set the server refuses
        (400 on MinIO, 403 on AWS) and so do we (`Forbidden`)."""
        check_key(key)
        try:
            self.client.remove_object(self.bucket, key, version_id=version_id)
        except S3Error as exc:
            error = translate(exc, self.bucket, key, version_id)
            if isinstance(error, NotFound | BackendUnavailable) and exc.code != "AccessDenied":
                raise error from exc
            raise self._refusal(key, version_id, exc) from exc
        except CLIENT_ERRORS as exc:
            raise translate(exc, self.bucket, key, version_id) from exc

    def _refusal(self, key: str, version_id: str, exc: S3Error) -> Forbidden:
        try:
            state: ArchiveLock | None = self.lock(key, version_id)
        except DmsError:
            state = None
        if state is not None and state.legal_hold:
            return Forbidden(
                f"Objekt {key} ({version_id}) steht unter Legal Hold und kann nicht gelöscht werden.",
                code="legal_hold_active",
                server_code=exc.code,
            )
        details = {"retain_until": state.retain_until.isoformat()} if state and state.retain_until else {}
        return Forbidden(
            f"Objekt {key} ({version_id}) ist aufbewahrungspflichtig und kann nicht gelöscht werden.",
            code="retention_active",
            server_code=exc.code,
            **details,
        )
