"""Use cases on filed documents: read them, list them, file them by hand, read their content."""

from __future__ import annotations

from typing import Any

from dms import sidecars
from dms import validation as v
from dms.app.audit import record
from dms.app.principal import DOCUMENTS_READ, DOCUMENTS_WRITE, Principal, require
from dms.app.services import Services
from dms.catalog.engine import utcnow
from dms.domain import Document, DocumentEvent, DocumentStatus, Version
from dms.errors import NotFound, ValidationError
from dms.search.entries import entry_for

PREVIEWABLE = {"application/pdf", "image/png", "image/jpeg"}
STATUSES = {s.value for s in DocumentStatus}


def get_document(services: Services, principal: Principal, document_id: str) -> tuple[Document, list[DocumentEvent]]:
    """A document with its status events."""
    require(principal, DOCUMENTS_READ)
    documents = services.catalog.documents
    document = documents.get(document_id)
    events = documents.events(document_id)
    record(services, principal, "document.read", "document", document_id)
    return document, events


def list_documents(
    services: Services,
    principal: Principal,
    *,
    customer_number: str | None = None,
    status: str | None = None,
    folder: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Document]:
    """Documents, newest first (e.g. the review inbox: `status="needs_review"`)."""
    require(principal, DOCUMENTS_READ)
    if status is not None and status not in STATUSES:
        raise ValidationError(f"Unbekannter Status {v.quote(status)!r}.", field="status")
    return services.catalog.documents.query(
        customer_number=customer_number, status=status, folder=folder, limit=limit, offset=offset
    )


def _version(services: Services, document_id: str, number: int | None) -> tuple[Version, bytes]:
    version = services.catalog.documents.get(document_id).version(number)
    if version is None:
        raise NotFound(f"Version {number} von Dokument {document_id} existiert nicht.", code="version_not_found")
    return version, services.store.get(version.storage_key)


def read_content(
    services: Services, principal: Principal, document_id: str, number: int | None = None
) -> tuple[Version, bytes]:
    """The bytes of a version (the latest when `number` is None), byte for byte as received."""
    require(principal, DOCUMENTS_READ)
    version, data = _version(services, document_id, number)
    record(services, principal, "document.download", "document", document_id, version=version.number)
    return version, data


def read_preview(
    services: Services, principal: Principal, document_id: str, number: int | None = None
) -> tuple[Version, bytes, str]:
    """What the viewer shows: a derivative (XML invoice rendition, searchable PDF) or the original itself."""
    require(principal, DOCUMENTS_READ)
    version, data = _version(services, document_id, number)
    if version.derivative_key:
        data = services.store.get(version.derivative_key)
        mime = "text/html; charset=utf-8" if version.derivative_key.endswith(".html") else "application/pdf"
    elif version.mime_type in PREVIEWABLE:
        mime = version.mime_type or "application/octet-stream"
    else:
        raise NotFound(f"Für {version.mime_type or 'diesen Typ'} gibt es keine Vorschau.", code="no_preview")
    record(services, principal, "document.preview", "document", document_id, version=version.number)
    return version, data, mime


def reindex_document(services: Services, document_id: str) -> bool:
    """Index the latest version again from its stored text (no OCR). False when it has no text yet."""
    document = services.catalog.documents.get(document_id)
    latest = document.latest
    if latest is None or not latest.text_key or document.status not in ("filed", "needs_review"):
        services.index.delete(document_id)
        return False
    text = services.store.get(latest.text_key).decode("utf-8")
    services.index.index(entry_for(document, text, version=latest.number, filename=latest.filename))
    return True


def refile(services: Services, principal: Principal, document_id: str, body: dict[str, Any]) -> Document:
    """A person files a document by hand: customer, class, folder, title, tags (`class` = `document_class`)."""
    require(principal, DOCUMENTS_WRITE)
    changes = v.document_changes(body)
    settings = services.settings
    documents = services.catalog.documents
    document = documents.get(document_id)
    customer_number = changes.get("customer_number", document.customer_number)
    document_class = changes.get("document_class", document.document_class)
    if document_class is not None and document_class not in settings.document_classes:
        raise ValidationError(f"Unbekannte Dokumentklasse {document_class!r}.", field="document_class")
    customer = None
    if customer_number is not None:
        try:
            customer = services.catalog.customers.get(str(customer_number))
        except NotFound as exc:
            raise ValidationError(exc.message, code="customer_not_found", field="customer_number") from exc
    folder = changes.get("folder")
    if folder is None and ("document_class" in changes or document.folder == settings.inbox_folder):
        folder = settings.folder_for_class(str(document_class)) if document_class else document.folder
    folder = folder or document.folder
    if customer and folder not in customer.folders:
        raise ValidationError(f"Den Ordner {folder!r} gibt es in dieser Akte nicht.", field="folder")
    updates: dict[str, object] = {"folder": folder, "document_class": document_class}
    if "title" in changes:
        updates["title"] = str(changes["title"]).strip() or document.title
    if "tags" in changes:
        updates["tags"] = sorted(set(changes["tags"]))
    classification = dict(document.classification)
    classification["manual"] = {"by": principal.name, "at": utcnow().isoformat(), "fields": sorted(changes)}
    updates["classification"] = classification
    if document.status == DocumentStatus.NEEDS_REVIEW and customer is not None:
        updates["status"] = DocumentStatus.FILED
        updates["status_reason"] = None
    updated = documents.update(document_id, customer_number=customer.number if customer else None, **updates)
    sidecars.write_document(services.store, updated)
    reindex_document(services, document_id)
    record(services, principal, "document.refile", "document", document_id, fields=sorted(changes))
    return updated
