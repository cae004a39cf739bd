"""Stage: write a filed version of a retained class to the WORM archive (issue #12).

Per version the archive gets its original, its sidecar (`meta.json`: metadata + sha256) and its
derivatives where they exist (extracted text, searchable/preview PDF), each under Object Lock
until the retain-until date of the class's policy (`settings.retention_policies`), with a legal
hold when the document or its customer is under one. Keys:
`archive/documents/<doc id>/v<N>/original|meta.json|text.txt|<derivative name>`.

Idempotent: the catalog's `archive_objects` rows decide what is done; the original is written
last, so a version with an archived original is complete (what `catalog.archive.unarchived` and
the catch-up rely on). A version whose retention already ended when it is archived (an old
document) is not archived: an "expired" marker row with that date says so, plus a document event.

The stage never fails the filing: an error is logged and recorded as an event, the document
is filed anyway and the worker's catch-up (`retention.archive_catch_up`) archives it later.
`reconcile` also serves reclassification and policy changes: it archives what is missing and
extends (never shortens) the lock of every archived version to the newly computed date.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from dms.domain import ArchivedObject, Document, DocumentStatus, Version
from dms.errors import DmsError
from dms.storage import keys
from ingest.context import IngestContext
from ingest.ports import IngestServices
from retention.policy import RetentionPolicy

log = logging.getLogger(__name__)

ORIGINAL, SIDECAR, DERIVATIVE, TEXT, EXPIRED = "original", "sidecar", "derivative", "text", "expired"
STAGE = "archive"
# A lock must end in the future; one that would end within this margin is treated as ended.
MARGIN = timedelta(seconds=1)


def archive_key(document_id: str, number: int, name: str) -> str:
    return f"archive/documents/{document_id}/v{number}/{name}"


@dataclass
class ArchiveResult:
    """What archiving/reconciling a document did."""

    archived: list[ArchivedObject] = field(default_factory=list)  # objects written now
    extended: list[ArchivedObject] = field(default_factory=list)  # locks moved later now
    expired: list[int] = field(default_factory=list)  # versions not archived: retention already over
    archived_until: datetime | None = None


def policy_of(services: IngestServices, document: Document) -> RetentionPolicy | None:
    """The retention policy of the document's class; None when the class is not retained."""
    policy = services.settings.retention_policies.get(document.document_class or "")
    return policy if isinstance(policy, RetentionPolicy) and policy.retains else None


def retain_until_of(policy: RetentionPolicy, document: Document, version: Version) -> datetime:
    """The retain-until date of one version: its document date (the version's filing time when
    there is none; a contract's end field) under `policy`, rounded up to the second."""
    until = policy.retain_until(document_date=document.document_date, filed_at=version.created_at,
                                fields=document.fields)
    assert until is not None  # policy.retains
    # up to the whole second: S3 keeps retain-until dates in milliseconds (or seconds), never shorter
    return until + timedelta(microseconds=-until.microsecond % 1_000_000) if until.microsecond else until


def under_hold(services: IngestServices, document: Document) -> bool:
    """Whether the document or its customer is under legal hold."""
    if document.legal_hold:
        return True
    customer = services.catalog.customers.find(document.customer_number) if document.customer_number else None
    return bool(customer and customer.legal_hold)


def _sources(document: Document, version: Version) -> list[tuple[str, str, str, str]]:
    """(kind, store key, archive name, content type) of what a version has, original last."""
    found = [(SIDECAR, keys.version_meta_key(document.id, version.number), "meta.json", "application/json")]
    if version.text_key:
        found.append((TEXT, version.text_key, "text.txt", "text/plain; charset=utf-8"))
    if version.derivative_key:
        name = posixpath.basename(version.derivative_key)
        mime = "text/html; charset=utf-8" if name.endswith(".html") else "application/pdf"
        found.append((DERIVATIVE, version.derivative_key, name, mime))
    found.append((ORIGINAL, version.storage_key, "original", version.mime_type or "application/octet-stream"))
    return found


