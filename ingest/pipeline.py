"""The short runner that orders the stages. The original is stored before it runs, so a
failing stage never loses it: the document ends `failed` with the reason instead."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from dms import sidecars
from dms.domain import Document, DocumentStatus
from dms.errors import BackendUnavailable, IngestError
from ingest.context import IngestContext
from ingest.ports import IngestServices
from ingest.stages.archive import archive_document
from ingest.stages.classify import classify_document
from ingest.stages.detect import detect_type
from ingest.stages.extract import extract_text
from ingest.stages.file import file_document
from ingest.stages.index import index_document
from ingest.stages.load import load_original

log = logging.getLogger(__name__)

Stage = Callable[[IngestContext, IngestServices], None]
STAGES: tuple[Stage, ...] = (  # archive_document never fails the filing (see ingest/stages/archive.py)
    load_original, detect_type, extract_text, classify_document, file_document, index_document, archive_document
)
# An older version that finishes after a newer one was added only gets its text extracted.
OLDER_VERSION_STAGES: tuple[Stage, ...] = (load_original, detect_type, extract_text)
DONE = {DocumentStatus.FILED, DocumentStatus.NEEDS_REVIEW}
FINAL = DONE | {DocumentStatus.FAILED}
TOO_MANY_ATTEMPTS = "too_many_attempts"
ATTEMPTS_STAGE = "attempts"  # stage name of the event that records giving up


def build_context(document: Document, version: int, *, max_seconds: int | None = None) -> IngestContext:
    stored = document.version(version)
    if stored is None:
        raise IngestError(f"Version {version} fehlt.", code="version_not_found")
    latest = document.latest
    ctx = IngestContext(
        document_id=document.id,
        version=version,
        filename=stored.filename,
        storage_key=stored.storage_key,
        source=document.source,
        sha256=stored.sha256,
        size=stored.size,
        title=document.title,
        is_latest=latest is not None and latest.number == version,
    )
    if max_seconds is not None:
        ctx.deadline = time.monotonic() + max_seconds
    given = document.classification.get("given", {})
    ctx.given = dict(given)
    ctx.given_customer = given.get("customer_number")
    ctx.given_class = given.get("document_class")
    ctx.given_folder = given.get("folder")
    ctx.given_title = given.get("title")
    ctx.given_review_note = given.get("review_note")
    ctx.given_fields = dict(document.given_fields)
    ctx.given_date = document.given_date
    if version > 1 and document.customer_number:
        # A new version stays where the document is filed.
        ctx.given_customer = document.customer_number
        ctx.given_class = document.document_class
        ctx.given_folder = document.folder
        ctx.given_title = document.title
    return ctx


def _fail(services: IngestServices, ctx: IngestContext, stage: str, error: IngestError) -> None:
    reason = f"{error.message} [{error.code}]"
    ctx.status, ctx.status_reason = DocumentStatus.FAILED, reason
    log.warning("document %s v%s failed in %s: %s", ctx.document_id, ctx.version, stage, reason)
    if ctx.is_latest:
        services.catalog.outbox.set_final_status(
            ctx.document_id, ctx.version, DocumentStatus.FAILED, stage=stage, reason=reason
        )  # + the webhook event, one transaction
        sidecars.write_document(services.store, services.catalog.documents.get(ctx.document_id))


# --- attempts and scratch folders ----------------------------------------------------------------


def _attempt_dirs(services: IngestServices, document_id: str, version: int) -> list[Path]:
    root = services.settings.work_dir
    return sorted(root.glob(f"{document_id}-v{version}-a*")) if root.is_dir() else []


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    if path.exists():
        log.warning("scratch folder %s could not be removed", path)


def _give_up(services: IngestServices, ctx: IngestContext, document: Document, max_attempts: int) -> IngestContext:
    """Too many attempts started: end `failed` without running a stage (the original stays)."""
    aborted = ctx.attempt - 1
    error = IngestError(
        f"Die Verarbeitung wurde {aborted}-mal abgebrochen (z. B. Absturz oder Speichermangel) und wird "
        "nicht erneut versucht. Das Original ist gespeichert.",
        code=TOO_MANY_ATTEMPTS,
    )
    log.error(
        "document %s v%s: attempt %d of at most %d, giving up", ctx.document_id, ctx.version, ctx.attempt, max_attempts
    )
    if ctx.is_latest and document.status == DocumentStatus.FAILED:
        # Already given up (a late second delivery): nothing new to record.
        ctx.status, ctx.status_reason = DocumentStatus.FAILED, document.status_reason
        return ctx
    _fail(services, ctx, ATTEMPTS_STAGE, error)
    return ctx


def process_version(
    services: IngestServices, document_id: str, version: int, *, force: bool = False
) -> IngestContext:
    """Run every stage for one version. Idempotent: a finished version is not processed twice.

    Every attempt is counted in the catalog (own transaction, committed) before a stage runs, so
    an attempt that kills the process (OOM, SIGKILL) still counts. When the count exceeds
    `[ingest] max_attempts` the version ends `failed` (`too_many_attempts`) without running a
    stage; this is the one guard against a crash loop, on both queue backends (a restart's
    `dms.app.tasks.recover_pending`, a Celery redelivery).

    `force` (a manual reprocess) skips the "already finished" check and, when the document is
    in a final status (filed, needs_review, failed – e.g. after giving up), starts counting
    from zero: a deliberate new run gets the full budget. A forced task that crashes is
    delivered again with the same arguments while the document is still `processing`, so it
    keeps counting and cannot loop. (A caller that sets the status back to `received` before
    queueing must call `catalog.documents.reset_attempts` itself.)

    An attempt that ends with `BackendUnavailable` (a backend down, the queue retries) gives its
    count back, so retries while a backend is down do not use up the attempts.

    Each attempt works in its own scratch folder `work_dir/<id>-v<version>-a<attempt>`
    (`ctx.workdir`); folders of earlier attempts of the version are removed first, and its own
    when the attempt ends, whatever the outcome.
    """
    settings = services.settings
    document = services.catalog.documents.get(document_id)
    ctx = build_context(document, version, max_seconds=settings.limit("ingest", "max_seconds"))
    latest = document.latest
    if not force and ctx.is_latest and document.status in DONE and latest and latest.text_key:
        ctx.status = document.status
        return ctx
    max_attempts = settings.limit("ingest", "max_attempts")
    if force and ctx.is_latest and document.status in FINAL:
        services.catalog.documents.reset_attempts(document_id, version)
    ctx.attempt = services.catalog.documents.start_attempt(document_id, version)
    for leftover in _attempt_dirs(services, document_id, version):
        _remove(leftover)  # an earlier attempt died without cleaning up
    if ctx.attempt > max_attempts:
        return _give_up(services, ctx, document, max_attempts)
    workdir = settings.work_dir / f"{document_id}-v{version}-a{ctx.attempt}"
    workdir.mkdir(parents=True, exist_ok=True)
    ctx.workdir = str(workdir)
    try:
        return _run(services, ctx)
    except BackendUnavailable:
        try:
            services.catalog.documents.give_back_attempt(document_id, version)
        except Exception:  # noqa: BLE001 - the catalog may be the backend that is down
            log.warning("attempt %d of %s v%s not given back", ctx.attempt, document_id, version)
        raise  # transient: the queue retries the task
    finally:
        _remove(workdir)


def _run(services: IngestServices, ctx: IngestContext) -> IngestContext:
    document_id = ctx.document_id
    stages = STAGES if ctx.is_latest else OLDER_VERSION_STAGES
    for stage in stages:
        name = stage.__name__
        if ctx.is_latest:
            services.catalog.documents.set_status(document_id, DocumentStatus.PROCESSING, stage=name)
        try:
            stage(ctx, services)
        except IngestError as exc:
            _fail(services, ctx, name, exc)
            return ctx
        except BackendUnavailable:
            raise
        except Exception as exc:  # a bug or an unexpected file: keep the original, say what happened
            log.exception("stage %s crashed on %s", name, document_id)
            _fail(services, ctx, name, IngestError(f"Interner Fehler in {name}: {exc!r}", code="internal_error"))
            return ctx
    if ctx.is_latest:
        services.catalog.outbox.set_final_status(  # + the webhook event, one transaction
            document_id, ctx.version, ctx.status or DocumentStatus.FILED, stage="done", reason=ctx.status_reason
        )
        sidecars.write_document(services.store, services.catalog.documents.get(document_id))
    return ctx


def run_stages(ctx: IngestContext, services: IngestServices, stages: Sequence[Stage]) -> IngestContext:
    """Run chosen stages on a context (for tests and tools); errors propagate."""
    for stage in stages:
        stage(ctx, services)
    return ctx
