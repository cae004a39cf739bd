"""Archive store contract: the WORM rules hold the same on local files (software) and on MinIO
with Object Lock (server). Each test uses keys of its own in one archive per module and backend."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from dms.errors import Forbidden, NotFound, ValidationError
from dms.storage.base import ArchiveStore


@pytest.fixture(scope="module", params=["embedded", pytest.param("server", marks=pytest.mark.servers)])
def archive(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ArchiveStore]:
    if request.param == "embedded":
        from dms.storage.local_archive import LocalArchiveStore

        yield LocalArchiveStore(tmp_path_factory.mktemp("archive"))
        return
    from dms.storage.s3 import S3ArchiveStore
    from tests.server_env import unique

    env = request.getfixturevalue("real_servers").env()
    store = S3ArchiveStore(
        endpoint=env["DMS_S3_ENDPOINT"],
        access_key=env["DMS_S3_ACCESS_KEY"],
        secret_key=env["DMS_S3_SECRET_KEY"],
        bucket=unique("archive-contract").lower(),
    )
    store.ensure_bucket()
    yield store  # the bucket stays: its locked objects cannot be removed anyway


@pytest.fixture
def prefix() -> str:
    return f"archive/{uuid.uuid4().hex[:12]}/"


def _until(seconds: float = 86400) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def _close(a: datetime | None, b: datetime) -> bool:
    return a is not None and abs(a - b) < timedelta(seconds=1)


def _wait_until_past(moment: datetime) -> None:
    time.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()) + 1.0)


def test_a_locked_version_cannot_be_deleted(archive: ArchiveStore, prefix: str) -> None:
    key = prefix + "v1/original"
    stored = archive.put_locked(key, b"%PDF-1.7 locked", retain_until=_until(), content_type="application/pdf")
    with pytest.raises(Forbidden) as refused:
        archive.delete_version(key, stored.version_id)
    assert refused.value.code == "retention_active"
    assert archive.get(key, stored.version_id) == b"%PDF-1.7 locked"
    assert archive.versions(key) == [stored.version_id]


def test_a_put_never_overwrites_a_version(archive: ArchiveStore, prefix: str) -> None:
    key = prefix + "sidecar.json"
    until = _until()
    first = archive.put_locked(key, b'{"v": 1}', retain_until=until)
    second = archive.put_locked(key, b'{"v": 2}', retain_until=_until(2 * 86400))
    assert first.version_id != second.version_id
    assert archive.get(key, first.version_id) == b'{"v": 1}'
    assert _close(archive.retention(key, first.version_id), until)
    assert archive.get(key) == b'{"v": 2}'
    assert archive.versions(key) == [first.version_id, second.version_id]


def test_retention_can_be_extended_but_not_shortened(archive: ArchiveStore, prefix: str) -> None:
    key = prefix + "v1/original"
    until = _until(2 * 86400)
    stored = archive.put_locked(key, b"data", retain_until=until, mode="GOVERNANCE")
    current = archive.retention(key, stored.version_id)
    assert _close(current, until)

    with pytest.raises(ValidationError) as shorter:
        archive.extend_retention(key, stored.version_id, _until(86400))
    assert shorter.value.code == "retention_shortening"
    assert archive.retention(key, stored.version_id) == current

    later = _until(30 * 86400)
    archive.extend_retention(key, stored.version_id, later)
    lock = archive.lock(key, stored.version_id)
    assert _close(lock.retain_until, later)
    assert lock.mode == "GOVERNANCE" and not lock.legal_hold  # extending keeps the mode
    with pytest.raises(Forbidden):
        archive.delete_version(key, stored.version_id)  # GOVERNANCE is no way around the lock here
    assert archive.get(key, stored.version_id) == b"data"


def test_legal_hold_blocks_deletion_after_expiry_until_released(archive: ArchiveStore, prefix: str) -> None:
    until = _until(3)
    held = archive.put_locked(prefix + "held", b"held", retain_until=until)
    free = archive.put_locked(prefix + "free", b"free", retain_until=until)
    archive.set_legal_hold(prefix + "held", held.version_id, True)
    assert archive.legal_hold(prefix + "held", held.version_id)
    assert not archive.legal_hold(prefix + "free", free.version_id)

    _wait_until_past(until)
    archive.delete_version(prefix + "free", free.version_id)  # expired, no hold: deletable
    assert archive.versions(prefix + "free") == []
    with pytest.raises(NotFound):
        archive.get(prefix + "free", free.version_id)

    with pytest.raises(Forbidden) as refused:
        archive.delete_version(prefix + "held", held.version_id)
    assert refused.value.code == "legal_hold_active"
    assert archive.get(prefix + "held", held.version_id) == b"held"

    archive.set_legal_hold(prefix + "held", held.version_id, False)
    assert not archive.legal_hold(prefix + "held", held.version_id)
    archive.delete_version(prefix + "held", held.version_id)
    assert archive.versions(prefix + "held") == []


def test_a_version_can_be_held_from_the_start(archive: ArchiveStore, prefix: str) -> None:
    stored = archive.put_locked(prefix + "x", b"x", retain_until=_until(), legal_hold=True)
    lock = archive.lock(prefix + "x", stored.version_id)
    assert lock.legal_hold and lock.mode == "COMPLIANCE"
    with pytest.raises(Forbidden) as refused:
        archive.delete_version(prefix + "x", stored.version_id)
    assert refused.value.code == "legal_hold_active"


def test_list_versions_by_prefix(archive: ArchiveStore, prefix: str) -> None:
    a1 = archive.put_locked(prefix + "a", b"1", retain_until=_until())
    b1 = archive.put_locked(prefix + "b/c", b"22", retain_until=_until())
    a2 = archive.put_locked(prefix + "a", b"333", retain_until=_until())
    listed = [(o.key, o.version_id, o.size) for o in archive.list_versions(prefix)]
    assert listed == [
        (prefix + "a", a1.version_id, 1), (prefix + "a", a2.version_id, 3), (prefix + "b/c", b1.version_id, 2),
    ]
    assert [o.key for o in archive.list_versions(prefix + "b/")] == [prefix + "b/c"]


def test_bad_dates_modes_and_missing_versions(archive: ArchiveStore, prefix: str) -> None:
    with pytest.raises(ValueError):
        archive.put_locked(prefix + "naive", b"x", retain_until=datetime.now() + timedelta(days=1))
    with pytest.raises(ValidationError):
        archive.put_locked(prefix + "past", b"x", retain_until=_until(-60))
    with pytest.raises(ValueError):
        archive.put_locked(prefix + "mode", b"x", retain_until=_until(), mode="WORM")
    stored = archive.put_locked(prefix + "ok", b"x", retain_until=_until())
    with pytest.raises(ValueError):
        archive.extend_retention(prefix + "ok", stored.version_id, datetime.now() + timedelta(days=9))
    assert archive.versions(prefix + "naive") == []
    with pytest.raises(NotFound):
        archive.get(prefix + "naive")
    for missing in ("no-such-version", str(uuid.uuid4())):
        with pytest.raises(NotFound):
            archive.lock(prefix + "ok", missing)


def test_deleting_a_missing_version_is_no_error(archive: ArchiveStore, prefix: str) -> None:
    stored = archive.put_locked(prefix + "kept", b"kept", retain_until=_until())
    archive.delete_version(prefix + "kept", str(uuid.uuid4()))  # a sweep that runs twice
    archive.delete_version(prefix + "never-stored", str(uuid.uuid4()))
    assert archive.versions(prefix + "kept") == [stored.version_id]
