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
MAIL_POLL_TASK = "mail.poll"  # periodic (dms worker --beat) when [mail.imap] host is set
FINAL = {DocumentStatus.FILED, DocumentStatus.NEEDS_REVIEW, DocumentStatus.FAILED}


def _ingest_process(services: Services, document_id: str, version: int, force: bool = False) -> dict[str, Any]:
    """Ingest one version. Every delivery counts an attempt (see ingest.pipeline.process_version);
    `force` reprocesses a finished version and then starts counting attempts from zero."""
    from ingest.pipeline import process_version  # the stages load heavy libraries: only when a task runs

    ctx = process_version(services, document_id, int(version), force=force)
    if ctx.status == DocumentStatus.FILED:
        from dms.app.customer_status import after_filing

        after_filing(services, document_id)  # [customers] auto_status_on_invoice (issue 14)
    return {"document_id": document_id, "version": ctx.version, "status": ctx.status}


def _mail_poll(services: Services) -> dict[str, Any]:
    """Read the IMAP mailbox once (never two runs at once); see mail_gateway/poll_task.py."""
    from mail_gateway.poll_task import run_periodic_poll  # the mail gateway loads only when it runs

    return run_periodic_poll(services)


RETENTION_SWEEP_TASK = "retention.sweep"  # daily (dms worker --beat): delete what no retention keeps any more
TRASH_PURGE_TASK = "trash.purge"  # daily: delete what has been in the trash for [deletion] trash_days
RETENTION_EXECUTE_TASK = "retention.execute"  # a deletion run a second admin approved


def _summary(run: Any) -> dict[str, Any]:
    return {"run_id": run.id, "kind": run.kind, "status": run.status, "planned": len(run.planned),
            "deleted": run.deleted, "skipped": run.skipped, "failed": run.failed}


def _retention_sweep(services: Services) -> dict[str, Any]:
    from dms.app.deletion_runs import SCHEDULER, sweep

    return _summary(sweep(services, SCHEDULER, trigger="schedule"))


def _trash_purge(services: Services) -> dict[str, Any]:
    from dms.app.deletion_runs import SCHEDULER, purge_trash

    return _summary(purge_trash(services, SCHEDULER, trigger="schedule"))


def _retention_execute(services: Services, run_id: str) -> dict[str, Any]:
    from dms.app.deletion_runs import execute

    return _summary(execute(services, str(run_id)))


AUDIT_SEAL_TASK = "audit.seal"  # daily (dms worker --beat): seal the audit trail into the archive


def _audit_seal(services: Services) -> dict[str, Any]:
    """Seal the audit entries since the last seal (dms/app/audit_seal.py); nothing new, no object."""
    from dms.app.audit_seal import SCHEDULER, seal

    return {"sealed": [s.key for s in seal(services, SCHEDULER)]}


ARCHIVE_CATCH_UP_TASK = "retention.archive_catch_up"  # at serve/worker start and periodically (beat)


def _archive_catch_up(services: Services, reconcile: bool = False) -> dict[str, Any]:
    """Archive filed versions that are not archived yet; `reconcile`: also re-check every archived
    document against the current policies (dms/app/retention.py `catch_up`)."""
    from dms.app.retention import catch_up

    return catch_up(services, reconcile_all=bool(reconcile)).to_dict()


TASKS: dict[str, Callable[..., Any]] = {
    INGEST_TASK: _ingest_process,
    ARCHIVE_CATCH_UP_TASK: _archive_catch_up,
    MAIL_POLL_TASK: _mail_poll,
    RETENTION_SWEEP_TASK: _retention_sweep,
    TRASH_PURGE_TASK: _trash_purge,
    RETENTION_EXECUTE_TASK: _retention_execute,
    AUDIT_SEAL_TASK: _audit_seal,
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
    # and archive what a crash left unarchived, re-checking the archive against the policies
    services.queue.submit(ARCHIVE_CATCH_UP_TASK, reconcile=True)
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
