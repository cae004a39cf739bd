"""Deleting documents (issue #12): the trash, deleting one version, and purging every trace.

- `delete_document`: refused (409) while the document's retention runs (`retention_active`, with
  `deletable_from`) or a legal hold on it or its customer is set (`legal_hold_active`); otherwise
  it goes to the trash (hidden from lists and search, restorable) or, with `version`, that one
  version is deleted at once. `restore_document` takes it out of the trash.
- `purge`: deletes every trace of a document for good: all versions and delete markers in the
  documents bucket, every archived version in the WORM archive, catalog rows and index entry.
  First it writes a deletion record into the archive (locked for `[deletion] record_years`).
  The audit trail stays. Used by the trash purge, the retention sweep and GDPR erasure.
- The runs (`sweep`, `purge_trash`, `approve`, `execute`) are in dms/app/deletion_runs.py.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timedelta
from typing import Any

from dms import sidecars
from dms.app.audit import record as audit_record
from dms.app.documents import reindex_document
from dms.app.principal import ADMIN, Principal, require
from dms.app.services import Services
from dms.catalog.engine import utcnow
from dms.domain import Document, DocumentStatus
from dms.errors import Conflict, DmsError, Forbidden, NotFound
from dms.storage import keys
from retention.policy import BERLIN, year_end

log = logging.getLogger(__name__)

RECORD_FORMAT = 1
RECORD_PREFIX = "deletions/"  # deletion records in the archive: deletions/<document id>.json
ARCHIVE_PREFIX = "archive/documents/"  # what the archive holds of a document (see dms/app/retention.py)
PROCESSING = {DocumentStatus.RECEIVED.value, DocumentStatus.PROCESSING.value}


def setting(services: Services, key: str) -> Any:
    """A key of `[deletion]` (dms/defaults.toml)."""
    return services.settings.rules.get("deletion", {})[key]


def german_time(value: datetime) -> str:
    """`01.01.2036, 00:00 Uhr` in German time (seconds only when there are any)."""
    local = value.astimezone(BERLIN)
    return local.strftime("%d.%m.%Y, %H:%M:%S Uhr" if local.second else "%d.%m.%Y, %H:%M Uhr")


# --- what keeps a document --------------------------------------------------------------------


def retained_until(services: Services, document: Document) -> datetime | None:
    """The first instant the document may be deleted: the latest of what its archived versions are
    locked until and what its class's policy demands of its versions now (`retention_of`, which
    covers a version not archived yet); None: nothing retains it."""
    from dms.app.retention import retention_of  # the archive's use cases (they load the ingest stage)

    candidates = [o.retain_until for o in _archived(services, document.id) if o.retain_until and o.version_id]
    computed = retention_of(services, document)
    if computed is not None:
        candidates.append(computed)
    return max(candidates) if candidates else None


def _archived(services: Services, document_id: str) -> list[Any]:
    archive = getattr(services.catalog, "archive", None)
    return archive.for_document(document_id) if archive is not None else []


def check_deletable(services: Services, document: Document, *, now: datetime | None = None) -> None:
    """Conflict unless the document may be deleted now: `legal_hold_active` (document or customer),
    `retention_active` with `deletable_from` (ISO) and `deletable_from_text` (German)."""
    hold = hold_on(services, document)
    if hold is not None:
        where = "das Dokument" if hold == "document" else f"den Kunden {document.customer_number}"
        raise Conflict(
            f"Dokument {document.id} kann nicht gelöscht werden: für {where} gilt ein Legal Hold.",
            code="legal_hold_active", legal_hold=hold,
        )
    until = retained_until(services, document)
    if until is not None and until > (now or utcnow()):
        text = german_time(until)
        raise Conflict(
            f"Dokument {document.id} ({document.document_class}) ist aufbewahrungspflichtig und kann erst ab "
            f"{text} gelöscht werden.",
            code="retention_active", deletable_from=until.isoformat(), deletable_from_text=text,
        )


def hold_on(services: Services, document: Document) -> str | None:
    """"document" or "customer" when a legal hold keeps the document, else None."""
    if document.legal_hold:
        return "document"
    if document.customer_number is not None:
        customer = services.catalog.customers.find(document.customer_number)
        if customer is not None and customer.legal_hold:
            return "customer"
    return None


# --- deleting by hand: trash, versions ----------------------------------------------------------


def delete_document(
    services: Services, principal: Principal, document_id: str, version: int | None = None
) -> dict[str, Any]:
    """Move a document to the trash, or delete one of its versions (not the latest; the only one
    means the document). Refused while retained or held (see `check_deletable`)."""
    require(principal, ADMIN)
    document = services.catalog.documents.get(document_id)
    if document.trashed_at is not None:
        raise Conflict(f"Dokument {document_id} liegt bereits im Papierkorb.", code="already_in_trash")
    if document.status in PROCESSING:
        raise Conflict(f"Dokument {document_id} wird gerade verarbeitet; bitte später löschen.",
                       code="document_processing")
    check_deletable(services, document)
    if version is not None and len(document.versions) > 1:
        return _delete_version(services, principal, document, version)
    if version is not None and document.version(version) is None:
        raise NotFound(f"Version {version} von Dokument {document_id} existiert nicht.", code="version_not_found")
    now = utcnow()
    trashed = services.catalog.documents.update(document_id, trashed_at=now)
    services.index.delete(document_id)
    sidecars.write_document(services.store, trashed)
    purge_after = now + timedelta(days=int(setting(services, "trash_days")))
    audit_record(services, principal, "document.trash", "document", document_id, purge_after=purge_after.isoformat())
    return {"id": document_id, "outcome": "trashed", "trashed_at": now.isoformat(),
            "purge_after": purge_after.isoformat(), "version": None}


def _delete_version(services: Services, principal: Principal, document: Document, number: int) -> dict[str, Any]:
    target = document.version(number)
    if target is None:
        raise NotFound(f"Version {number} von Dokument {document.id} existiert nicht.", code="version_not_found")
    latest = document.latest
    if latest is not None and latest.number == number:
        raise Conflict(
            f"Version {number} ist die neueste von Dokument {document.id} und kann nicht einzeln gelöscht werden; "
            "eine neue Version hochladen oder das ganze Dokument löschen.",
            code="latest_version",
        )
    _delete_archived(services, f"{ARCHIVE_PREFIX}{document.id}/v{number}/",
                     [o for o in _archived(services, document.id) if o.version == number])
    prefix = keys.version_prefix(document.id, number) + "/"
    known = {target.storage_key, target.text_key, target.derivative_key, keys.version_meta_key(document.id, number)}
    for key in sorted(set(services.store.list_keys(prefix)) | {k for k in known if k}):
        services.store.delete(key)
    services.catalog.deletions.delete_version_rows(document.id, number)
    sidecars.write_document(services.store, services.catalog.documents.get(document.id))
    audit_record(services, principal, "document.version_delete", "document", document.id, version=number,
                 sha256=target.sha256)
    return {"id": document.id, "outcome": "version_deleted", "trashed_at": None, "purge_after": None,
            "version": number}


def restore_document(services: Services, principal: Principal, document_id: str) -> Document:
    """Take a document out of the trash: listed and searchable again."""
    require(principal, ADMIN)
    document = services.catalog.documents.get(document_id)
    if document.trashed_at is None:
        raise Conflict(f"Dokument {document_id} liegt nicht im Papierkorb.", code="not_in_trash")
    restored = services.catalog.documents.update(document_id, trashed_at=None)
    sidecars.write_document(services.store, restored)
    reindex_document(services, document_id)
    audit_record(services, principal, "document.restore", "document", document_id,
                 trashed_at=document.trashed_at.isoformat())
    return restored


def trash(services: Services, principal: Principal) -> list[dict[str, Any]]:
    """The documents in the trash, oldest first, each with when it will be deleted for good."""
    require(principal, ADMIN)
    days = timedelta(days=int(setting(services, "trash_days")))
    found = services.catalog.deletions.in_trash()
    for item in found:
        item["purge_after"] = (datetime.fromisoformat(item["trashed_at"]) + days).isoformat()
    return found


# --- deleting for good ------------------------------------------------------------------------


def purge(
    services: Services,
    document_id: str,
    *,
    reason: str,
    run_id: str | None = None,
    approved_by: str | None = None,
    requested_by: str = "system",
    record: bool = True,
) -> dict[str, Any]:
    """Delete every trace of a document (see the module docstring); returns what was deleted:
    {document_id, status: deleted | gone, record_key, record_version_id, record_sha256, …}.
    A document that is no longer there is `gone` (an interrupted run can be repeated). `record`:
    write the deletion record into the archive first (default); `requested_by` is the audit actor.
    Refused (Conflict) while a legal hold or retention keeps it; nothing is deleted then."""
    try:
        document = services.catalog.documents.get(document_id)
    except NotFound:
        return {"document_id": document_id, "status": "gone"}
    check_deletable(services, document)
    archived = [o for o in _archived(services, document_id) if o.version_id and o.key]
    archive_versions = _archive_versions(services, f"{ARCHIVE_PREFIX}{document_id}/", archived)
    store_keys = _store_keys(services, document)
    deletion = _record(services, document, reason=reason, run_id=run_id, approved_by=approved_by,
                       requested_by=requested_by, store_keys=store_keys, archive_versions=archive_versions,
                       archived=archived)
    stored = _write_record(services, document_id, deletion) if record else {}
    _delete_archived(services, f"{ARCHIVE_PREFIX}{document_id}/", archived)
    for key in store_keys:
        services.store.delete(key)
    services.index.delete(document_id)
    counts = services.catalog.deletions.delete_rows(document_id)
    audit_record(
        services, Principal(requested_by), "document.purge", "document", document_id,
        customer_number=document.customer_number, document_id=document_id, reason=reason, run_id=run_id,
        approved_by=approved_by, record_key=stored.get("record_key"), record_sha256=stored.get("record_sha256"),
        versions=[v["sha256"] for v in deletion["versions"]], rows=counts,
    )
    return {"document_id": document_id, "status": "deleted", "class": document.document_class,
            "customer_number": document.customer_number, **stored}


def _store_keys(services: Services, document: Document) -> list[str]:
    """Every key of the document in the documents bucket: what is listed under its prefix and
    what the catalog names (a key whose latest version is a delete marker is not listed)."""
    known = {keys.document_key(document.id)}
    for version in document.versions:
        known |= {version.storage_key, version.text_key or "", version.derivative_key or "",
                  keys.version_meta_key(document.id, version.number)}
    listed = set(services.store.list_keys(f"documents/{document.id}/"))
    return sorted((listed | known) - {""})


def _archive_versions(services: Services, prefix: str, archived: list[Any]) -> list[tuple[str, str]]:
    """(key, version id) of every archived version under `prefix` and of every catalog row."""
    found = {(o.key, str(o.version_id)) for o in archived}
    if services.archive is not None:
        found |= {(o.key, o.version_id) for o in services.archive.list_versions(prefix)}
    return sorted(found)


def _delete_archived(services: Services, prefix: str, archived: list[Any]) -> None:
    """Delete the archived versions; the archive refuses while a retention or legal hold runs
    (`Forbidden` becomes a Conflict with the archive's code)."""
    if services.archive is None:
        return
    for key, version_id in _archive_versions(services, prefix, [o for o in archived if o.version_id]):
        try:
            services.archive.delete_version(key, version_id)
        except NotFound:
            continue
        except Forbidden as exc:
            raise Conflict(f"Das Archiv verweigert das Löschen: {exc.message}", code=exc.code,
                           **exc.details) from exc


def _record(
    services: Services, document: Document, *, reason: str, run_id: str | None, approved_by: str | None,
    requested_by: str, store_keys: list[str], archive_versions: list[tuple[str, str]], archived: list[Any],
) -> dict[str, Any]:
    """The deletion record: what was deleted, why, under which policy, who approved it."""
    policy = services.settings.retention_policies.get(document.document_class or "")
    sha_of = {(o.key, str(o.version_id)): o.sha256 for o in archived}
    return {
        "format": RECORD_FORMAT,
        "record": "deletion",
        "document_id": document.id,
        "class": document.document_class,
        "customer_number": document.customer_number,
        "policy": policy.to_dict() if policy is not None and policy.retains else None,
        "document_date": document.document_date.isoformat() if document.document_date else None,
        "filed_at": document.created_at.isoformat() if document.created_at else None,
        "archived_until": document.archived_until.isoformat() if document.archived_until else None,
        "trashed_at": document.trashed_at.isoformat() if document.trashed_at else None,
        "deleted_at": utcnow().isoformat(),
        "reason": reason,
        "run_id": run_id,
        "requested_by": requested_by,
        "approved_by": approved_by,
        "versions": [
            {"number": v.number, "sha256": v.sha256, "size": v.size, "mime_type": v.mime_type,
             "created_at": v.created_at.isoformat() if v.created_at else None}
            for v in sorted(document.versions, key=lambda v: v.number)
        ],
        "documents_bucket": store_keys,
        "archive": [{"key": k, "version_id": v, "sha256": sha_of.get((k, v))} for k, v in archive_versions],
    }


def _write_record(services: Services, document_id: str, deletion: dict[str, Any]) -> dict[str, Any]:
    """Keep the record in the archive, locked until the end of the year `record_years` from now."""
    data = json.dumps(deletion, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8")
    digest = hashlib.sha256(data).hexdigest()
    key = f"{RECORD_PREFIX}{document_id}.json"
    if services.archive is None:  # no archive configured: the documents bucket keeps it
        stored = services.store.put(key, data, content_type="application/json")
    else:
        until = year_end(utcnow().astimezone(BERLIN).date(), int(setting(services, "record_years")))
        stored = services.archive.put_locked(key, data, retain_until=until, mode="COMPLIANCE",
                                             content_type="application/json")
    return {"record_key": key, "record_version_id": stored.version_id, "record_sha256": digest}


def read_record(services: Services, principal: Principal, document_id: str) -> dict[str, Any]:
    """The (latest) deletion record of a document, from the archive (`audit:read`; audited)."""
    require(principal, "audit:read")
    audit_record(services, principal, "deletion_record.read", "document", document_id, document_id=document_id)
    key = f"{RECORD_PREFIX}{document_id}.json"
    try:
        raw = services.archive.get(key) if services.archive is not None else services.store.get(key)
    except DmsError as exc:
        raise NotFound(f"Für Dokument {document_id} gibt es kein Löschprotokoll.", code="record_not_found") from exc
    return json.loads(raw.decode("utf-8"))
