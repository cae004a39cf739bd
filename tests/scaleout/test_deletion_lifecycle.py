"""Deleting documents on the real servers (issue #12): MinIO (documents bucket + Object Lock
archive), PostgreSQL, OpenSearch, and a Celery worker on Redis that ingests, archives and runs
approved deletion runs. Retention runs in seconds (tests/deletion_lifecycle.py), so expiry, the
sweep and legal hold are proven end to end against MinIO's own Object Lock; what is left of a
document is listed with the raw minio client (every version and delete marker, both buckets)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests import deletion_lifecycle as flow
from tests.server_env import isolated_env

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def stack(servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[flow.Stack]:
    env = isolated_env(servers.env(), "deletion")
    client = servers.minio.client()
    buckets = {"documents/": env["DMS_S3_BUCKET"], "archive/documents/": env["DMS_S3_ARCHIVE_BUCKET"]}

    def leftovers(document_id: str) -> list[str]:
        found = []
        for prefix, bucket in buckets.items():
            if not client.bucket_exists(bucket):
                continue
            for item in client.list_objects(bucket, prefix=f"{prefix}{document_id}/", recursive=True,
                                            include_version=True):
                marker = " (delete marker)" if item.is_delete_marker else ""
                found.append(f"{bucket}/{item.object_name}@{item.version_id}{marker}")
        return sorted(found)

    def read_record(document_id: str) -> dict[str, Any]:
        key = f"deletions/{document_id}.json"
        bucket = env["DMS_S3_ARCHIVE_BUCKET"]
        retention = client.get_object_retention(bucket, key)
        assert retention.mode == "COMPLIANCE" and retention.retain_until_date.year >= 2030
        response = client.get_object(bucket, key)
        try:
            return json.loads(response.read())
        finally:
            response.close()
            response.release_conn()

    found = flow.start_stack(tmp_path_factory.mktemp("deletion-s3"), {**flow.environment(), **env},
                             leftovers=leftovers, read_record=read_record, with_worker=True)
    try:
        yield found
    finally:
        found.stop()


def test_trash_restore_and_purge(stack: flow.Stack) -> None:
    flow.trash_and_restore(stack)


def test_deleting_an_older_version(stack: flow.Stack) -> None:
    flow.delete_a_version(stack)


def test_retention_legal_hold_sweep_and_approval(stack: flow.Stack) -> None:
    flow.retention_hold_sweep_and_approval(stack)


def test_object_lock_refuses_an_early_delete_of_an_archived_version(stack: flow.Stack) -> None:
    """Under retention even the raw client cannot delete the archived original: the refusal of our
    API is backed by MinIO itself."""
    from minio.error import S3Error

    customer = flow.new_customer(stack)
    body = flow.upload(stack, customer, flow.RETAINED, "Objektsperre", wait_archived=True)
    client = stack_client(stack)
    bucket = stack.env["DMS_S3_ARCHIVE_BUCKET"]
    [original] = [o for o in client.list_objects(bucket, prefix=f"archive/documents/{body['id']}/",
                                                 recursive=True, include_version=True)
                  if o.object_name.endswith("/original")]
    try:
        client.remove_object(bucket, original.object_name, version_id=original.version_id)
    except S3Error:
        refused = True
    else:
        refused = False
    response = flow.delete(stack, body["id"])
    if datetime.now(UTC) < flow.until(body):  # (always, unless this took the whole retention)
        assert refused and response.status_code == 409, response.text
    assert refused or datetime.now(UTC) >= flow.until(body)


def stack_client(stack: flow.Stack):
    from minio import Minio

    endpoint = stack.env["DMS_S3_ENDPOINT"].removeprefix("http://")
    return Minio(endpoint, access_key=stack.env["DMS_S3_ACCESS_KEY"], secret_key=stack.env["DMS_S3_SECRET_KEY"],
                 secure=False)