def archive_version(services: IngestServices, document_id: str, number: int) -> ArchiveResult:
    """Archive one version of a document of a retained class (whatever its status; callers decide
    that it is filed). Idempotent; records the document's `archived_until` (the maximum)."""
    documents, rows = services.catalog.documents, services.catalog.archive
    document = documents.get(document_id)
    version = document.version(number)
    policy = policy_of(services, document)
    result = ArchiveResult(archived_until=document.archived_until)
    if version is None or policy is None:
        return result
    archive = services.archive
    if archive is None:
        raise DmsError("Kein Archivspeicher konfiguriert.", code="archive_missing")

    until = retain_until_of(policy, document, version)
    marker = rows.find(document_id, number, EXPIRED)
    if until <= datetime.now(UTC) + MARGIN:
        if marker is None and rows.find(document_id, number, ORIGINAL) is None:
            rows.add(document_id, number, EXPIRED, "", None, version.sha256, version.size, until, None)
            documents.add_event(document_id, stage=STAGE, status=document.status, message=(
                f"Version {number} nicht archiviert: die Aufbewahrungsfrist ({policy.document_class}) endete "
                f"bereits am {until.isoformat()}."))
        result.expired.append(number)
        return result
    if marker is not None:  # a later date (reclassified, new document date): archive it after all
        rows.discard(marker.id)
    hold = under_hold(services, document)
    for kind, key, name, content_type in _sources(document, version):
        if rows.find(document_id, number, kind) is not None:
            continue
        data = services.store.get(key)
        digest = hashlib.sha256(data).hexdigest()
        if kind == ORIGINAL and digest != version.sha256:
            raise DmsError(f"Das Original von {document_id} v{number} weicht vom Katalog ab (sha256); "
                           "nicht archiviert.", code="archive_sha_mismatch")
        stored = archive.put_locked(archive_key(document_id, number, name), data, retain_until=until,
                                    mode=str(policy.mode), legal_hold=hold, content_type=content_type)
        result.archived.append(rows.add(document_id, number, kind, stored.key, stored.version_id, digest,
                                        stored.size, until, str(policy.mode), legal_hold=hold))
    if result.archived:
        result.archived_until = _record_until(services, document, until)
        documents.add_event(document_id, stage=STAGE, status=document.status, message=(
            f"Version {number} archiviert (WORM, {policy.mode}) bis {until.isoformat()}"
            + (", Legal Hold" if hold else "") + "."))
    return result


def _record_until(services: IngestServices, document: Document, until: datetime) -> datetime:
    """archived_until = max(recorded, until); written only when it grows."""
    current = services.catalog.documents.get(document.id).archived_until
    if current is not None and current >= until:
        return current
    services.catalog.documents.update(document.id, archived_until=until)
    return until


def reconcile(services: IngestServices, document_id: str, *, filed: bool | None = None) -> ArchiveResult:
    """Make the archive match the document's current class, date and policy: archive its versions
    that are missing (when it is filed; `filed` None: its status says) and move the lock of every
    archived version later where the newly computed date is later. Never shortens anything."""
    documents, rows = services.catalog.documents, services.catalog.archive
    document = documents.get(document_id)
    policy = policy_of(services, document)
    result = ArchiveResult(archived_until=document.archived_until)
    if policy is None:
        return result  # not retained (any more): what is archived stays as it is
    is_filed = document.status == DocumentStatus.FILED if filed is None else filed
    archived = rows.for_document(document_id)
    done = {row.version for row in archived if row.kind in (ORIGINAL, EXPIRED)}
    for version in sorted(document.versions, key=lambda v: v.number):
        if is_filed and (version.number not in done or _expired_now_retained(policy, document, version, archived)):
            step = archive_version(services, document_id, version.number)
            result.archived += step.archived
            result.expired += step.expired
    for row in rows.for_document(document_id):
        version = document.version(row.version)
        if not row.stored or version is None:
            continue
        until = retain_until_of(policy, document, version)
        if row.retain_until is not None and until <= row.retain_until:
            continue
        assert services.archive is not None
        services.archive.extend_retention(row.key, str(row.version_id), until)
        result.extended.append(rows.update_retention(row.id, until))
    latest = max((r.retain_until for r in rows.for_document(document_id) if r.stored and r.retain_until),
                 default=None)
    result.archived_until = _record_until(services, document, latest) if latest else document.archived_until
    if result.extended:
        newest = max(r.retain_until for r in result.extended if r.retain_until)
        documents.add_event(document_id, stage=STAGE, status=document.status, message=(
            f"Aufbewahrung von {len(result.extended)} archivierten Objekten verlängert bis {newest.isoformat()}."))
    return result


def _expired_now_retained(
    policy: RetentionPolicy, document: Document, version: Version, rows: list[ArchivedObject]
) -> bool:
    """A version with an "expired" marker whose newly computed date lies in the future."""
    marked = any(r.version == version.number and r.kind == EXPIRED for r in rows)
    return marked and retain_until_of(policy, document, version) > datetime.now(UTC) + MARGIN


def archive_document(ctx: IngestContext, services: IngestServices) -> None:
    """The stage: archive the version just filed (and extend older ones whose date moved).

    Only for the latest version of a document filed now (not one that needs review: it is
    archived once filed, by hand or by the catch-up). Never fails the filing (see module docstring)."""
    if not ctx.is_latest or ctx.status != DocumentStatus.FILED:
        return
    try:
        reconcile(services, ctx.document_id, filed=True)
    except Exception as exc:  # noqa: BLE001 - the filing stands; the catch-up archives it later
        log.warning("archiving %s v%s failed (the catch-up retries): %r", ctx.document_id, ctx.version, exc)
        message = exc.message if isinstance(exc, DmsError) else repr(exc)
        try:
            services.catalog.documents.add_event(ctx.document_id, stage=STAGE, status=DocumentStatus.PROCESSING,
                                                 message=f"Archivierung fehlgeschlagen, wird nachgeholt: {message}")
        except Exception:  # noqa: BLE001 - the catalog may be what failed
            log.warning("event of the failed archiving of %s not written", ctx.document_id)
