"""Hostile-input tier: real `dms serve` (and on the scale-out stack a real `dms worker`) fed
with inputs an attacker or an unlucky scanner would send; memory is measured, not guessed.

`hostile_stack` is one stack per backend kind for the whole session; `make_stack` starts a
fresh one (e.g. with a TOML override of the limits) for tests that restart or kill it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from tests.live import Api, LiveServer, Worker

MB = 1024 * 1024


def tree_rss(pid: int) -> int:
    """Resident memory of a process and all its descendants, in bytes (0 when gone)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += proc.memory_info().rss
    return total


class TreeMemory:
    """Samples the RSS of process trees every `interval` seconds in a thread; `peak_mb` is the max."""

    def __init__(self, *pids: int, interval: float = 0.02) -> None:
        self.pids, self.interval = pids, interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, sum(tree_rss(pid) for pid in self.pids))
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    @property
    def peak_mb(self) -> float:
        return self.peak / MB


class HostileStack:
    """A `dms serve` (+ a `dms worker` on the scale-out stack) on its own data folder."""

    def __init__(self, kind: str, base: Path, env: dict[str, str]) -> None:
        self.kind, self.base = kind, base
        self.server = LiveServer(base / "data", env=env)
        self.worker: Worker | None = None
        self.api = Api(self.server.url)

    @property
    def env(self) -> dict[str, str]:
        return self.server.env

    @property
    def work_dir(self) -> Path:
        return Path(self.env.get("DMS_WORK_DIR") or self.server.data_dir / "work")

    def start(self) -> HostileStack:
        self.server.start()
        if self.kind == "server":
            self.worker = Worker(self.server.env, self.base / "worker.log", concurrency=2).start()
        self.api = Api(self.server.url)
        return self

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        self.server.stop()

    def pids(self) -> list[int]:
        """The processes that hold memory for this stack (web process, worker and their children)."""
        procs = [self.server.proc, self.worker.proc if self.worker else None]
        return [p.pid for p in procs if p is not None and p.poll() is None]

    def memory(self) -> TreeMemory:
        return TreeMemory(*self.pids())

    def alive(self) -> bool:
        """The service still answers (health 200) and its processes are running."""
        try:
            ok = self.api.get("/health").status_code == 200
        except Exception:
            return False
        return ok and len(self.pids()) == (2 if self.worker else 1)

    def leftover_work_dirs(self) -> list[Path]:
        return sorted(self.work_dir.glob("*")) if self.work_dir.exists() else []


def _new_stack(
    request: pytest.FixtureRequest, base: Path, kind: str, config_toml: str | None, env: dict[str, str] | None
) -> HostileStack:
    stack_env: dict[str, str] = {}
    if kind == "server":
        from tests.server_env import isolated_env

        stack_env = isolated_env(request.getfixturevalue("real_servers").env(), "hostile")
    if config_toml is not None:
        config = base / "limits.toml"
        config.write_text(config_toml, encoding="utf-8")
        stack_env["DMS_CONFIG"] = str(config)
    stack_env.update(env or {})
    return HostileStack(kind, base, stack_env)


def _stack_factory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., HostileStack]]:
    started: list[HostileStack] = []

    def factory(kind: str, config_toml: str | None = None, env: dict[str, str] | None = None) -> HostileStack:
        stack = _new_stack(request, tmp_path_factory.mktemp(f"hostile-{kind}"), kind, config_toml, env)
        started.append(stack)
        return stack.start()

    try:
        yield factory
    finally:
        for stack in started:
            stack.stop()


@pytest.fixture
def make_stack(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[
    Callable[..., HostileStack]
]:
    """Factory for one test: make_stack("embedded" | "server", config_toml=None, env=None) -> a started
    stack of its own (own data folder, catalog, buckets, index and Celery queue), stopped after the test."""
    yield from _stack_factory(request, tmp_path_factory)


@pytest.fixture(scope="module")
def module_stacks(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[
    Callable[..., HostileStack]
]:
    """The same factory for module-scoped fixtures: its stacks stop after the module."""
    yield from _stack_factory(request, tmp_path_factory)


@pytest.fixture(scope="session", params=["embedded", "server"])
def hostile_stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileStack]:
    """One stack per backend kind, shared by the tests that do not restart or kill it."""
    stack = _new_stack(request, tmp_path_factory.mktemp(f"hostile-{request.param}"), request.param, None, None)
    try:
        yield stack.start()
    finally:
        stack.stop()


def wait_for(predicate: Callable[[], bool], timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.1)
