"""Shared S3 plumbing for the object store and the archive: endpoint, client, error mapping.

Only plain S3 calls (no MinIO admin API), so MinIO, Ceph RGW, SeaweedFS and AWS all work.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import certifi
import urllib3
from minio import Minio
from minio.error import InvalidResponseError, S3Error, ServerError
from minio.helpers import check_bucket_name
from urllib3.util import Retry, Timeout

from dms.errors import BackendUnavailable, DmsError, NotFound, ValidationError

MISSING_CODES = {"NoSuchKey", "NoSuchVersion", "NoSuchObject", "MethodNotAllowed", "ResourceNotFound"}
UNAVAILABLE_CODES = {
    "NoSuchBucket", "InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "XMinioServerNotInitialized",
    "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
}
# Transport failures after urllib3's own retries: the queue retries the task later.
CONNECTION_ERRORS: tuple[type[Exception], ...] = (urllib3.exceptions.HTTPError, ServerError, ConnectionError)
CLIENT_ERRORS: tuple[type[Exception], ...] = (S3Error, InvalidResponseError, *CONNECTION_ERRORS)


@dataclass(frozen=True)
class Endpoint:
    host: str  # host[:port], as Minio() wants it
    secure: bool


def parse_endpoint(url: str) -> Endpoint:
    """`http://host:port` or `https://host` → host and TLS flag; anything else is a configuration error."""
    parts = urlsplit((url or "").strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError(
            f"Ungültiger S3-Endpunkt {url!r}: erwartet http://host:port oder https://host.", code="bad_config"
        )
    if parts.path not in ("", "/") or parts.query or parts.username:
        raise ValidationError(
            f"Der S3-Endpunkt {url!r} darf keinen Pfad oder Zugangsdaten enthalten.", code="bad_config"
        )
    return Endpoint(parts.netloc, parts.scheme == "https")


def make_client(endpoint: str, access_key: str, secret_key: str, region: str) -> Minio:
    """A client with short connect timeouts and few retries, so an outage surfaces quickly."""
    parsed = parse_endpoint(endpoint)
    http = urllib3.PoolManager(
        timeout=Timeout(connect=5, read=120),
        maxsize=10,
        cert_reqs="CERT_REQUIRED",
        ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
        retries=Retry(total=2, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
    )
    return Minio(
        parsed.host, access_key=access_key, secret_key=secret_key, secure=parsed.secure, region=region,
        http_client=http,
    )


def check_key(key: str) -> str:
    """Same rule as the local store: relative, no empty, `.` or `..` segments."""
    parts = key.split("/") if key else []
    if not parts or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValidationError(f"Ungültiger Objektschlüssel {key!r}.", code="bad_key")
    return key


def check_aware(value: datetime, name: str = "retain_until") -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")
    return value


def translate(exc: Exception, bucket: str, key: str | None = None, version_id: str | None = None) -> Exception:
    """The service error for a minio/urllib3 error; other exceptions come back unchanged."""
    what = f"Objekt {key} ({version_id or 'aktuell'})" if key else f"Bucket {bucket}"
    if isinstance(exc, S3Error):
        if key and (exc.code in MISSING_CODES or (version_id and exc.code == "InvalidArgument")):
            return NotFound(f"{what} fehlt im Speicher.", code="object_missing")
        status = exc.response.status if exc.response is not None else 0
        if exc.code in UNAVAILABLE_CODES or status >= 500:
            return BackendUnavailable(f"S3-Speicher ({bucket}) meldet {exc.code}: {exc.message}")
        return DmsError(f"S3-Fehler bei {what}: {exc.code} {exc.message}", code="storage_error")
    if isinstance(exc, InvalidResponseError):
        return BackendUnavailable(f"S3-Speicher ({bucket}) antwortet nicht wie S3: {exc}")
    if isinstance(exc, CONNECTION_ERRORS):
        return BackendUnavailable(f"S3-Speicher ({bucket}) nicht erreichbar: {exc}")
    return exc


@contextmanager
def s3_errors(bucket: str, key: str | None = None, version_id: str | None = None) -> Iterator[None]:
    """Translate minio/urllib3 errors raised inside the block into the service's exception tree."""
    try:
        yield
    except CLIENT_ERRORS as exc:
        raise translate(exc, bucket, key, version_id) from exc


class S3Bucket:
    """One bucket through one client; the base of the object store and the archive."""

    def __init__(
        self, endpoint: str, access_key: str, secret_key: str, bucket: str, region: str = "us-east-1"
    ) -> None:
        try:
            check_bucket_name(bucket)
        except ValueError as exc:
            raise ValidationError(f"Ungültiger Bucket-Name {bucket!r}.", code="bad_config") from exc
        self.endpoint = endpoint
        self.bucket = bucket
        self.region = region
        self.client = make_client(endpoint, access_key, secret_key, region)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.endpoint!r}, bucket={self.bucket!r})"

    def _bucket_exists(self) -> bool:
        with s3_errors(self.bucket):
            return self.client.bucket_exists(self.bucket)

    def get(self, key: str, version_id: str | None = None) -> bytes:
        check_key(key)
        with s3_errors(self.bucket, key, version_id):
            response = self.client.get_object(self.bucket, key, version_id=version_id)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

    def ping(self) -> None:
        if not self._bucket_exists():
            raise BackendUnavailable(f"Der S3-Bucket {self.bucket} existiert nicht.")
