"""Fixtures: real app processes, real backends, real files. Nothing of ours is mocked."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from dms.config import Settings
from dms.services import Services, build_services
from tests.live import Api, LiveServer, Worker

_counter = itertools.count(1)


@pytest.fixture(scope="session")
def real_servers() -> Iterator[object]:
    """MinIO, OpenSearch, Redis and PostgreSQL as real processes on loopback, once per session.

    Started lazily by the first test that needs them; one that cannot start fails the run
    with its log tail (never skipped). Not under pytest's tmp_path: that is 0700, and
    OpenSearch/PostgreSQL run as an unprivileged user that must reach its data folders.
    """
    import shutil
    import sys
    import time

    from tests.servers import make_base_dir, start_all

    base = make_base_dir()
    started = time.monotonic()
    server_set = start_all(base)
    times = ", ".join(f"{k} {v:.1f}s" for k, v in server_set.startup_seconds().items())
    print(f"\n[servers] up in {time.monotonic() - started:.1f}s ({times}) under {base}", file=sys.stderr)
    try:
        yield server_set
    finally:
        server_set.stop_all()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session", params=["embedded", "server"])
def live_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """`dms serve` on embedded defaults, and on the real servers with a `dms worker` (Celery)."""
    base = tmp_path_factory.mktemp(f"live-{request.param}")
    env: dict[str, str] = {}
    if request.param == "server":
        from tests.server_env import isolated_env

        env = isolated_env(request.getfixturevalue("real_servers").env(), "api")
    server = LiveServer(base / "data", env=env)
    worker = None
    try:
        server.start()
        if request.param == "server":
            worker = Worker(server.env, base / "worker.log", concurrency=2).start()
        yield server
    finally:
        if worker is not None:
            worker.stop()
        server.stop()


@pytest.fixture(scope="session")
def api(live_server: LiveServer) -> Api:
    return Api(live_server.url)


@pytest.fixture
def customer(api: Api) -> dict:
    """A fresh customer for one test."""
    return api.create_customer(f"Testkunde {next(_counter)} GmbH")


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    """Embedded backends in a temp folder, without a queue (stages are run directly)."""
    svc = build_services(Settings.from_env({"DMS_DATA_DIR": str(tmp_path / "data")}), with_queue=False)
    try:
        yield svc
    finally:
        svc.close()
