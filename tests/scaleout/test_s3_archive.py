"""Our S3ArchiveStore against a real MinIO: WORM through the application code."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from dms.errors import Conflict, Forbidden, NotFound, ValidationError
from dms.storage.s3 import S3ArchiveStore, S3ObjectStore

pytestmark = pytest.mark.servers


def _bucket_args(servers, prefix: str) -> dict[str, str]:
    return {
        "endpoint": servers.minio.endpoint,
        "access_key": servers.minio.access_key,
        "secret_key": servers.minio.secret_key,
        "bucket": f"{prefix}-{uuid.uuid4().hex[:10]}",
    }


@pytest.fixture
def archive(servers) -> S3ArchiveStore:
    store = S3ArchiveStore(**_bucket_args(servers, "archive"))
    store.ensure_bucket()
    store.ensure_bucket()  # idempotent
    return store


def _until(days: int = 1) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


def test_locked_version_cannot_be_deleted(archive: S3ArchiveStore) -> None:
    stored = archive.put_locked("archive/doc/v1.pdf", b"%PDF-1.7 locked", retain_until=_until(),
                                content_type="application/pdf")
    assert archive.get("archive/doc/v1.pdf", stored.version_id) == b"%PDF-1.7 locked"
    with pytest.raises(Forbidden) as refused:
        archive.delete_version("archive/doc/v1.pdf", stored.version_id)
    assert refused.value.code == "retention_active"
    assert archive.get("archive/doc/v1.pdf", stored.version_id) == b"%PDF-1.7 locked"
    listed = archive.client.list_objects(archive.bucket, prefix="archive/doc/", include_version=True)
    assert [o.version_id for o in listed] == [stored.version_id]


def test_retention_can_be_extended_but_not_shortened(archive: S3ArchiveStore) -> None:
    until = _until(2)
    stored = archive.put_locked("archive/doc/v2.pdf", b"data", retain_until=until)
    current = archive.retention("archive/doc/v2.pdf", stored.version_id)
    assert current is not None and abs(current - until) < timedelta(seconds=1)

    with pytest.raises(ValidationError) as shorter:
        archive.extend_retention("archive/doc/v2.pdf", stored.version_id, _until(1))
    assert shorter.value.code == "retention_shortening"
    assert archive.retention("archive/doc/v2.pdf", stored.version_id) == current

    later = _until(30)
    archive.extend_retention("archive/doc/v2.pdf", stored.version_id, later)
    extended = archive.retention("archive/doc/v2.pdf", stored.version_id)
    assert extended is not None and abs(extended - later) < timedelta(seconds=1)


def test_put_locked_refuses_naive_and_past_dates(archive: S3ArchiveStore) -> None:
    with pytest.raises(ValueError):
        archive.put_locked("archive/naive", b"x", retain_until=datetime.now() + timedelta(days=1))
    with pytest.raises(ValidationError):
        archive.put_locked("archive/past", b"x", retain_until=_until(-1))
    stored = archive.put_locked("archive/ok", b"x", retain_until=_until())
    with pytest.raises(ValueError):
        archive.extend_retention("archive/ok", stored.version_id, datetime.now() + timedelta(days=9))
    with pytest.raises(NotFound):
        archive.get("archive/naive")


def test_archive_refuses_a_bucket_without_object_lock(servers) -> None:
    args = _bucket_args(servers, "plain")
    S3ObjectStore(**args).ensure_bucket()
    with pytest.raises(Conflict) as refused:
        S3ArchiveStore(**args).ensure_bucket()
    assert refused.value.code == "object_lock_missing"
