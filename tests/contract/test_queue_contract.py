"""Queue contract: in-process threads and Celery on Redis run the same named tasks the same way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dms.config import Settings
from dms.documents import Upload, receive_document
from dms.services import Services, build_services
from tests.docgen import make_pdf
from tests.live import Worker


@pytest.fixture
def stack(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Services]:
    """Services with a queue, and for Celery a real `dms worker` sharing the same configuration."""
    env = {"DMS_DATA_DIR": str(tmp_path / "data")}
    if backend == "server":
        from tests.server_env import isolated_env

        env = isolated_env(request.getfixturevalue("server_env"), "queue", redis_db=14) | env
    services = build_services(Settings.from_env(env), with_queue=True)
    worker = None
    try:
        if backend == "server":
            import os

            worker = Worker({**os.environ, **env}, tmp_path / "worker.log", concurrency=1).start()
        yield services
    finally:
        if worker is not None:
            worker.stop()
        services.close()


def test_a_queued_ingest_runs_once_and_the_queue_becomes_idle(stack: Services) -> None:
    stack.queue.ping()
    stack.catalog.create_customer("Queue GmbH", number="10001", folders=stack.settings.folder_template)
    document = receive_document(stack, Upload(make_pdf(["Rechnung", "Kundennummer 10001", "Warteschlange"]), "q.pdf"))
    assert stack.queue.wait_idle(timeout=90)
    stored = stack.catalog.get_document(document.id)
    assert stored.status == "filed", stored.status_reason
    assert [e.stage for e in stack.catalog.events(document.id)].count("done") == 1


def test_task_arguments_must_be_json(stack: Services) -> None:
    with pytest.raises(TypeError):
        stack.queue.submit("ingest.process", document_id=object(), version=1)
