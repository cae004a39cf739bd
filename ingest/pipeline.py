"""The short runner that orders the stages. The original is stored before it runs, so a
failing stage never loses it: the document ends `failed` with the reason instead."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from dms import sidecars
from dms.domain import Document, DocumentStatus
from dms.errors import BackendUnavailable, IngestError
from dms.services import Services
from ingest.context import IngestContext
from ingest.stages.classify import classify_document
from ingest.stages.detect import detect_type
from ingest.stages.extract import extract_text
from ingest.stages.file import file_document
from ingest.stages.index import index_document
from ingest.stages.load import load_original

log = logging.getLogger(__name__)

Stage = Callable[[IngestContext, Services], None]
STAGES: tuple[Stage, ...] = (
    load_original, detect_type, extract_text, classify_document, file_document, index_document
)
# An older version that finishes after a newer one was added only gets its text extracted.
OLDER_VERSION_STAGES: tuple[Stage, ...] = (load_original, detect_type, extract_text)
DONE = {DocumentStatus.FILED, DocumentStatus.NEEDS_REVIEW}


def build_context(document: Document, version: int) -> IngestContext:
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
    given = document.classification.get("given", {})
    ctx.given_customer = given.get("customer_number")
    ctx.given_class = given.get("document_class")
    ctx.given_folder = given.get("folder")
    ctx.given_title = given.get("title")
    if version > 1 and document.customer_number:
        # A new version stays where the document is filed.
        ctx.given_customer = document.customer_number
        ctx.given_class = document.document_class
        ctx.given_folder = document.folder
        ctx.given_title = document.title
    return ctx


def _fail(services: Services, ctx: IngestContext, stage: str, error: IngestError) -> None:
    reason = f"{error.message} [{error.code}]"
    ctx.status, ctx.status_reason = DocumentStatus.FAILED, reason
    log.warning("document %s v%s failed in %s: %s", ctx.document_id, ctx.version, stage, reason)
    if ctx.is_latest:
        services.catalog.set_status(ctx.document_id, DocumentStatus.FAILED, stage=stage, reason=reason)
        sidecars.write_document(services.store, services.catalog.get_document(ctx.document_id))


def process_version(
    services: Services, document_id: str, version: int, *, force: bool = False
) -> IngestContext:
    """Run every stage for one version. Idempotent: a finished version is not processed twice."""
    document = services.catalog.get_document(document_id)
    ctx = build_context(document, version)
    latest = document.latest
    if not force and ctx.is_latest and document.status in DONE and latest and latest.text_key:
        ctx.status = document.status
        return ctx
    stages = STAGES if ctx.is_latest else OLDER_VERSION_STAGES
    for stage in stages:
        name = stage.__name__
        if ctx.is_latest:
            services.catalog.set_status(document_id, DocumentStatus.PROCESSING, stage=name)
        try:
            stage(ctx, services)
        except IngestError as exc:
            _fail(services, ctx, name, exc)
            return ctx
        except BackendUnavailable:
            raise  # transient: the queue retries the task
        except Exception as exc:  # a bug or an unexpected file: keep the original, say what happened
            log.exception("stage %s crashed on %s", name, document_id)
            _fail(services, ctx, name, IngestError(f"Interner Fehler in {name}: {exc!r}", code="internal_error"))
            return ctx
    if ctx.is_latest:
        services.catalog.set_status(
            document_id, ctx.status or DocumentStatus.FILED, stage="done", reason=ctx.status_reason
        )
        sidecars.write_document(services.store, services.catalog.get_document(document_id))
    return ctx


def recover_pending(services: Services) -> int:
    """Queue again what was received or in progress when the process stopped."""
    if services.queue is None:
        return 0
    ids = services.catalog.pending_document_ids()
    for document_id in ids:
        latest = services.catalog.latest_version(document_id)
        services.queue.submit("ingest.process", document_id=document_id, version=latest.number)
    return len(ids)


def run_stages(ctx: IngestContext, services: Services, stages: Sequence[Stage]) -> IngestContext:
    """Run chosen stages on a context (for tests and tools); errors propagate."""
    for stage in stages:
        stage(ctx, services)
    return ctx
