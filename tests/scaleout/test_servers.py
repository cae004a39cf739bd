"""The real servers do what the scale-out design relies on.

WORM is proven with the raw minio client (not our application code): a version
under COMPLIANCE retention can be neither deleted nor have its retention
shortened.  OpenSearch must have the German analyzer and the ngram/asciifolding
building blocks from the analysis-common module.
"""

from __future__ import annotations

import base64
import hashlib
import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
from minio.commonconfig import COMPLIANCE
from minio.error import S3Error
from minio.retention import Retention

pytestmark = pytest.mark.servers


# --------------------------------------------------------------------- MinIO WORM
def _put_locked(client, bucket: str, key: str, data: bytes, until: datetime):
    # S3 demands Content-MD5 or a checksum on uploads with object-lock headers;
    # minio-py 7.2 sends neither over plain HTTP, so send the SHA-256 checksum.
    checksum = base64.b64encode(hashlib.sha256(data).digest()).decode()
    return client.put_object(
        bucket,
        key,
        io.BytesIO(data),
        len(data),
        content_type="application/pdf",
        metadata={"x-amz-checksum-sha256": checksum},
        retention=Retention(COMPLIANCE, until),
    )


def _versions(client, bucket: str, key: str):
    return list(client.list_objects(bucket, prefix=key, include_version=True))


@pytest.fixture
def locked_object(servers):
    client = servers.minio.client()
    bucket = f"worm-{uuid.uuid4().hex[:12]}"
    client.make_bucket(bucket, object_lock=True)
    key = "kunde-4711/rechnung-2024-001.pdf"
    data = b"%PDF-1.4 Rechnung 2024-001 " + uuid.uuid4().bytes
    until = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    result = _put_locked(client, bucket, key, data, until)
    assert result.version_id, "object-lock bucket must be versioned"
    return client, bucket, key, data, result.version_id, until


def test_minio_object_lock_bucket_is_versioned(servers, locked_object):
    client, bucket, key, data, vid, until = locked_object
    assert client.get_object_lock_config(bucket) is not None
    assert client.get_bucket_versioning(bucket).status == "Enabled"
    retention = client.get_object_retention(bucket, key, version_id=vid)
    assert retention.mode == COMPLIANCE
    assert retention.retain_until_date == until


def test_minio_refuses_deleting_locked_version(servers, locked_object):
    client, bucket, key, data, vid, _ = locked_object
    with pytest.raises(S3Error) as exc_info:
        client.remove_object(bucket, key, version_id=vid)
    # MinIO answers 400 InvalidRequest, AWS 403 AccessDenied: only "refused" matters
    assert exc_info.value.code
    assert vid in [v.version_id for v in _versions(client, bucket, key)]
    response = client.get_object(bucket, key, version_id=vid)
    try:
        assert response.read() == data
    finally:
        response.close()
        response.release_conn()


def test_minio_refuses_shortening_retention_but_allows_extending(servers, locked_object):
    client, bucket, key, _, vid, until = locked_object
    with pytest.raises(S3Error):
        client.set_object_retention(bucket, key, Retention(COMPLIANCE, until - timedelta(hours=12)), version_id=vid)
    assert client.get_object_retention(bucket, key, version_id=vid).retain_until_date == until

    later = until + timedelta(days=30)
    client.set_object_retention(bucket, key, Retention(COMPLIANCE, later), version_id=vid)
    assert client.get_object_retention(bucket, key, version_id=vid).retain_until_date == later


def test_minio_delete_without_version_only_adds_delete_marker(servers, locked_object):
    client, bucket, key, data, vid, _ = locked_object
    client.remove_object(bucket, key)  # allowed: creates a delete marker
    versions = _versions(client, bucket, key)
    markers = [v for v in versions if v.is_delete_marker]
    assert len(markers) == 1 and markers[0].is_latest
    locked = [v for v in versions if v.version_id == vid]
    assert len(locked) == 1 and not locked[0].is_delete_marker
    with pytest.raises(S3Error):  # the "current" object is gone ...
        client.stat_object(bucket, key)
    response = client.get_object(bucket, key, version_id=vid)  # ... the locked version is not
    try:
        assert response.read() == data
    finally:
        response.close()
        response.release_conn()


# --------------------------------------------------------------------- OpenSearch
def _analyze(servers, body: dict) -> list[str]:
    r = requests.post(f"{servers.opensearch.url}/_analyze", json=body, timeout=30)
    assert r.status_code == 200, r.text
    return [t["token"] for t in r.json()["tokens"]]


def test_opensearch_has_german_analyzer(servers):
    plural = _analyze(servers, {"analyzer": "german", "text": "Rechnungen"})
    singular = _analyze(servers, {"analyzer": "german", "text": "Rechnung"})
    assert len(plural) == 1 and plural == singular
    # stopwords removed, umlauts normalised by the german analyzer
    assert _analyze(servers, {"analyzer": "german", "text": "die Überweisung"}) == _analyze(
        servers, {"analyzer": "german", "text": "Uberweisungen"}
    )


def test_opensearch_has_ngram_tokenizer_and_asciifolding(servers):
    tokens = _analyze(
        servers,
        {
            "tokenizer": {"type": "ngram", "min_gram": 3, "max_gram": 3},
            "filter": ["lowercase", "asciifolding"],
            "text": "Müller",
        },
    )
    assert tokens == ["mul", "ull", "lle", "ler"]


def test_opensearch_index_with_german_analyzer(servers):
    url = servers.opensearch.url
    index = f"docs-{uuid.uuid4().hex[:8]}"
    r = requests.put(
        f"{url}/{index}",
        json={
            "settings": {"number_of_shards": 1, "number_of_replicas": 0},
            "mappings": {"properties": {"text": {"type": "text", "analyzer": "german"}}},
        },
        timeout=30,
    )
    assert r.status_code == 200, r.text
    r = requests.put(
        f"{url}/{index}/_doc/1", params={"refresh": "true"}, json={"text": "Offene Rechnungen"}, timeout=30
    )
    assert r.status_code in (200, 201), r.text
    r = requests.post(f"{url}/{index}/_search", json={"query": {"match": {"text": "rechnung"}}}, timeout=30)
    assert r.status_code == 200, r.text
    assert [h["_id"] for h in r.json()["hits"]["hits"]] == ["1"]


# --------------------------------------------------------------------- Redis / PostgreSQL
def test_redis_ping(servers):
    import redis

    client = redis.Redis.from_url(servers.redis.url)
    try:
        assert client.ping() is True
        client.set("kundenakte:test", "1")
        assert client.get("kundenakte:test") == b"1"
    finally:
        client.close()


def test_postgres_select_1(servers):
    import psycopg

    with psycopg.connect(servers.postgres.dsn, connect_timeout=5) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        assert conn.execute("SELECT current_database()").fetchone() == ("kundenakte",)


def test_env_points_at_the_servers(servers):
    env = servers.env()
    assert env["DMS_S3_ENDPOINT"] == f"http://127.0.0.1:{servers.minio.port}"
    assert env["DMS_REDIS_URL"] == f"redis://127.0.0.1:{servers.redis.port}/0"
    assert env["DMS_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert env["DMS_DATABASE_URL"].endswith(f"@127.0.0.1:{servers.postgres.port}/kundenakte")
    assert env["DMS_OPENSEARCH_URL"] == f"http://127.0.0.1:{servers.opensearch.port}"
    assert env["DMS_S3_ACCESS_KEY"] and env["DMS_S3_SECRET_KEY"]
    assert requests.get(env["DMS_S3_ENDPOINT"] + "/minio/health/live", timeout=5).status_code == 200
