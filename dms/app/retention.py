"""Use cases of the WORM archive (issue #12): archiving, catching up, legal hold, retention dates.

Archiving itself is the ingest stage `ingest.stages.archive` (the pipeline runs it after filing);
these functions reuse it for the catch-up, for reclassification and policy changes (`reconcile`:
only ever extends a lock) and add what needs a principal: legal holds (admin only, audited with
the reason). Verification is `dms.app.archive_verify`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dms.app.audit import record, record_as
from dms.app.principal import ADMIN, Principal, require
from dms.app.services import Services
from dms.domain import Document
from dms.errors import DmsError, ValidationError
from ingest.stages import archive as stage
from ingest.stages.archive import ArchiveResult
from retention.policy import extend_only

log = logging.getLogger(__name__)

SYSTEM = "system"  # actor of the automatic catch-up in the audit trail
MAX_REASON = 1000


def archive_version(services: Services, document_id: str, version: int) -> ArchiveResult:
    """Archive one version (original, sidecar, derivatives) under the policy of its class; idempotent."""
    return stage.archive_version(services, document_id, version)


def reconcile(services: Services, document_id: str) -> ArchiveResult:
    """Archive what is missing of a filed document and extend every archived version's lock to the
    date its current class, date and policy give, when later (never shorter)."""
    return stage.reconcile(services, document_id)


def after_change(services: Services, principal: Principal, document_id: str) -> ArchiveResult | None:
    """After a document was refiled (class, customer) or filed by hand: `reconcile`, audited when it
    archived or extended anything. Never fails the change: an error is logged and the catch-up
    (`catch_up`, at the next start with `reconcile_all`) tries again; None then."""
    try:
        result = stage.reconcile(services, document_id)
    except Exception:  # noqa: BLE001 - the refiling stands
        log.exception("archive of %s not reconciled after a change (the catch-up retries)", document_id)
        return None
    if result.archived or result.extended:
        record(services, principal, "document.archived", "document", document_id,
               archived=len(result.archived), extended=len(result.extended),
               archived_until=result.archived_until.isoformat() if result.archived_until else None)
    return result


def retention_of(services: Services, document: Document) -> datetime | None:
    """Until when the document must be kept: the latest of its archived date and the dates its
    class's policy gives its versions now (may lie in the past); None when nothing retains it."""
    policy = stage.policy_of(services, document)
    computed = None
    if policy is not None:
        dates = [stage.retain_until_of(policy, document, v) for v in document.versions]
        computed = max(dates, default=None)
    return extend_only(document.archived_until, computed)


def held(services: Services, document: Document) -> bool:
    """Whether a legal hold (the document's own or its customer's) covers the document."""
    return stage.under_hold(services, document)


# --- catch-up ------------------------------------------------------------------------------------


@dataclass
class CatchUp:
    archived: int = 0  # objects written
    documents: int = 0  # documents looked at
    extended: int = 0  # locks moved later
    failed: list[str] = field(default_factory=list)  # document ids whose archiving failed (retried next time)

    def to_dict(self) -> dict[str, Any]:
        return {"archived": self.archived, "documents": self.documents, "extended": self.extended,
                "failed": list(self.failed)}


def catch_up(services: Services, *, reconcile_all: bool = False, batch: int = 200) -> CatchUp:
    """Archive every filed version of a retained class that is not archived yet (a crash or a failed
    archive stage), and with `reconcile_all` also re-check every archived document against the
    current policies (after a policy change: extends, never shortens). A document that fails is
    logged and skipped; the next run tries again."""
    classes = [name for name, policy in services.settings.retention_policies.items() if policy.retains]
    done = CatchUp()
    seen: set[str] = set()
    ids: list[str] = []
    if reconcile_all:
        ids = list(dict.fromkeys(row.document_id for row in services.catalog.archive.all()))
    while True:
        found = services.catalog.archive.unarchived(batch + len(seen), classes=classes)
        pending = [d for d, _ in found if d not in seen]
        ids += list(dict.fromkeys(pending))
        if not ids:
            break
        for document_id in ids:
            seen.add(document_id)
            _catch_up_one(services, document_id, done)
        ids = []
    if done.archived or done.extended:
        record_as(services, SYSTEM, "archive.catch_up", "archive", None, **done.to_dict())
    return done


