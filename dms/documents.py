"""Receiving documents and versions: validate, store the original first, then queue the ingest."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from pathlib import PurePath

from dms import sidecars
from dms.catalog.catalog import utcnow
from dms.domain import Document, DocumentStatus, Source, Version
from dms.errors import DuplicateDocument, NotFound, PayloadTooLarge, ValidationError
from dms.search.entries import entry_for
from dms.services import Services
from dms.storage import keys
from dms.validation import safe_filename

INGEST_TASK = "ingest.process"


@dataclass
class Upload:
    data: bytes
    filename: str
    customer_number: str | None = None
    document_class: str | None = None
    folder: str | None = None
    title: str | None = None
    tags: tuple[str, ...] = ()
    source: str = Source.UPLOAD
    actor: str = "local"
    comment: str | None = None


def clean_filename(name: str | None) -> str:
    """The stored file name: no path parts, `..`, control or bidi characters (see dms.validation)."""
    return safe_filename(name)


def _original_name(name: str | None) -> str | None:
    """The name as sent (kept as metadata only, never used as a path), when it differs from the stored one."""
    if not name:
        return None
    raw = name.encode("utf-8", "replace").decode("utf-8")[:1000]
    return raw if raw != clean_filename(name) else None


def _check_size(services: Services, upload: Upload) -> None:
    limit = services.settings.max_upload_bytes
    if len(upload.data) > limit:
        raise PayloadTooLarge(
            f"Die Datei ist {len(upload.data) // 1048576} MB groß; erlaubt sind {limit // 1048576} MB."
        )


def _validate(services: Services, upload: Upload) -> None:
    settings = services.settings
    _check_size(services, upload)
    if upload.source not in set(Source):
        raise ValidationError(f"Unbekannte Quelle {upload.source!r}.", field="source")
    if upload.document_class and upload.document_class not in settings.document_classes:
        allowed = ", ".join(settings.document_classes)
        raise ValidationError(
            f"Unbekannte Dokumentklasse {upload.document_class!r}; erlaubt: {allowed}.", field="document_class"
        )
    customer = None
    if upload.customer_number:
        try:
            customer = services.catalog.get_customer(upload.customer_number)
        except NotFound as exc:
            raise ValidationError(exc.message, code="customer_not_found", field="customer_number") from exc
    if upload.folder:
        folders = customer.folders if customer else settings.folder_template
        if upload.folder not in folders:
            raise ValidationError(f"Den Ordner {upload.folder!r} gibt es in dieser Akte nicht.", field="folder")


def _new_version(document_id: str, number: int, upload: Upload, sha256: str) -> Version:
    return Version(
        number=number,
        sha256=sha256,
        size=len(upload.data),
        mime_type=None,
        filename=clean_filename(upload.filename),
        original_filename=_original_name(upload.filename),
        created_at=utcnow(),
        created_by=upload.actor,
        comment=upload.comment,
        storage_key=keys.original_key(document_id, number),
    )


def _queue(services: Services, document_id: str, version: int) -> None:
    if services.queue is not None:
        services.queue.submit(INGEST_TASK, document_id=document_id, version=version)


def receive_document(services: Services, upload: Upload) -> Document:
    """Store the original, create the document (status received) and queue its ingest."""
    _validate(services, upload)
    sha256 = hashlib.sha256(upload.data).hexdigest()
    with services.receive_lock:
        duplicate = services.catalog.find_duplicate(sha256, upload.customer_number)
        if duplicate:
            raise DuplicateDocument(
                "Diese Datei ist bereits abgelegt.", document_id=duplicate[0], version=duplicate[1]
            )
        document_id = str(uuid.uuid4())
        version = _new_version(document_id, 1, upload, sha256)
        services.store.put(version.storage_key, upload.data)
        sidecars.write_version(services.store, document_id, version)
        draft = Document(
            id=document_id,
            customer_number=upload.customer_number,
            folder=upload.folder,
            document_class=upload.document_class,
            title=(upload.title or "").strip() or PurePath(version.filename).stem,
            source=upload.source,
            status=DocumentStatus.RECEIVED,
            tags=sorted(set(upload.tags)),
            classification={
                "given": {
                    "customer_number": upload.customer_number,
                    "document_class": upload.document_class,
                    "folder": upload.folder,
                    "title": upload.title,
                }
            },
        )
        document = services.catalog.create_document(draft, version)
        sidecars.write_document(services.store, document)
    _queue(services, document_id, 1)
    return document


def receive_version(services: Services, document_id: str, upload: Upload) -> tuple[Document, Version]:
    """Add a new version to a document; every older version stays retrievable."""
    _check_size(services, upload)
    sha256 = hashlib.sha256(upload.data).hexdigest()
    with services.receive_lock:
        document = services.catalog.get_document(document_id)
        same = next((v for v in document.versions if v.sha256 == sha256), None)
        if same is not None:
            raise DuplicateDocument(
                f"Diese Datei ist bereits Version {same.number} des Dokuments.",
                document_id=document_id,
                version=same.number,
            )
        number = (document.latest.number if document.latest else 0) + 1
        version = _new_version(document_id, number, upload, sha256)
        services.store.put(version.storage_key, upload.data)
        sidecars.write_version(services.store, document_id, version)
        services.catalog.add_version(document_id, version)
        services.catalog.set_status(document_id, DocumentStatus.RECEIVED, stage="store_original")
    _queue(services, document_id, number)
    return services.catalog.get_document(document_id), version


def read_content(services: Services, document_id: str, number: int | None = None) -> tuple[Version, bytes]:
    document = services.catalog.get_document(document_id)
    version = document.version(number)
    if version is None:
        raise NotFound(f"Version {number} von Dokument {document_id} existiert nicht.", code="version_not_found")
    return version, services.store.get(version.storage_key)


def reindex_document(services: Services, document_id: str) -> bool:
    """Index the latest version again from its stored text (no OCR). False when it has no text yet."""
    document = services.catalog.get_document(document_id)
    latest = document.latest
    if latest is None or not latest.text_key or document.status not in ("filed", "needs_review"):
        services.index.delete(document_id)
        return False
    text = services.store.get(latest.text_key).decode("utf-8")
    services.index.index(entry_for(document, text, version=latest.number, filename=latest.filename))
    return True


def refile(services: Services, document_id: str, changes: dict[str, object], actor: str) -> Document:
    """A person files a document by hand: customer, class, folder, title, tags."""
    document = services.catalog.get_document(document_id)
    customer_number = changes.get("customer_number", document.customer_number)
    document_class = changes.get("document_class", document.document_class)
    settings = services.settings
    if document_class is not None and document_class not in settings.document_classes:
        raise ValidationError(f"Unbekannte Dokumentklasse {document_class!r}.", field="document_class")
    customer = None
    if customer_number is not None:
        try:
            customer = services.catalog.get_customer(str(customer_number))
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
        updates["tags"] = sorted(set(changes["tags"]))  # type: ignore[arg-type]
    classification = dict(document.classification)
    classification["manual"] = {"by": actor, "at": utcnow().isoformat(), "fields": sorted(changes)}
    updates["classification"] = classification
    if document.status == DocumentStatus.NEEDS_REVIEW and customer is not None:
        updates["status"] = DocumentStatus.FILED
        updates["status_reason"] = None
    updated = services.catalog.update_document(
        document_id, customer_number=customer.number if customer else None, **updates
    )
    sidecars.write_document(services.store, updated)
    reindex_document(services, document_id)
    return updated


PREVIEWABLE = {"application/pdf", "image/png", "image/jpeg"}


def read_preview(services: Services, document_id: str, number: int | None = None) -> tuple[Version, bytes, str]:
    """What the viewer shows: a derivative (XML invoice rendition, searchable PDF) or the original itself."""
    version, data = read_content(services, document_id, number)
    if version.derivative_key:
        derived = services.store.get(version.derivative_key)
        mime = "text/html; charset=utf-8" if version.derivative_key.endswith(".html") else "application/pdf"
        return version, derived, mime
    if version.mime_type in PREVIEWABLE:
        return version, data, version.mime_type or "application/octet-stream"
    raise NotFound(f"Für {version.mime_type or 'diesen Typ'} gibt es keine Vorschau.", code="no_preview")
