"""No crash loop, no poison message: a document that kills its process is tried `max_attempts`
times, then ends `failed` with a reason a clerk can read; the original stays.

Faults are real: the `dms serve` process (embedded, in-process workers) or the Celery
`dms worker` (scale-out stack) is SIGKILLed while the document is being read, as the kernel's
OOM killer would. Nothing of our code is mocked.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest

from dms import sidecars
from dms.catalog import Catalog, migrate
from dms.config import Settings
from dms.documents import Upload, receive_document
from dms.domain import Document, DocumentStatus, Version
from dms.errors import NotFound
from dms.rebuild import rebuild_catalog
from dms.services import Services
from dms.storage import LocalObjectStore, keys
from ingest.pipeline import TOO_MANY_ATTEMPTS, process_version
from tests.docgen import make_pdf, scan_pdf
from tests.hostile.conftest import HostileStack, wait_for
from tests.live import TERMINAL, Api

TWO_ATTEMPTS = "[ingest]\nmax_attempts = 2\n"
VISIBILITY_TIMEOUT = "10"  # seconds: the task of a killed worker comes back quickly


# --- helpers ------------------------------------------------------------------------------------


def slow_scan(tag: str) -> bytes:
    """A scanned PDF without a text layer: OCR keeps the document in `extract_text` for seconds."""
    pages = [
        ["Muster Handel GmbH - Rechnung", f"Vorgang {tag}", "Rechnungsnummer: RE-2026-0913",
         "Rechnungsdatum: 03.04.2026", "Gesamtbetrag: 357,00 EUR"],
        *[[f"Seite {n}: Lieferschein Position {i} Schrauben und Muttern {tag}" for i in range(25)] for n in (2, 3, 4)],
    ]
    return scan_pdf(pages)


def events(body: dict) -> list[tuple[str, str]]:
    return [(e["stage"], e["status"]) for e in body["events"]]


def wait_reading(api: Api, document_id: str, attempt: int, timeout: float = 120) -> None:
    """Until attempt number `attempt` runs the text extraction (OCR) of the document."""
    deadline = time.monotonic() + timeout
    while True:
        body = api.get(f"/documents/{document_id}").json()
        if events(body).count(("extract_text", "processing")) >= attempt and body["status"] == "processing":
            return
        assert body["status"] not in TERMINAL, body
        assert time.monotonic() < deadline, f"attempt {attempt} did not start reading: {events(body)}"
        time.sleep(0.05)


def kill_server(stack: HostileStack) -> None:
    """SIGKILL `dms serve` and its children (tesseract) at once, as the OOM killer would."""
    proc = stack.server.proc
    assert proc is not None and proc.poll() is None
    victims = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    for victim in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim.pid, signal.SIGKILL)
    proc.wait(10)
    psutil.wait_procs(victims[1:], timeout=10)


def own_work_dirs(stack: HostileStack, document_id: str) -> list[Path]:
    return [p for p in stack.leftover_work_dirs() if p.name.startswith(document_id)]


def assert_given_up(stack: HostileStack, document_id: str, original: bytes, *, started: int) -> dict:
    """The document ended `failed` (too_many_attempts) without another stage, the original intact."""
    body = stack.api.wait(document_id, timeout=60)
    assert body["status"] == "failed", body
    reason = body["status_reason"] or ""
    assert f"[{TOO_MANY_ATTEMPTS}]" in reason and f"{started}-mal abgebrochen" in reason, reason
    assert "Das Original ist gespeichert." in reason
    seen = events(body)
    assert seen.count(("load_original", "processing")) == started, seen  # no stage ran again
    assert seen[-1] == ("attempts", "failed"), seen
    assert body["latest_version"]["attempts"] == started + 1
    content = stack.api.get(f"/documents/{document_id}/content")
    assert content.status_code == 200 and content.content == original
    assert hashlib.sha256(content.content).hexdigest() == body["latest_version"]["sha256"]
    assert own_work_dirs(stack, document_id) == []
    assert stack.alive()
    return body


# --- embedded: `dms serve` with in-process workers ------------------------------------------


@pytest.mark.slow
def test_a_document_that_kills_the_server_twice_ends_failed_on_the_third_start(
    make_stack: Callable[..., HostileStack],
) -> None:
    stack = make_stack("embedded", config_toml=TWO_ATTEMPTS)
    scan = slow_scan(uuid.uuid4().hex[:8])
    document_id = stack.api.upload_ok(scan, "absturz.pdf")
    for attempt in (1, 2):
        wait_reading(stack.api, document_id, attempt)
        if attempt == 1:
            wait_for(lambda: bool(own_work_dirs(stack, document_id)), 30, "no scratch folder while reading")
        kill_server(stack)
        stack.server.start()  # same data folder and port; recover_pending queues the document again

    started = time.monotonic()
    body = assert_given_up(stack, document_id, scan, started=2)
    assert time.monotonic() - started < 30, "giving up must not wait for a stage"
    # A normal document still goes through on the same server afterwards.
    other = stack.api.upload_ok(make_pdf(["Nach dem Absturz", "Alles wieder gut"]), "danach.pdf")
    assert stack.api.wait(other, timeout=60)["status"] in ("filed", "needs_review")
    # ...and a third restart does not touch the given-up document again.
    stack.server.stop()
    stack.server.start()
    stack.api = Api(stack.server.url)
    time.sleep(2)
    assert events(stack.api.get(f"/documents/{document_id}").json()) == events(body)


@pytest.mark.slow
def test_a_crash_followed_by_a_normal_restart_files_the_document(make_stack: Callable[..., HostileStack]) -> None:
    stack = make_stack("embedded", config_toml=TWO_ATTEMPTS)
    number = stack.api.create_customer("Einmal Abgestürzt GmbH")["number"]
    scan = slow_scan(uuid.uuid4().hex[:8])
    document_id = stack.api.upload_ok(scan, "einmal.pdf", customer_number=number)
    wait_reading(stack.api, document_id, 1)
    kill_server(stack)
    stack.server.start()

    body = stack.api.wait(document_id, timeout=240)
    assert body["status"] in ("filed", "needs_review"), body
    assert body["latest_version"]["attempts"] == 2
    seen = events(body)
    assert seen.count(("load_original", "processing")) == 2, seen
    assert [e for e in seen if e[0] == "done"] == [("done", body["status"])], seen
    assert own_work_dirs(stack, document_id) == []
    assert stack.api.get(f"/documents/{document_id}/content").content == scan


# --- server: `dms serve` + a Celery `dms worker` on MinIO, OpenSearch, Redis, PostgreSQL -------


@pytest.mark.servers
@pytest.mark.slow
def test_a_document_that_kills_the_celery_worker_is_not_a_poison_message(
    make_stack: Callable[..., HostileStack],
) -> None:
    stack = make_stack("server", config_toml=TWO_ATTEMPTS, env={"DMS_CELERY_VISIBILITY_TIMEOUT": VISIBILITY_TIMEOUT})
    assert stack.worker is not None
    scan = slow_scan(uuid.uuid4().hex[:8])
    document_id = stack.api.upload_ok(scan, "giftig.pdf")
    for attempt in (1, 2):
        wait_reading(stack.api, document_id, attempt, timeout=180)
        stack.worker.kill()  # the whole process group: the main process and its pool children
        stack.worker.start()  # the unacknowledged task comes back after the visibility timeout

    body = assert_given_up(stack, document_id, scan, started=2)
    assert "succeeded" in stack.worker.log()  # the third delivery was acknowledged, not lost or retried
    time.sleep(2 * float(VISIBILITY_TIMEOUT))  # and it does not come back once more
    assert events(stack.api.get(f"/documents/{document_id}").json()) == events(body)
    assert stack.alive()


# --- the counter and the original file name in both catalogs ------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.servers)])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], str]:
    """Factory of empty, migrated catalogs of one kind (the schema comes from the migrations)."""

    def make(name: str) -> str:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / f'{name}.db'}"
        else:
            from tests.server_env import fresh_postgres_database, unique

            env = request.getfixturevalue("real_servers").env()
            url = fresh_postgres_database(env["DMS_DATABASE_URL"], unique(name).replace("-", "_"))
        assert migrate.upgrade(url) == migrate.head()
        return url

    return make


@pytest.fixture
def open_catalogs() -> Iterator[list[Catalog]]:
    opened: list[Catalog] = []
    yield opened
    for catalog in opened:
        catalog.close()


def _document(original_filename: str | None) -> tuple[Document, Version]:
    data = uuid.uuid4().bytes
    document_id = str(uuid.uuid4())
    version = Version(
        number=1, sha256=hashlib.sha256(data).hexdigest(), size=len(data), mime_type=None,
        filename="Rechnung_Maerz_final.pdf", created_at=datetime.now(UTC), created_by="tester",
        storage_key=keys.original_key(document_id, 1), original_filename=original_filename,
    )
    document = Document(
        id=document_id, customer_number=None, folder=None, document_class=None, title="Rechnung",
        source="upload", status=DocumentStatus.RECEIVED,
    )
    return document, version


def test_attempts_and_original_filename_persist_and_survive_a_rebuild(
    catalog_url: Callable[[str], str], open_catalogs: list[Catalog], tmp_path: Path
) -> None:
    catalog = Catalog(catalog_url("attempts"))
    open_catalogs.append(catalog)
    sent_as = "Rechnung März (final)/../..\\ä.PDF"
    document, version = _document(sent_as)
    created = catalog.create_document(document, version)
    assert (created.latest.original_filename, created.latest.attempts) == (sent_as, 0)

    assert [catalog.start_attempt(document.id, 1) for _ in range(3)] == [1, 2, 3]
    assert catalog.give_back_attempt(document.id, 1) == 2
    stored = catalog.get_document(document.id).latest
    assert (stored.original_filename, stored.attempts) == (sent_as, 2)
    assert catalog.latest_version(document.id).attempts == 2
    catalog.reset_attempts(document.id, 1)
    assert catalog.get_document(document.id).latest.attempts == 0
    assert catalog.give_back_attempt(document.id, 1) == 0  # never below zero
    with pytest.raises(NotFound):
        catalog.start_attempt(document.id, 2)
    assert catalog.start_attempt(document.id, 1) == 1

    # Rebuild from the sidecars: the new keys come back; sidecars of older releases lack them.
    store = LocalObjectStore(tmp_path / "objects")
    old_document, old_version = _document(None)
    for doc, ver in ((document, catalog.get_document(document.id).latest), (old_document, old_version)):
        store.put(ver.storage_key, b"original")
        sidecars.write_version(store, doc.id, ver)
        sidecars.write_document(store, doc)
    legacy = keys.load(store.get(keys.version_meta_key(old_document.id, 1)))
    legacy.pop("original_filename"), legacy.pop("attempts")
    store.put(keys.version_meta_key(old_document.id, 1), keys.dump(legacy))

    rebuilt = Catalog(catalog_url("rebuilt"))
    open_catalogs.append(rebuilt)
    assert rebuild_catalog(store, rebuilt)["documents"] == 2
    restored = rebuilt.get_document(document.id).latest
    assert (restored.original_filename, restored.attempts) == (sent_as, 1)
    legacy_restored = rebuilt.get_document(old_document.id).latest
    assert (legacy_restored.original_filename, legacy_restored.attempts) == (None, 0)
    assert rebuilt.start_attempt(old_document.id, 1) == 1


# --- the pipeline's guard, run directly (embedded backends) ----------------------------------------


def test_a_version_over_its_attempts_fails_without_running_a_stage(services: Services) -> None:
    document = receive_document(services, Upload(make_pdf(["Schon dreimal abgestürzt"]), "x.pdf"))
    for _ in range(3):  # three attempts that never came back
        services.catalog.start_attempt(document.id, 1)
    leftover = services.settings.work_dir / f"{document.id}-v1-a3"
    (leftover / "page-1").mkdir(parents=True)
    ctx = process_version(services, document.id, 1)
    assert ctx.status == "failed" and ctx.attempt == 4
    failed = services.catalog.get_document(document.id)
    assert failed.status == "failed" and f"[{TOO_MANY_ATTEMPTS}]" in (failed.status_reason or "")
    assert "3-mal abgebrochen" in (failed.status_reason or "")
    stages = [e.stage for e in services.catalog.events(document.id)]
    assert "load_original" not in stages and stages[-1] == "attempts"
    assert not leftover.exists() and list(services.settings.work_dir.glob(f"{document.id}*")) == []
    # the document sidecar says so too (a rebuild keeps it failed)
    assert keys.load(services.store.get(keys.document_key(document.id)))["status"] == "failed"

    # A late second delivery records nothing new; a manual reprocess (force) starts counting anew.
    count = len(services.catalog.events(document.id))
    assert process_version(services, document.id, 1).status == "failed"
    assert len(services.catalog.events(document.id)) == count
    forced = process_version(services, document.id, 1, force=True)
    assert forced.status in ("filed", "needs_review") and forced.attempt == 1


def test_each_attempt_gets_its_own_scratch_folder_and_a_deadline(services: Services) -> None:
    document = receive_document(services, Upload(make_pdf(["Ganz normal"]), "normal.pdf"))
    before = time.monotonic()
    ctx = process_version(services, document.id, 1)
    assert ctx.status in ("filed", "needs_review") and ctx.attempt == 1
    assert ctx.workdir == str(services.settings.work_dir / f"{document.id}-v1-a1")
    assert not Path(ctx.workdir).exists()
    assert ctx.deadline is not None
    assert ctx.deadline >= before + services.settings.limit("ingest", "max_seconds")
    # a finished version is not processed again and not counted again
    again = process_version(services, document.id, 1)
    assert again.status == ctx.status
    assert services.catalog.get_document(document.id).latest.attempts == 1


def test_a_backend_outage_gives_the_attempt_back(tmp_path: Path) -> None:
    """The object store is really unreachable (S3 on a closed port): the attempt does not count."""
    from dms.errors import BackendUnavailable
    from dms.services import build_services
    from tests.live import free_port

    settings = Settings.from_env({"DMS_DATA_DIR": str(tmp_path / "data")})
    services = build_services(settings, with_queue=False)
    try:
        document = receive_document(services, Upload(make_pdf(["Speicher weg"]), "weg.pdf"))
        from dms.storage.s3 import S3ObjectStore

        dead = S3ObjectStore(endpoint=f"http://127.0.0.1:{free_port()}", access_key="x", secret_key="y", bucket="weg")
        broken = Services(settings, store=dead, catalog=services.catalog, index=services.index)
        with pytest.raises(BackendUnavailable):
            process_version(broken, document.id, 1)
        assert services.catalog.get_document(document.id).latest.attempts == 0
        assert list(settings.work_dir.glob(f"{document.id}*")) == []
        assert process_version(services, document.id, 1).attempt == 1
    finally:
        services.close()
