"""Celery on Redis end to end: a real `dms serve`, real worker processes, real Redis and PostgreSQL.

Faults are real: a worker is SIGKILLed mid-task, PostgreSQL is stopped and started again.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from dms.config import Settings
from dms.documents import Upload, read_content, receive_document
from dms.errors import BackendUnavailable
from dms.queue.celery_app import give_up, make_celery
from dms.queue.celery_queue import CeleryQueue
from dms.services import Services, build_services
from tests.docgen import make_pdf, scan_pdf
from tests.live import TERMINAL, Api, LiveServer, Worker
from tests.server_env import fresh_postgres_database, unique
from tests.servers import PostgresServer, make_base_dir

VISIBILITY_TIMEOUT = "10"  # seconds: a killed worker's task comes back quickly
_redis_db = itertools.count(1)


# --- processes --------------------------------------------------------------------------------

# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def celery_env(server_env: dict[str, str]) -> dict[str, str]:
    """Redis (an own database number per test) and a fresh PostgreSQL database; the rest embedded."""
    redis = make_url(server_env["DMS_REDIS_URL"]).set(database=str(1 + next(_redis_db) % 15))
    database = fresh_postgres_database(server_env["DMS_DATABASE_URL"], unique("celery").replace("-", "_"))
    return {
        "DMS_REDIS_URL": redis.render_as_string(hide_password=False),
        "DMS_DATABASE_URL": database,
        "DMS_CELERY_VISIBILITY_TIMEOUT": VISIBILITY_TIMEOUT,
    }


class Stack:
    """A `dms serve` and its workers, sharing one data folder (embedded objects and search)."""

    def __init__(self, env: dict[str, str], tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.server = LiveServer(tmp_path / "data", env=env)
        self.env = self.server.env
        self.workers: list[Worker] = []

    def start_worker(self) -> Worker:
        worker = Worker(self.env, self.tmp_path / f"worker-{len(self.workers) + 1}.log")
        self.workers.append(worker)
        return worker.start()

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.server.stop()


@pytest.fixture
def stack(celery_env: dict[str, str], tmp_path: Path) -> Iterator[Stack]:
    running = Stack(celery_env, tmp_path)
    try:
        running.server.start()
        yield running
    finally:
        running.stop()


def _events(body: dict) -> list[tuple[str, str]]:
    return [(e["stage"], e["status"]) for e in body["events"]]


# --- end to end -------------------------------------------------------------------------------


@pytest.mark.servers
def test_an_upload_is_filed_by_a_celery_worker(stack: Stack) -> None:
    worker = stack.start_worker()
    api = Api(stack.server.url)
    assert api.get("/health").json()["backends"]["queue"] == "ok"
    customer = api.create_customer("Celery Handel GmbH")
    pdf = make_pdf([
        "Muster Handel GmbH - Rechnung",
        "Rechnungsnummer: RE-2026-0901   Rechnungsdatum: 01.04.2026",
        "Gesamtbetrag: 119,00 EUR",
    ])
    document_id = api.upload_ok(pdf, "rechnung.pdf", customer_number=customer["number"])
    body = api.wait(document_id, timeout=60)
    assert body["status"] == "filed", body
    assert _events(body)[-1] == ("done", "filed")
    assert "Task ingest.process[" in worker.log() and "succeeded" in worker.log()


@pytest.mark.servers
@pytest.mark.slow
def test_a_killed_worker_loses_nothing_and_files_once(stack: Stack) -> None:
    worker = stack.start_worker()
    api = Api(stack.server.url)
    number = api.create_customer("Kill Test GmbH")["number"]
    pages = [
        ["Muster Handel GmbH - Rechnung", f"Kundennummer {number}", "Rechnungsnummer: RE-2026-0902",
         "Rechnungsdatum: 02.04.2026", "Gesamtbetrag: 238,00 EUR"],
        *[[f"Seite {n}: Lieferschein Position {i} Schrauben und Muttern" for i in range(25)] for n in (2, 3, 4)],
    ]
    scan = scan_pdf(pages)
    sha256 = hashlib.sha256(scan).hexdigest()
    document_id = api.upload_ok(scan, "scan.pdf", customer_number=number)

    deadline = time.monotonic() + 60
    while True:  # kill while OCR runs
        body = api.get(f"/documents/{document_id}").json()
        if ("extract_text", "processing") in _events(body):
            break
        assert body["status"] not in TERMINAL and time.monotonic() < deadline, body
        time.sleep(0.05)
    worker.kill()
    assert api.get(f"/documents/{document_id}").json()["status"] == "processing"

    stack.start_worker()
    body = api.wait(document_id, timeout=240)
    assert body["status"] == "filed", body
    events = _events(body)
    assert events.count(("load_original", "processing")) >= 2, events  # the task really ran again
    assert [e for e in events if e[0] == "done"] == [("done", "filed")], events
    assert len(body["versions"]) == 1
    listed = api.get("/documents", params={"customer": number}).json()["documents"]
    assert [d["id"] for d in listed if d["latest_version"]["sha256"] == sha256] == [document_id]
    time.sleep(2 * float(VISIBILITY_TIMEOUT))  # a late second delivery must not add events
    assert _events(api.get(f"/documents/{document_id}").json()) == events


# --- retries ----------------------------------------------------------------------------------


class RestartablePostgres(PostgresServer):
    """A private PostgreSQL that can be stopped and started again on the same data and port."""

    _launch: tuple[list[str], dict[str, str], str | None]

    def _prepare(self) -> tuple[list[str], dict[str, str], str | None]:
        self._launch = super()._prepare()
        return self._launch

    def restart(self, timeout: float = 30) -> None:
        argv, extra, user = self._launch
        if user:
            argv = ["runuser", "-u", user, "--", *argv]
        self._log_fh = open(self.log_path, "ab")  # noqa: SIM115 - closed by stop()
        self.proc = subprocess.Popen(
            argv, env={**os.environ, **extra}, stdin=subprocess.DEVNULL, stdout=self._log_fh,
            stderr=subprocess.STDOUT, cwd=self.dir, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self._healthy():
                    return
            except Exception:  # noqa: BLE001 - not up yet
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.2)


@pytest.fixture
def own_postgres() -> Iterator[RestartablePostgres]:
    base = make_base_dir("kundenakte-retry-")
    server = RestartablePostgres()
    try:
        server.start(base)
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.servers
def test_a_task_is_retried_while_postgres_is_down_and_then_succeeds(
    celery_env: dict[str, str], own_postgres: RestartablePostgres, tmp_path: Path
) -> None:
    env = {**os.environ, **celery_env, "DMS_DATABASE_URL": own_postgres.url, "DMS_DATA_DIR": str(tmp_path / "data")}
    settings = Settings.from_env(env)
    services = build_services(settings, with_queue=False)
    document = receive_document(services, Upload(make_pdf(["Wiederholung bitte"]), "retry.pdf"))
    services.close()
    worker = Worker(env, tmp_path / "worker.log").start()
    app = make_celery(settings)
    queue = CeleryQueue(app)
    try:
        own_postgres.stop()
        result = app.AsyncResult(queue.submit("ingest.process", document_id=document.id, version=1))
        deadline = time.monotonic() + 60
        while result.state != "RETRY":
            assert time.monotonic() < deadline, (result.state, worker.log()[-3000:])
            time.sleep(0.1)
        own_postgres.restart()
        outcome = result.get(timeout=120)
        assert outcome["status"] in ("filed", "needs_review"), outcome
        assert "Retry in" in worker.log()
        assert queue.wait_idle(timeout=30)
    finally:
        queue.shutdown()
        worker.stop()
    services = build_services(settings, with_queue=False)
    try:
        assert services.catalog.get_document(document.id).status == outcome["status"]
    finally:
        services.close()


# --- plain functions and the queue client -------------------------------------------------------


def _received(services: Services, text: str) -> str:
    return receive_document(services, Upload(make_pdf([text]), "x.pdf")).id


def test_give_up_ends_the_document_failed_and_keeps_the_original(services: Services) -> None:
    document_id = _received(services, "Aufgegeben")
    services.catalog.set_status(document_id, "processing", stage="extract_text")
    error = BackendUnavailable("Objektspeicher nicht erreichbar")
    give_up(services, "ingest.process", {"document_id": document_id, "version": 1}, error, retries=8)
    document = services.catalog.get_document(document_id)
    assert document.status == "failed"
    assert document.status_reason is not None
    assert "Objektspeicher nicht erreichbar [backend_unavailable]" in document.status_reason
    assert services.catalog.events(document_id)[-1].stage == "queue"
    assert read_content(services, document_id)[1].startswith(b"%PDF")


def test_give_up_leaves_finished_and_superseded_versions_alone(services: Services) -> None:
    filed = _received(services, "Schon fertig")
    services.catalog.set_status(filed, "filed", stage="done")
    error = BackendUnavailable("weg")
    give_up(services, "ingest.process", {"document_id": filed, "version": 1}, error, retries=8)
    assert services.catalog.get_document(filed).status == "filed"
    give_up(services, "ingest.process", {"document_id": filed, "version": 2}, error, retries=8)
    assert services.catalog.get_document(filed).status == "filed"
    give_up(services, "unknown.task", {}, error, retries=8)  # no handler: nothing to record


def test_the_queue_client_rejects_non_json_and_reports_a_dead_broker(tmp_path: Path) -> None:
    from tests.live import free_port

    settings = Settings.from_env({"DMS_DATA_DIR": str(tmp_path), "DMS_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    queue = CeleryQueue(make_celery(settings))
    try:
        with pytest.raises(TypeError):
            queue.submit("ingest.process", document_id=object(), version=1)
        with pytest.raises(BackendUnavailable):
            queue.ping()
    finally:
        queue.shutdown()
