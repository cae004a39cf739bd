"""Fixtures: real app processes, real backends, real files. Nothing of ours is mocked."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from dms.config import Settings
from dms.services import Services, build_services
from tests.live import Api, LiveServer

_counter = itertools.count(1)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """`dms serve` on embedded defaults in a fresh data folder."""
    server = LiveServer(tmp_path_factory.mktemp("live") / "data").start()
    try:
        yield server
    finally:
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
