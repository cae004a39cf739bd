"""Use cases on filed documents: read them, list them, file them by hand, read their content."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dms import sidecars
from dms import validation as v
from dms.app.audit import changes as audit_changes
from dms.app.audit import record
from dms.app.branches import check_customer_number, check_document, list_scope, scoped_customer
from dms.app.customer_status import after_filing
from dms.app.principal import AUDIT_READ, DOCUMENTS_READ, DOCUMENTS_WRITE, Principal, require
from dms.app.retention import after_change
from dms.app.services import Services
from dms.catalog.documents import DocumentFilter
from dms.catalog.engine import utcnow
from dms.domain import Document, DocumentEvent, DocumentStatus, Version
from dms.errors import NotFound, ValidationError
from dms.search.entries import entry_for

PREVIEWABLE = {"application/pdf", "image/png", "image/jpeg"}
PLAIN = (str, int, float, bool)  # field values a person edits as text (see `update_fields`)
STATUSES = {s.value for s in DocumentStatus}


def sees_restricted(principal: Principal) -> bool:
    """Documents restricted by a GDPR erasure (Art. 17, dms/app/gdpr.py) are shown to admins and
    auditors only; for everyone else they do not exist (lists, search, reads: 404)."""
    return principal.can(AUDIT_READ)


def visible(services: Services, principal: Principal, document: Document) -> Document:
    """`document`, or NotFound when it is restricted (GDPR) and `principal` may not see it, or belongs
    to a customer of a branch that is not the principal's (branch scoping)."""
    if document.restricted and not sees_restricted(principal):
        raise NotFound(f"Dokument {document.id} existiert nicht.", code="document_not_found")
    return check_document(services, principal, document)


def get_document(services: Services, principal: Principal, document_id: str) -> tuple[Document, list[DocumentEvent]]:
    """A document with its status events."""
    require(principal, DOCUMENTS_READ)
    documents = services.catalog.documents
    document = visible(services, principal, documents.get(document_id))
    events = documents.events(document_id)
    record(services, principal, "document.read", "document", document_id)
    return document, events


def document_status(services: Services, principal: Principal, document_id: str) -> dict[str, Any]:
    """Where a document's processing stands: status, reason and latest version number only.

    Not audited: it shows no content and no metadata, and upload pages ask for it every second
    while a document is processed (a read of the document itself is audited, `get_document`)."""
    require(principal, DOCUMENTS_READ)
    document = visible(services, principal, services.catalog.documents.get(document_id))
    latest = document.versions[-1].number if document.versions else None
    return {"id": document.id, "status": document.status, "status_reason": document.status_reason, "version": latest}


def related_documents(services: Services, principal: Principal, document_id: str) -> list[dict[str, Any]]:
    """The documents linked to this one (a mail's attachments, an attachment's mail), in link
    order: [{id, kind, title, customer_number, folder}]. Documents deleted or in the trash are left
    out, and restricted ones (GDPR) for whoever may not see them."""
    require(principal, DOCUMENTS_READ)
    shown = []
    for link in services.catalog.relations.related(document_id):
        restricted, trashed = link.pop("restricted"), link.pop("trashed")
        if link["title"] is None or trashed or (restricted and not sees_restricted(principal)):
            continue
        try:
            check_customer_number(services, principal, link.get("customer_number"))
        except NotFound:  # a customer of another branch (branch scoping)
            continue
        shown.append(link)
    return shown


@dataclass
class DocumentPage:
    """One page of a listing; `next_cursor` continues after its last document (also later, to
    fetch what arrived since), `has_more` says whether more matched when it was read."""

    documents: list[Document]
    next_cursor: str | None
    has_more: bool


ORDERS = ("newest", "oldest")


