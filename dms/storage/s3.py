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
from minio.versioningconfig import VersioningConfig

from dms.errors import BackendUnavailable, Conflict, Forbidden, NotFound, ValidationError
from dms.storage.base import StoredObject
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


class S3ArchiveStore(S3Bucket):
    """ArchiveStore on an Object Lock bucket: versions in COMPLIANCE mode until their retain-until date."""

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
        self, key: str, data: bytes, *, retain_until: datetime, content_type: str = "application/octet-stream"
    ) -> StoredObject:
        check_key(key)
        check_aware(retain_until)
        if retain_until <= datetime.now(UTC):
            raise ValidationError("Das Aufbewahrungsdatum muss in der Zukunft liegen.", code="bad_retention")
        # Object Lock uploads need an integrity header; minio-py sends Content-MD5 only over HTTPS.
        checksum = base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")
        with s3_errors(self.bucket, key):
            result = self.client.put_object(
                self.bucket, key, io.BytesIO(data), len(data),
                content_type=content_type,
                metadata={"x-amz-checksum-sha256": checksum},
                retention=Retention(COMPLIANCE, retain_until),
                part_size=max(len(data), MIN_PART_SIZE),  # one PUT: the checksum covers the whole object
            )
        return StoredObject(key, result.version_id or NULL_VERSION, len(data))

    def retention(self, key: str, version_id: str | None = None) -> datetime | None:
        check_key(key)
        with s3_errors(self.bucket, key, version_id):
            config = self.client.get_object_retention(self.bucket, key, version_id=version_id)
        return config.retain_until_date if config else None

    def extend_retention(self, key: str, version_id: str, until: datetime) -> datetime:
        """Move the retain-until date later; shortening is refused here, before the server is asked."""
        check_aware(until, "until")
        current = self.retention(key, version_id)
        if current is not None and until < current:
            raise ValidationError(
                f"Die Aufbewahrung läuft bis {current.isoformat()} und kann nicht verkürzt werden.",
                code="retention_shortening",
            )
        with s3_errors(self.bucket, key, version_id):
            self.client.set_object_retention(self.bucket, key, Retention(COMPLIANCE, until), version_id=version_id)
        return until

    def delete_version(self, key: str, version_id: str) -> None:
        """Delete one version; while its retention runs the server refuses (400 on MinIO, 403 on AWS)."""
        check_key(key)
        try:
            self.client.remove_object(self.bucket, key, version_id=version_id)
        except S3Error as exc:
            error = translate(exc, self.bucket, key, version_id)
            if isinstance(error, NotFound | BackendUnavailable) and exc.code != "AccessDenied":
                raise error from exc
            raise Forbidden(
                f"Objekt {key} ({version_id}) ist aufbewahrungspflichtig und kann nicht gelöscht werden.",
                code="retention_active",
                server_code=exc.code,
            ) from exc
        except CLIENT_ERRORS as exc:
            raise translate(exc, self.bucket, key, version_id) from exc