def _catch_up_one(services: Services, document_id: str, done: CatchUp) -> None:
    done.documents += 1
    try:
        result = stage.reconcile(services, document_id)
    except DmsError as exc:
        log.warning("catch-up: archiving %s failed: %s [%s]", document_id, exc.message, exc.code)
        done.failed.append(document_id)
        return
    except Exception:  # noqa: BLE001 - one broken document must not stop the others
        log.exception("catch-up: archiving %s failed", document_id)
        done.failed.append(document_id)
        return
    done.archived += len(result.archived)
    done.extended += len(result.extended)


# --- legal hold ------------------------------------------------------------------------------------


@dataclass
class HoldResult:
    target: str  # "document" | "customer"
    id: str
    on: bool
    reason: str
    documents: int = 0  # documents whose archived objects were changed
    objects: int = 0  # archived objects whose S3 legal hold was set/released

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "id": self.id, "legal_hold": self.on, "reason": self.reason,
                "documents": self.documents, "objects": self.objects}


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise ValidationError("Ein Grund (reason) ist erforderlich.", field="reason")
    if len(text) > MAX_REASON:
        raise ValidationError(f"Der Grund ist zu lang (höchstens {MAX_REASON} Zeichen).", field="reason")
    return text


def set_legal_hold(
    services: Services,
    principal: Principal,
    *,
    document_id: str | None = None,
    customer_number: str | None = None,
    on: bool,
    reason: str | None,
) -> HoldResult:
    """Set (`on`) or release a legal hold on one document or on a customer (covering all its
    documents): recorded in the catalog, set as S3 legal hold on every archived version (and on
    every version archived while it is on), audited with the reason. A version stays held while
    any hold covers it (releasing a document's hold keeps its customer's, and vice versa)."""
    require(principal, ADMIN)
    text = _reason(reason)
    if (document_id is None) == (customer_number is None):
        raise ValidationError("Genau eines von Dokument und Kunde angeben.")
    action = "legal_hold_set" if on else "legal_hold_released"
    if document_id is not None:
        services.catalog.documents.get(document_id)  # 404 first
        services.catalog.documents.update(document_id, legal_hold=on, legal_hold_reason=text if on else None)
        result = HoldResult("document", document_id, on, text)
        _apply_hold(services, [document_id], result)
        record(services, principal, f"document.{action}", "document", document_id, reason=text,
               objects=result.objects)
        return result
    number = str(customer_number)
    services.catalog.customers.get(number)  # 404 first
    services.catalog.customers.update(number, legal_hold=on, legal_hold_reason=text if on else None)
    result = HoldResult("customer", number, on, text)
    rows = services.catalog.archive.all(number)
    _apply_hold(services, list(dict.fromkeys(r.document_id for r in rows)), result)
    record(services, principal, f"customer.{action}", "customer", number, reason=text, documents=result.documents,
           objects=result.objects)
    return result


def _apply_hold(services: Services, document_ids: list[str], result: HoldResult) -> None:
    """Set the S3 legal hold of every archived object of these documents to what the holds say."""
    assert services.archive is not None
    for document_id in document_ids:
        wanted = held(services, services.catalog.documents.get(document_id))
        rows = [r for r in services.catalog.archive.for_document(document_id) if r.stored]
        for row in rows:
            services.archive.set_legal_hold(row.key, str(row.version_id), wanted)
        if rows:
            services.catalog.archive.set_legal_hold(document_id, wanted)
            result.documents += 1
            result.objects += len(rows)
