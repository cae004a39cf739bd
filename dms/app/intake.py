"""Use cases that take a file in: receive a document, add a version.

Validate, store the original first (with its sidecar), record it in the catalog, audit, then
queue the ingest. Every entry point (API, CLI, mail gateway, hot folder, ERP) comes through here.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import PurePath
from typing import Any

from dms import sidecars
from dms.app.audit import record
from dms.app.branches import check_customer_number
from dms.app.principal import DOCUMENTS_WRITE, Principal, require
from dms.app.services import Services
from dms.app.tasks import queue_ingest
from dms.catalog.engine import utcnow
from dms.domain import Document, DocumentStatus, Source, Version
from dms.errors import Conflict, DuplicateDocument, NotFound, PayloadTooLarge, ValidationError
from dms.storage import keys
from dms.validation import safe_filename

CREATED, NEW_VERSION, UNCHANGED = "created", "new_version", "unchanged"


@dataclass
class Upload:
    """A file as an entry point received it, with what the sender said about it."""

    data: bytes
    filename: str
    customer_number: str | None = None
    document_class: str | None = None
    folder: str | None = None
    title: str | None = None
    tags: tuple[str, ...] = ()
    source: str = Source.UPLOAD
    comment: str | None = None
    # Metadata of a sender such as an ERP: its id of the document (unique per sender, see
    # `receive`), the document date and free key fields, which the pipeline never overrides.
    external_id: str | None = None
    document_date: date | None = None
    fields: dict[str, Any] | None = None
    # Extra details for the audit entry of the upload (e.g. the mail gateway names the sender),
    # and a note shown as the review reason when the document ends without a customer.
    audit: dict[str, Any] | None = None
    review_note: str | None = None


@dataclass
class Receipt:
    """What `receive` did: `created` a document, added a `new_version`, or found it `unchanged`."""

    document: Document
    version: int
    outcome: str

    @property
    def http_status(self) -> int:
        return 200 if self.outcome == UNCHANGED else 202


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
            customer = services.catalog.customers.get(upload.customer_number)
        except NotFound as exc:
            raise ValidationError(exc.message, code="customer_not_found", field="customer_number") from exc
    if upload.folder:
        folders = customer.folders if customer else settings.folder_template
        if upload.folder not in folders:
            raise ValidationError(f"Den Ordner {upload.folder!r} gibt es in dieser Akte nicht.", field="folder")


def _new_version(document_id: str, number: int, upload: Upload, sha256: str, actor: str) -> Version:
    return Version(
        number=number,
        sha256=sha256,
        size=len(upload.data),
        mime_type=None,
        filename=clean_filename(upload.filename),
        original_filename=_original_name(upload.filename),
        created_at=utcnow(),
        created_by=actor,
        comment=upload.comment,
        storage_key=keys.original_key(document_id, number),
    )


def receive_document(services: Services, principal: Principal, upload: Upload) -> Document:
    """Store the original, create the document (status received), audit and queue its ingest."""
    return receive(services, principal, upload).document


def receive(services: Services, principal: Principal, upload: Upload) -> Receipt:
    """A document as a sender pushes it. With an `external_id` the sender (`principal.name`, e.g.
    one ERP's token) already used: the same bytes are that document `unchanged`, other bytes
    its `new_version`; never a second document (the catalog's unique index decides a race
    between processes). Otherwise a new document (`created`)."""
    require(principal, DOCUMENTS_WRITE)
    _validate(services, upload)
    try:
        check_customer_number(services, principal, upload.customer_number)  # branch scoping
    except NotFound as exc:
        raise ValidationError(exc.message, code="customer_not_found", field="customer_number") from exc
    sha256 = hashlib.sha256(upload.data).hexdigest()
    for _ in range(3):
        if upload.external_id:
            known = services.catalog.documents.find_external(principal.name, upload.external_id)
            if known is not None:
                return _push_again(services, principal, known, upload, sha256)
        try:
            return Receipt(_create(services, principal, upload, sha256), 1, CREATED)
        except Conflict as exc:
            if exc.code != "external_id_exists":
                raise
    raise Conflict("Das Dokument wird gerade von einer anderen Anfrage angelegt; bitte erneut senden.")


def _push_again(services: Services, principal: Principal, document: Document, upload: Upload, sha256: str) -> Receipt:
    same = next((v for v in document.versions if v.sha256 == sha256), None)
    if same is not None:
        return Receipt(document, same.number, UNCHANGED)
    updated, version = add_version(services, principal, document.id, upload)
    return Receipt(updated, version.number, NEW_VERSION)


def _given(upload: Upload) -> dict[str, Any]:
    """The catalog values of the sender's metadata that the upload carries."""
    given: dict[str, Any] = {}
    if upload.fields is not None:
        given["given_fields"] = dict(upload.fields)
    if upload.document_date is not None:
        given["given_date"] = upload.document_date
    return given


def _audit(upload: Upload) -> dict[str, Any]:
    """The sender's extra audit details (never overriding the entry's own columns)."""
    reserved = {"customer_number", "document_id", "version", "external_id"}
    return {k: v for k, v in (upload.audit or {}).items() if k not in reserved}


def _create(services: Services, principal: Principal, upload: Upload, sha256: str) -> Document:
    documents = services.catalog.documents
    with services.receive_lock:
        if upload.external_id and documents.find_external(principal.name, upload.external_id):
            raise Conflict("Die externe Id ist bereits vergeben.", code="external_id_exists")  # raced: look again
        duplicate = documents.find_duplicate(sha256, upload.customer_number)
        if duplicate:
            raise DuplicateDocument(
                "Diese Datei ist bereits abgelegt.", document_id=duplicate[0], version=duplicate[1]
            )
        document_id = str(uuid.uuid4())
        version = _new_version(document_id, 1, upload, sha256, principal.name)
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
                    **({"review_note": upload.review_note} if upload.review_note else {}),
                }
            },
            fields=dict(upload.fields or {}),
            document_date=upload.document_date,
            external_id=upload.external_id,
            external_source=principal.name if upload.external_id else None,
            given_fields=dict(upload.fields or {}),
            given_date=upload.document_date,
        )
        document = documents.create(draft, version)
        sidecars.write_document(services.store, document)
    queue_ingest(services, document_id, 1)
    extra = {"external_id": upload.external_id} if upload.external_id else {}
    record(services, principal, "document.upload", "document", document_id, version=1, **extra, **_audit(upload))
    return document


