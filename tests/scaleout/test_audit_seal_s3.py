"""Sealing the audit trail on the real servers: PostgreSQL catalog, MinIO Object Lock archive.

The seal objects are WORM on the server: the raw minio client cannot delete them. A rewrite of
the whole chain in PostgreSQL with consistently recomputed hashes passes the plain chain check,
and `dms audit verify` still names the altered entry from the sealed copy, also when the
catalog's seal rows were deleted as well.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

import pytest
import sqlalchemy as sa
from minio.error import S3Error

from dms.catalog import Catalog, migrate
from dms.catalog.models import AuditSealRow
from dms.storage.s3 import S3ArchiveStore
from retention.policy import BERLIN, year_end
from tests.server_env import isolated_env
from tests.test_audit_seal import PREFIX, Trail, assert_rewrite_found, cli_env, first_seal, rewrite_chain

pytestmark = pytest.mark.servers


@pytest.fixture
def trail(servers, tmp_path) -> Iterator[Trail]:
    env = isolated_env(servers.env(), "seal")
    migrate.upgrade(env["DMS_DATABASE_URL"])
    catalog = Catalog(env["DMS_DATABASE_URL"])
    archive = S3ArchiveStore(servers.minio.endpoint, servers.minio.access_key, servers.minio.secret_key,
                             env["DMS_S3_ARCHIVE_BUCKET"])
    archive.ensure_bucket()
    try:
        yield Trail(cli_env(tmp_path / "data", env), catalog, archive)
    finally:
        catalog.close()


def test_a_seal_is_locked_on_the_server_and_cannot_be_deleted(trail: Trail, servers) -> None:
    ids, key = first_seal(trail)
    bucket = trail.env["DMS_S3_ARCHIVE_BUCKET"]
    client = servers.minio.client()
    listed = list(client.list_objects(bucket, prefix=PREFIX, recursive=True, include_version=True))
    assert {o.object_name for o in listed} == {key, key.removesuffix(".jsonl") + ".manifest.json"}
    until = year_end(datetime.now(BERLIN).date(), 10)
    for item in listed:
        retention = client.get_object_retention(bucket, item.object_name, version_id=item.version_id)
        assert retention.mode == "COMPLIANCE" and retention.retain_until_date == until
        with pytest.raises(S3Error):
            client.remove_object(bucket, item.object_name, version_id=item.version_id)
        assert client.stat_object(bucket, item.object_name, version_id=item.version_id).size == item.size
    lines = [json.loads(line) for line in trail.archive.get(key).decode("utf-8").splitlines()]
    assert [line["id"] for line in lines] == ids
    (row,) = trail.catalog.seals.all()
    assert row.version_id == next(o.version_id for o in listed if o.object_name == key)

    # a delete without version id only adds a delete marker; the sealed version stays readable
    client.remove_object(bucket, key)
    assert client.get_object(bucket, key, version_id=row.version_id).read().decode("utf-8").count("\n") == len(ids)
    verified = trail.verify()
    assert verified.returncode == 0, verified.stderr
    assert f"Siegel intakt: 1 Siegel, {len(ids)} versiegelte Einträge" in verified.stdout


def test_a_second_seal_covers_only_new_entries(trail: Trail) -> None:
    ids, _key = first_seal(trail)
    assert "Nichts zu versiegeln" in trail.seal().stdout
    new = trail.add(2, action="customer.read")
    result = trail.seal()
    assert result.returncode == 0, result.stderr
    first, second = trail.catalog.seals.all()
    assert second.first_seq == ids[-1] + 1 and second.last_seq == new[-1]
    lines = [json.loads(line) for line in trail.archive.get(second.key).decode("utf-8").splitlines()]
    assert [line["action"] for line in lines] == ["audit.sealed", "customer.read", "customer.read"]
    assert lines[0]["prev_hash"] == first.head_hash


def test_verify_finds_a_rewritten_chain_via_the_sealed_copy(trail: Trail) -> None:
    ids, _key = first_seal(trail)
    trail.add(2)
    rewrite_chain(trail.catalog, ids[3], details={"harmlos": True})
    assert_rewrite_found(trail, ids[3])
    with trail.catalog.engine.begin() as conn:
        conn.execute(sa.delete(AuditSealRow))
    assert_rewrite_found(trail, ids[3])  # found by listing the archive
