"""Born-digital PDFs over HTTP: throughput (upload -> searchable) and time to searchable."""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

from bench.scans import letter_lines, make_pdf

TTS_POLL = 0.025


# ----------------------------------------------------------------------------- live server

def born_digital_pdf(index: int, unique: str, run_token: str) -> bytes:
    rng = random.Random(10_000 + index)
    lines = letter_lines(rng, extra=f"Vorgangskennung {unique} Lauf {run_token}", max_lines=40)
    return make_pdf([lines])


def token(rng: random.Random, length: int = 8) -> str:
    """A made-up word the stemmer leaves alone (ends in q) and nothing else in the index contains."""
    return "kx" + "".join(rng.choice("bcdfghjklmnprstvwz") for _ in range(length)) + "q"


@dataclass
class LiveResult:
    docs_per_s: float | None = None
    throughput_docs: int = 0
    throughput_seconds: float = 0.0
    tts: list[float] = field(default_factory=list)
    error: str | None = None


def _search_total(session: requests.Session, base: str, q: str) -> int:
    response = session.get(base + "/search", params={"q": q, "limit": "1"}, timeout=30)
    response.raise_for_status()
    return int(response.json()["total"])


def measure_live(url: str, docs: int, tts_docs: int, clients: int, rng: random.Random) -> LiveResult:
    base = url + "/api/v1"
    session = requests.Session()
    response = session.post(base + "/customers", json={"name": "Benchmark Handelsgesellschaft mbH"}, timeout=60)
    response.raise_for_status()
    customer = response.json()["number"]
    result = LiveResult()

    # Throughput: N distinct PDFs uploaded by a few client threads; done when all N are searchable.
    run_token = token(rng)
    uniques = [token(rng) for _ in range(docs)]
    pdfs = [born_digital_pdf(i, uniques[i], run_token) for i in range(docs)]
    local = threading.local()

    def upload(index: int) -> None:
        http = getattr(local, "http", None) or requests.Session()
        local.http = http
        answer = http.post(base + "/documents", files={"file": (f"brief_{index:04d}.pdf", pdfs[index])},
                           data={"customer_number": customer}, timeout=120)
        if answer.status_code != 202:
            raise RuntimeError(f"upload {index}: HTTP {answer.status_code} {answer.text[:200]}")

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(upload, range(docs)))
    deadline = start + max(120.0, docs * 2.0)
    while _search_total(session, base, run_token) < docs:
        if time.perf_counter() > deadline:
            found = _search_total(session, base, run_token)
            result.error = f"only {found}/{docs} searchable after {deadline - start:.0f} s"
            return result
        time.sleep(0.05)
    result.throughput_seconds = time.perf_counter() - start
    result.throughput_docs = docs
    result.docs_per_s = docs / result.throughput_seconds
    missing = [u for u in uniques if _search_total(session, base, u) != 1]
    if missing:
        result.error = f"{len(missing)} unique words not found exactly once (e.g. {missing[0]})"
        return result

    # Time to searchable: one at a time, upload request start -> first hit for its unique word.
    for i in range(tts_docs):
        unique = token(rng)
        data = born_digital_pdf(docs + i, unique, run_token)
        start = time.perf_counter()
        answer = session.post(base + "/documents", files={"file": (f"einzeln_{i:03d}.pdf", data)},
                              data={"customer_number": customer}, timeout=120)
        if answer.status_code != 202:
            result.error = f"upload: HTTP {answer.status_code} {answer.text[:200]}"
            return result
        while _search_total(session, base, unique) < 1:
            if time.perf_counter() - start > 60:
                result.error = f"document {i} not searchable after 60 s"
                return result
            time.sleep(TTS_POLL)
        result.tts.append(time.perf_counter() - start)
    return result


def scaleout_wired() -> str | None:
    """None when `dms worker` exists, else why the scale-out row is n/a."""
    dms = Path(sys.executable).with_name("dms")
    done = subprocess.run([str(dms), "--help"], capture_output=True, text=True, check=False)
    if not re.search(r"^\s+worker\b", done.stdout, re.MULTILINE):
        return "scale-out backends not wired"
    return None


@contextlib.contextmanager
def live_server(workdir: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    from tests.live import LiveServer

    server = LiveServer(workdir / "data", env=env)
    try:
        server.start()
        yield server.url
    finally:
        server.stop()


WORKER_CONCURRENCY = 2  # one Celery worker process per core


@contextlib.contextmanager
def worker_process(workdir: Path, env: dict[str, str], timeout: float = 60) -> Iterator[None]:
    """A `dms worker` in its own process group (so stopping it takes its pool children too), ready to work."""
    log_path = workdir / "worker.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dms.cli", "worker", "--concurrency", str(WORKER_CONCURRENCY)],
            env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout
        while " ready." not in log_path.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dms worker did not start: {log_path.read_text(errors='replace')[-500:]}")
            time.sleep(0.2)
        yield
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


def measure_scaleout(workdir: Path, docs: int, tts_docs: int, clients: int, rng: random.Random) -> LiveResult:
    reason = scaleout_wired()
    if reason:
        return LiveResult(error=f"n/a ({reason})")
    try:
        from tests.servers import make_base_dir, start_all
    except ImportError as exc:
        return LiveResult(error=f"n/a (tests.servers not importable: {exc})")
    base = make_base_dir("kundenakte-bench-servers-")
    servers = None
    try:
        servers = start_all(base)
        env = servers.env()
        data_dir = workdir / "scaleout"
        data_dir.mkdir()
        with contextlib.ExitStack() as stack:
            url = stack.enter_context(live_server(data_dir, env))
            if env.get("DMS_REDIS_URL"):
                stack.enter_context(worker_process(data_dir, {"DMS_DATA_DIR": str(data_dir / "data"), **env}))
            return measure_live(url, docs, tts_docs, clients, rng)
    except Exception as exc:  # report instead of failing the whole run
        return LiveResult(error=f"failed: {exc!r}"[:300])
    finally:
        if servers is not None:
            with contextlib.suppress(Exception):
                servers.stop_all()
        shutil.rmtree(base, ignore_errors=True)

