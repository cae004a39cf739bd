"""Task names → plain functions. The in-process queue and Celery both dispatch through here.

`INGEST_TASK` is the one name of the ingest task; queueing it and recovering unfinished ingests
happen here too, so entry points never spell the name themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from dms import sidecars
from dms.app.services import Services
from dms.domain import DocumentStatus
from dms.errors import BackendUnavailable, ValidationError

log = logging.getLogger(__name__)

INGEST_TASK = "ingest.process"
FINAL = {DocumentStatus.FILED, DocumentStatus.NEEDS_REVIEW, DocumentStatus.FAILED}


def _ingest_process(services: Services, document_id: str, version: int, force: bool = False) -> dict[str, Any]:
    """Ingest one version. Every delivery counts an attempt (see ingest.pipeline.process_version);
    `force` reprocesses a finished version and then starts counting attempts from zero."""
    from ingest.pipeline import process_version  # the stages load heavy libraries: only when a task runs

    ctx = process_version(services, document_id, int(version), force=force)
    return {"document_id": document_id, "version": ctx.version, "status": ctx.status}


TASKS: dict[str, Callable[..., Any]] = {
    INGEST_TASK: _ingest_process,
}


def run_task(services: Services, name: str, kwargs: dict[str, Any]) -> Any:
    try:
        func = TASKS[name]
    except KeyError as exc:
        raise ValidationError(f"Unbekannte Aufgabe {name!r}.") from exc
    return func(services, **kwargs)


def queue_ingest(services: Services, document_id: str, version: int) -> None:
    """Queue the ingest of one version (nothing without a queue: the caller runs the pipeline itself)."""
    if services.queue is not None:
        services.queue.submit(INGEST_TASK, document_id=document_id, version=version)


def recover_pending(services: Services) -> int:
    """Queue again what was received or in progress when the process stopped."""
    if services.queue is None:
        return 0
    ids = services.catalog.documents.pending_ids()
    for document_id in ids:
        latest = services.catalog.documents.latest_version(document_id)
        queue_ingest(services, document_id, latest.number)
    return len(ids)


# --- giving up (Celery retries exhausted, see dms/queue/celery_app.py) ---------------------------


def _give_up_ingest(services: Services, kwargs: dict[str, Any], reason: str) -> None:
    documents = services.catalog.documents
    document_id, version = str(kwargs["document_id"]), int(kwargs["version"])
    document = documents.get(document_id)
    latest = document.latest
    if latest is None or latest.number != version or document.status in FINAL:
        return  # a newer version owns the status, or the document already finished
    services.catalog.outbox.set_final_status(  # + the webhook event, one transaction
        document_id, version, DocumentStatus.FAILED, stage="queue", reason=reason
    )
    try:
        sidecars.write_document(services.store, documents.get(document_id))
    except BackendUnavailable:
        log.warning("sidecar of %s not written: object store unavailable", document_id)


GIVE_UP: dict[str, Callable[[Services, dict[str, Any], str], None]] = {
    INGEST_TASK: _give_up_ingest,
}