def encode_cursor(order: str, seq: int) -> str:
    raw = json.dumps({"o": order, "s": seq}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, int]:
    """(order, position) of a cursor from `encode_cursor`; anything else is a 400."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        order, seq = data["o"], data["s"]
        if order not in ORDERS or not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise ValueError(cursor)
        return order, seq
    except (ValueError, TypeError, KeyError, binascii.Error) as exc:
        raise ValidationError(f"Ungültiger cursor {v.quote(cursor)!r}.", field="cursor") from exc


def list_documents(
    services: Services,
    principal: Principal,
    *,
    customer_number: str | None = None,
    status: str | None = None,
    folder: str | None = None,
    document_class: str | None = None,
    external_id: str | None = None,
    updated_since: datetime | None = None,
    order: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> DocumentPage:
    """Documents in the order the catalog received them, newest first (`order="oldest"`: oldest
    first; e.g. the review inbox: `status="needs_review"`). Pages by `offset` or, stable under
    concurrent inserts, by `cursor` (the `next_cursor` of the page before; it keeps its order)."""
    require(principal, DOCUMENTS_READ)
    if status is not None and status not in STATUSES:
        raise ValidationError(f"Unbekannter Status {v.quote(status)!r}.", field="status")
    check_customer_number(services, principal, customer_number)
    scope = list_scope(services, principal, None)
    after = None
    if cursor is not None:
        cursor_order, after = decode_cursor(cursor)
        if order is not None and order != cursor_order:
            raise ValidationError(f"Der cursor gehört zu order={cursor_order}.", field="order")
        order = cursor_order
    order = order or "newest"
    where = DocumentFilter(
        customer_number=customer_number, status=status, folder=folder, document_class=document_class,
        external_id=external_id, updated_since=updated_since, after_seq=after, oldest_first=order == "oldest",
        include_restricted=sees_restricted(principal), **scope,
    )
    found = services.catalog.documents.page(where, limit=limit + 1, offset=offset)
    documents, has_more = found[:limit], len(found) > limit
    last = documents[-1].seq if documents else after
    next_cursor = encode_cursor(order, last) if last is not None and (has_more or order == "oldest") else None
    return DocumentPage(documents, next_cursor, has_more)


def _version(services: Services, document_id: str, number: int | None, principal: Principal) -> tuple[Version, bytes]:
    version = visible(services, principal, services.catalog.documents.get(document_id)).version(number)
    if version is None:
        raise NotFound(f"Version {number} von Dokument {document_id} existiert nicht.", code="version_not_found")
    return version, services.store.get(version.storage_key)


def read_content(
    services: Services, principal: Principal, document_id: str, number: int | None = None
) -> tuple[Version, bytes]:
    """The bytes of a version (the latest when `number` is None), byte for byte as received."""
    require(principal, DOCUMENTS_READ)
    version, data = _version(services, document_id, number, principal)
    record(services, principal, "document.download", "document", document_id, version=version.number)
    return version, data


def read_preview(
    services: Services, principal: Principal, document_id: str, number: int | None = None
) -> tuple[Version, bytes, str]:
    """What the viewer shows: a derivative (XML invoice rendition, searchable PDF) or the original itself."""
    require(principal, DOCUMENTS_READ)
    version, data = _version(services, document_id, number, principal)
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
    trashed = document.trashed_at is not None  # the trash is not searchable (dms/app/deletion.py)
    if latest is None or not latest.text_key or document.status not in ("filed", "needs_review") or trashed:
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
    document = visible(services, principal, documents.get(document_id))
    customer_number = changes.get("customer_number", document.customer_number)
    document_class = changes.get("document_class", document.document_class)
    if document_class is not None and document_class not in settings.document_classes:
        raise ValidationError(f"Unbekannte Dokumentklasse {document_class!r}.", field="document_class")
    customer = None
    if customer_number is not None:
        try:
            customer = scoped_customer(services, principal, str(customer_number))
        except NotFound as exc:
            raise ValidationError(exc.message, code="customer_not_found", field="customer_number") from exc
    folder = changes.get("folder")
    if folder is None and ("document_class" in changes or document.folder == settings.inbox_folder):
        folder = settings.folder_for_class(str(document_class)) if document_class else document.folder
    folder = folder or document.folder
    if customer and folder not in customer.folders:
        raise ValidationError(f"Den Ordner {folder!r} gibt es in dieser Akte nicht.", field="folder")
    if customer is None and "folder" in changes and folder not in (*settings.folder_template, settings.inbox_folder):
        # without a customer file, only the folders of the Aktenplan (as for an upload without a customer)
        raise ValidationError(f"Den Ordner {folder!r} gibt es im Aktenplan nicht.", field="folder")
    updates: dict[str, object] = {"folder": folder, "document_class": document_class}
    if "title" in changes:
        updates["title"] = str(changes["title"]).strip() or document.title
    if "tags" in changes:
        updates["tags"] = sorted(set(changes["tags"]))
    classification = dict(document.classification)
    classification["manual"] = {"by": principal.name, "at": utcnow().isoformat(), "fields": sorted(changes)}
    updates["classification"] = classification
    filed_by_hand = document.status == DocumentStatus.NEEDS_REVIEW and customer is not None
    updated = documents.update(document_id, customer_number=customer.number if customer else None, **updates)
    if filed_by_hand and document.latest is not None:
        # status, its event and the webhook events (document.filed) in one transaction, as the pipeline does
        services.catalog.outbox.set_final_status(
            document_id, document.latest.number, DocumentStatus.FILED, stage="manual_filing"
        )
        updated = documents.get(document_id)
    if after_change(services, principal, document_id) is not None:  # archive / extend, never shorten (#12)
        updated = documents.get(document_id)
    sidecars.write_document(services.store, updated)
    reindex_document(services, document_id)
    kept = ("customer_number", "folder", "document_class", "title", "tags", "status")
    old_new = audit_changes({k: getattr(document, k) for k in kept}, {k: getattr(updated, k) for k in kept})
    record(services, principal, "document.refile", "document", document_id, fields=sorted(changes), **old_new)
    if updated.status == DocumentStatus.FILED:
        after_filing(services, document_id)  # [customers] auto_status_on_invoice (issue 14)
    return updated


def update_fields(services: Services, principal: Principal, document_id: str, fields: dict[str, Any]) -> Document:
    """A person sets the key fields (invoice number, amounts, …) by hand, e.g. in the web form.

    `fields` replaces every plain field (text, number, yes/no): one left out is removed.
    Structured fields (lists, objects such as invoice lines) and the pipeline's `warnings` stay
    unless `fields` names them. A text equal to the current value written as text keeps the
    current value (a form sends a number as text). What the person changed is kept like a
    sender's fields, so processing a new version does not overwrite it."""
    require(principal, DOCUMENTS_WRITE)
    sent = v.fields_field(fields)
    documents = services.catalog.documents
    document = visible(services, principal, documents.get(document_id))
    kept = {k: value for k, value in document.fields.items() if k in v.RESERVED_FIELDS}
    old = {k: value for k, value in document.fields.items() if k not in v.RESERVED_FIELDS}
    new: dict[str, Any] = {}
    for name, current in old.items():
        if name in sent:
            value = sent[name]
            as_text = isinstance(value, str) and isinstance(current, int | float) and str(current) == value
            new[name] = current if as_text else value
        elif not isinstance(current, PLAIN):
            new[name] = current
    new.update({name: value for name, value in sent.items() if name not in old})
    changed = sorted(name for name in set(old) | set(new) if old.get(name) != new.get(name))
    if not changed:
        return document
    given = {k: value for k, value in document.given_fields.items() if k in new}
    given.update({name: new[name] for name in changed if name in new})
    updated = documents.update(document_id, fields={**new, **kept}, given_fields=given)
    sidecars.write_document(services.store, updated)
    reindex_document(services, document_id)
    record(services, principal, "document.edit_fields", "document", document_id, fields=changed,
           old={name: old.get(name) for name in changed}, new={name: new.get(name) for name in changed})
    return updated


def _comparable(name: str, value: Any) -> Any:
    """A document value as `refile` would store it (tags: a sorted set)."""
    return sorted(set(value or ())) if name == "tags" else value


def edit_document(
    services: Services, principal: Principal, document_id: str, body: dict[str, Any],
    fields: dict[str, Any] | None = None,
) -> tuple[Document, list[str]]:
    """A person edits a document in a form that sends every value: only what differs is changed,
    by `refile` (customer, class, folder, title, tags) and `update_fields` (`fields`, when given),
    each audited. Everything is validated before anything changes. (document, names changed)."""
    require(principal, DOCUMENTS_WRITE)
    document = visible(services, principal, services.catalog.documents.get(document_id))
    wanted = v.document_changes(body)
    if fields is not None:
        v.fields_field(fields)
    differs = {name: value for name, value in wanted.items() if _comparable(name, value) != _comparable(
        name, getattr(document, name))}
    changed: list[str] = []
    if differs:
        document = refile(services, principal, document_id, differs)
        changed.extend(sorted(differs))
    if fields is not None:
        before = dict(document.fields)
        document = update_fields(services, principal, document_id, fields)
        if document.fields != before:
            changed.append("fields")
    return document, changed
