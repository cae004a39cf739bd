"""One contract suite, two implementations: every backend fixture is parametrised over
`embedded` (local files, SQLite, FTS5, threads) and `server` (MinIO, PostgreSQL, OpenSearch,
Celery on Redis — real processes started by tests/servers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server_env import fresh_postgres_database, unique

BACKENDS = ["embedded", "server"]


@pytest.fixture(scope="session")
def server_env(real_servers) -> dict[str, str]:
    return real_servers.env()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def store(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[object]:
    if backend == "embedded":
        from dms.storage import LocalObjectStore

        yield LocalObjectStore(tmp_path / "objects")
        return
    env = request.getfixturevalue("server_env")
    from dms.storage.s3 import S3ObjectStore

    s3 = S3ObjectStore(
        endpoint=env["DMS_S3_ENDPOINT"],
        access_key=env["DMS_S3_ACCESS_KEY"],
        secret_key=env["DMS_S3_SECRET_KEY"],
        bucket=unique("contract").lower(),
    )
    s3.ensure_bucket()
    yield s3


@pytest.fixture
def index(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[object]:
    if backend == "embedded":
        from dms.search import EmbeddedSearchIndex

        yield EmbeddedSearchIndex(tmp_path / "search.db")
        return
    env = request.getfixturevalue("server_env")
    from dms.search.opensearch import OpenSearchIndex

    search_index = OpenSearchIndex(env["DMS_OPENSEARCH_URL"], alias=unique("contract").lower())
    search_index.ensure_index()
    try:
        yield search_index
    finally:
        search_index.drop()


@pytest.fixture
def catalog(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[object]:
    from dms.catalog import Catalog

    if backend == "embedded":
        cat = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
        cat.create_schema()
        yield cat
        cat.close()
        return
    env = request.getfixturevalue("server_env")
    cat = Catalog(fresh_postgres_database(env["DMS_DATABASE_URL"], unique("contract").replace("-", "_")))
    cat.create_schema()
    yield cat
    cat.close()
