"""Object store contract: local folders and S3 behave the same."""

from __future__ import annotations

import pytest

from dms.errors import NotFound, ValidationError


def test_put_get_roundtrip_keeps_bytes(store) -> None:
    data = bytes(range(256)) * 100
    stored = store.put("documents/a/v1/original", data)
    assert stored.size == len(data) and stored.version_id
    assert store.get("documents/a/v1/original") == data
    assert store.exists("documents/a/v1/original")
    assert not store.exists("documents/a/v2/original")


def test_overwriting_a_key_keeps_every_version(store) -> None:
    first = store.put("documents/b/document.json", b'{"v": 1}')
    second = store.put("documents/b/document.json", b'{"v": 2}')
    assert first.version_id != second.version_id
    assert store.get("documents/b/document.json") == b'{"v": 2}'
    assert store.get("documents/b/document.json", first.version_id) == b'{"v": 1}'
    assert store.versions("documents/b/document.json") == [first.version_id, second.version_id]


def test_missing_key_and_version_raise_not_found(store) -> None:
    with pytest.raises(NotFound):
        store.get("documents/none/v1/original")
    store.put("documents/c/v1/original", b"x")
    with pytest.raises(NotFound):
        store.get("documents/c/v1/original", "no-such-version")


def test_list_keys_by_prefix(store) -> None:
    keys = ("documents/d1/v1/original", "documents/d1/v1/meta.json", "documents/d2/v1/original", "customers/x.json")
    for key in keys:
        store.put(key, b"1")
    store.put("documents/d1/v1/original", b"2")  # a second version is still one key
    assert sorted(store.list_keys("documents/d1/")) == ["documents/d1/v1/meta.json", "documents/d1/v1/original"]
    assert sorted(store.list_keys("customers/")) == ["customers/x.json"]
    assert len(list(store.list_keys(""))) == 4


def test_empty_object_is_stored(store) -> None:
    store.put("documents/e/v1/original", b"")
    assert store.get("documents/e/v1/original") == b""
    assert store.exists("documents/e/v1/original")


def test_keys_cannot_escape_the_store(store) -> None:
    with pytest.raises((ValidationError, ValueError)):
        store.put("../outside", b"x")


def test_ping_answers_and_reports_an_unusable_store(store, backend: str, request) -> None:
    import shutil

    from dms.errors import BackendUnavailable

    assert store.ping() is None  # usable: answers without raising
    if backend == "embedded":
        shutil.rmtree(store.root)  # the storage folder is gone (unmounted disk)
        unusable = [store]
    else:
        from dms.storage.s3 import S3ObjectStore
        from tests.live import free_port

        env = request.getfixturevalue("server_env")
        keys = {"access_key": env["DMS_S3_ACCESS_KEY"], "secret_key": env["DMS_S3_SECRET_KEY"]}
        unusable = [
            S3ObjectStore(endpoint=env["DMS_S3_ENDPOINT"], bucket=store.bucket + "-missing", **keys),
            S3ObjectStore(endpoint=f"http://127.0.0.1:{free_port()}", bucket=store.bucket, **keys),
        ]
    for gone in unusable:
        with pytest.raises(BackendUnavailable):
            gone.ping()


def test_delete_removes_every_version(store) -> None:
    store.put("mail/quarantine/q1.eml", b"one")
    store.put("mail/quarantine/q1.eml", b"two")
    store.put("mail/quarantine/q2.eml", b"other")
    store.delete("mail/quarantine/q1.eml")
    assert not store.exists("mail/quarantine/q1.eml") and store.versions("mail/quarantine/q1.eml") == []
    assert list(store.list_keys("mail/quarantine/")) == ["mail/quarantine/q2.eml"]
    with pytest.raises(NotFound):
        store.get("mail/quarantine/q1.eml")
    store.delete("mail/quarantine/q1.eml")  # nothing left: no error