def add_version(services: Services, principal: Principal, document_id: str, upload: Upload) -> tuple[Document, Version]:
    """Add a new version to a document; every older version stays retrievable."""
    require(principal, DOCUMENTS_WRITE)
    _check_size(services, upload)
    sha256 = hashlib.sha256(upload.data).hexdigest()
    documents = services.catalog.documents
    with services.receive_lock:
        document = documents.get(document_id)
        if document.trashed_at is not None:  # restore it first (dms/app/deletion.py)
            raise Conflict(f"Dokument {document_id} liegt im Papierkorb.", code="document_in_trash")
        same = next((v for v in document.versions if v.sha256 == sha256), None)
        if same is not None:
            raise DuplicateDocument(
                f"Diese Datei ist bereits Version {same.number} des Dokuments.",
                document_id=document_id,
                version=same.number,
            )
        number = (document.latest.number if document.latest else 0) + 1
        version = _new_version(document_id, number, upload, sha256, principal.name)
        services.store.put(version.storage_key, upload.data)
        sidecars.write_version(services.store, document_id, version)
        documents.add_version(document_id, version)
        given = _given(upload)
        if given:  # the sender's newest metadata replaces what it said before
            documents.update(document_id, **given)
        documents.set_status(document_id, DocumentStatus.RECEIVED, stage="store_original")
        sidecars.write_document(services.store, documents.get(document_id))
    queue_ingest(services, document_id, number)
    record(services, principal, "document.new_version", "document", document_id, version=number, **_audit(upload))
    return documents.get(document_id), version
