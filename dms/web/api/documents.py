"""Documents: upload, metadata, content of any version, new versions, manual filing.

HTTP in (form fields, query parameters), a `dms.app` use case, JSON or bytes out.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from dms import validation as v
from dms.app import documents as uc
from dms.app import intake
from dms.app.principal import ADMIN, DOCUMENTS_READ, DOCUMENTS_WRITE
from dms.domain import DocumentStatus, Source
from dms.errors import DmsError, InvalidMetadata, PayloadTooLarge, ValidationError
from dms.web.api import api_bp, services
from dms.web.api.deletions import DeleteOutcome, DocumentDeleteQuery
from dms.web.auth import require
from dms.web.body import json_object, json_value
from dms.web.idempotency import dont_store, idempotent
from dms.web.openapi import Header, Reply, operation
from dms.web.openapi import models as m
from dms.web.openapi import read_models as rm
from dms.web.params import bool_arg, choice_arg, datetime_arg, int_arg, str_arg

# Shown inline by a browser; everything else is served as a download (attachment), so a stored
# HTML/SVG/XML file can never run script on our origin.
INLINE_TYPES = {"application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp", "text/plain"}
CONTENT_CSP = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'"
# for the OpenAPI document
LOCATION = {"Location": Header("The document", required=True)}
UPLOAD_ERRORS = {
    400: "Invalid request: no `file` part, an unknown customer (`customer_not_found`), class or folder, a `source` "
    "that is none of the sources.",
    409: "`duplicate`: these bytes are already in this customer's file (`document_id` and `version` name them).",
    422: "`invalid_metadata`: malformed metadata (a form field or the `metadata` part: not JSON, not an object, an "
    "unknown or doubly sent field, a bad date, …); `fields` has one message per bad field.",
}
CONTENT_HEADERS = {"Content-Disposition": "inline or attachment, with the file name", "X-Document-Version": "Number"}
PREVIEW_TYPES = ("application/pdf", "text/html", "image/png", "image/jpeg")


ABSENT = object()  # a multipart part that was not sent (JSON `null` is a value, and not a valid one)


def _json_part(name: str, form: Any, files: Any) -> Any:
    """The JSON of a multipart part `name` (a plain field or a file part), or ABSENT."""
    if name in files:
        raw: bytes | str = files[name].read()
    elif name in form:
        raw = form[name]
    else:
        return ABSENT
    try:
        return json_value(raw)
    except ValidationError as exc:
        raise InvalidMetadata(f"Der Teil {name!r} ist kein gültiges JSON.", fields={name: exc.message}) from exc


def _metadata_part(value: Any, name: str = "metadata") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidMetadata(f"Der Teil {name!r} muss ein JSON-Objekt sein.",
                              fields={name: f"Erwartet wird ein JSON-Objekt, nicht {type(value).__name__}."})
    return value


def _raw_metadata() -> dict[str, Any]:
    """The document's metadata as sent: form fields, plus the keys of one JSON `metadata` part."""
    form = request.form
    raw: dict[str, Any] = {}
    for name in v.UPLOAD_METADATA:
        if name == "tags" and form.getlist("tags"):
            raw["tags"] = ",".join(form.getlist("tags"))
        elif name != "tags" and name in form:
            raw[name] = form[name]
    part = _json_part("metadata", form, request.files)
    if part is not ABSENT:
        twice = sorted(set(_metadata_part(part)) & set(raw))
        if twice:
            raise InvalidMetadata(
                "Felder zugleich als Formularfeld und im Teil 'metadata' gesendet.",
                fields={name: "Zweimal angegeben (Formularfeld und Teil 'metadata')." for name in twice},
            )
        raw.update(part)
    return raw


def _upload(data: bytes, filename: str, meta: dict[str, Any]) -> intake.Upload:
    return intake.Upload(
        data=data,
        filename=filename or "unbenannt",
        customer_number=meta.get("customer_number"),
        document_class=meta.get("document_class"),
        folder=meta.get("folder"),
        title=meta.get("title"),
        tags=tuple(meta.get("tags") or ()),
        source=meta.get("source") or Source.API,
        comment=meta.get("comment"),
        external_id=meta.get("external_id"),
        document_date=meta.get("document_date"),
        fields=meta.get("fields"),
    )


def _upload_from_request(allowed: tuple[str, ...] = v.UPLOAD_METADATA) -> intake.Upload:
    file = request.files.get("file")
    if file is None:
        raise ValidationError("Es fehlt die Datei (Formularfeld 'file').", field="file")
    meta = v.upload_metadata(_raw_metadata(), allowed=allowed)
    return _upload(file.read(), file.filename or "unbenannt", meta)


def _links(document_id: str) -> dict[str, str]:
    base = f"/api/v1/documents/{document_id}"
    return {"self": base, "content": f"{base}/content", "preview": f"{base}/preview", "versions": f"{base}/versions"}


@api_bp.post("/documents")
@operation("Upload a document", permission=DOCUMENTS_WRITE, form=m.Upload, tag="documents", errors=UPLOAD_ERRORS,
           replies={
               200: Reply(m.UploadReceipt, "`unchanged`: this sender's document with this `external_id` already has "
                          "these bytes (as `version`); nothing stored", headers=LOCATION),
               202: Reply(m.UploadReceipt, "Stored (`created`, or `new_version` of this sender's document with this "
                          "`external_id`); processing follows (poll the document)", headers=LOCATION),
           })
@idempotent(DOCUMENTS_WRITE)
def upload_document():
    """A new document → 202; with a known `external_id` of this sender: same bytes 200, new bytes 202 (version)."""
    principal = require(DOCUMENTS_WRITE)
    receipt = intake.receive(services(), principal, _upload_from_request())
    return jsonify(_receipt_body(receipt)), receipt.http_status, {"Location": _links(receipt.document.id)["self"]}


def _receipt_body(receipt: intake.Receipt) -> dict[str, Any]:
    document = receipt.document
    return {
        "id": document.id, "status": document.status, "version": receipt.version, "outcome": receipt.outcome,
        "external_id": document.external_id, "links": _links(document.id),
    }


def _manifest(count: int) -> list[Any]:
    """Per-file metadata of a batch: the JSON array of the `manifest` part, one entry per file in order."""
    manifest = _json_part("manifest", request.form, request.files)
    if manifest is ABSENT:
        return [{} for _ in range(count)]
    if not isinstance(manifest, list) or len(manifest) != count:
        found = f"{len(manifest)} Einträge" if isinstance(manifest, list) else type(manifest).__name__
        raise InvalidMetadata(
            f"Das manifest muss ein JSON-Array mit einem Eintrag je Datei sein ({count} Dateien, {found}).",
            code="invalid_manifest", fields={"manifest": f"Erwartet: {count} Einträge, erhalten: {found}."},
        )
    return manifest


def _batch_item(principal: Any, index: int, file: Any, raw: Any) -> dict[str, Any]:
    result: dict[str, Any] = {"index": index, "filename": file.filename}
    try:
        meta = v.upload_metadata(_metadata_part(raw, f"manifest[{index}]"))
        receipt = intake.receive(services(), principal, _upload(file.read(), file.filename or "unbenannt", meta))
    except DmsError as exc:
        return result | {"status": exc.http_status, "error": exc.to_dict()}
    body = _receipt_body(receipt)
    body["document_status"] = body.pop("status")  # `status` of an item is its HTTP status
    return result | body | {"status": receipt.http_status}


@api_bp.post("/documents/batch")
@operation("Upload up to 100 documents at once", permission=DOCUMENTS_WRITE, tag="documents", status=207,
           form=m.BatchUpload,
           reply=Reply(m.BatchResult, "One result per file, in order: what `POST /documents` would have answered "
                       "for it (an item's error does not stop the others)"),
           errors={400: "Invalid request: no `file` part.",
                   413: "`too_many_items`: more files than `api.max_batch_items`; or the request exceeds "
                   "`ingest.max_upload_mb` (`too_large`).",
                   422: "`invalid_manifest`: the `manifest` part is not JSON or not an array with one entry per "
                   "file (`fields` says which)."})
@idempotent(DOCUMENTS_WRITE)
def upload_batch():
    """Up to `api.max_batch_items` documents: `file` parts and a `manifest` part → 207 with one result per file."""
    principal = require(DOCUMENTS_WRITE)
    files = request.files.getlist("file")
    if not files:
        raise ValidationError("Es fehlen die Dateien (Formularteile 'file').", field="file")
    most = services().settings.limit("api", "max_batch_items")
    if len(files) > most:
        raise PayloadTooLarge(f"{len(files)} Dokumente in einer Anfrage; erlaubt sind höchstens {most}.",
                              code="too_many_items")
    manifest = _manifest(len(files))
    results = [_batch_item(principal, i, f, raw) for i, (f, raw) in enumerate(zip(files, manifest, strict=True))]
    if any(r["status"] >= 500 for r in results):
        dont_store()  # a retry with the same key runs again
    accepted = sum(1 for r in results if r["status"] < 300)
    return jsonify({"results": results, "accepted": accepted, "failed": len(results) - accepted}), 207


@api_bp.get("/documents")
@operation("List documents (e.g. the review inbox)", permission=DOCUMENTS_READ, query=rm.DocumentQuery,
           reply=m.DocumentList, tag="documents")
def list_documents():
    principal = require(DOCUMENTS_READ)
    page = uc.list_documents(
        services(),
        principal,
        customer_number=str_arg("customer", max_length=v.MAX_NUMBER),
        status=choice_arg("status", {s.value for s in DocumentStatus}),
        folder=str_arg("folder"),
        document_class=str_arg("class", max_length=64),
        external_id=str_arg("external_id", max_length=v.MAX_EXTERNAL_ID),
        updated_since=datetime_arg("updated_since"),
        order=choice_arg("order", uc.ORDERS),
        cursor=str_arg("cursor", max_length=500),
        limit=int_arg("limit", 100, minimum=1, maximum=1000),
        offset=int_arg("offset", 0, maximum=1_000_000),
    )
    return jsonify({
        "documents": [d.to_dict(with_versions=False) for d in page.documents],
        "next_cursor": page.next_cursor,
        "has_more": page.has_more,
    })


@api_bp.get("/documents/<document_id>")
@operation("Metadata, status, fields, classification, versions, events, related documents", permission=DOCUMENTS_READ,
           reply=m.DocumentDetail, tag="documents")
def get_document(document_id: str):
    principal = require(DOCUMENTS_READ)
    document, events = uc.get_document(services(), principal, document_id)
    body: dict[str, Any] = document.to_dict()
    body["events"] = [e.to_dict() for e in events]
    body["related"] = uc.related_documents(services(), principal, document_id)
    body["links"] = _links(document_id)
    return jsonify(body)


@api_bp.get("/documents/<document_id>/status")
@operation("Where processing stands (status, reason, latest version); not audited, for polling",
           permission=DOCUMENTS_READ, reply=m.DocumentStatusReply, tag="documents")
def get_document_status(document_id: str):
    return jsonify(uc.document_status(services(), require(DOCUMENTS_READ), document_id))


def _version_arg() -> int | None:
    number = int_arg("version", 0, minimum=1, maximum=1_000_000)
    return number or None


@api_bp.get("/documents/<document_id>/content")
@operation("The bytes of a version, as received", permission=DOCUMENTS_READ, query=rm.VersionQuery, tag="documents",
           reply=Reply(description="The original", media_types=("*/*",), headers=CONTENT_HEADERS))
def get_content(document_id: str):
    principal = require(DOCUMENTS_READ)
    number = _version_arg()
    download = bool_arg("download")
    version, data = uc.read_content(services(), principal, document_id, number)
    mime = version.mime_type or "application/octet-stream"
    inline = not download and mime in INLINE_TYPES
    response = Response(data, mimetype=mime if inline or version.mime_type else "application/octet-stream")
    response.headers["Content-Disposition"] = _content_disposition("inline" if inline else "attachment",
                                                                   version.filename)
    response.headers["Content-Security-Policy"] = CONTENT_CSP
    response.headers["ETag"] = f'"{version.sha256}"'
    response.headers["X-Document-Version"] = str(version.number)
    return response


@api_bp.get("/documents/<document_id>/preview")
@operation("What a viewer shows", permission=DOCUMENTS_READ, query=rm.VersionQuery, tag="documents",
           reply=Reply(description="A searchable PDF, an HTML rendition or the PDF/image itself",
                       media_types=PREVIEW_TYPES, headers=CONTENT_HEADERS))
def get_preview(document_id: str):
    """The rendition for viewing (HTML of an XML e-invoice, a searchable PDF) or the original."""
    principal = require(DOCUMENTS_READ)
    download = bool_arg("download")
    version, data, mime = uc.read_preview(services(), principal, document_id, _version_arg())
    response = Response(data, mimetype=mime)
    if download:
        stem = version.filename.rsplit(".", 1)[0]
        name = f"{stem} (durchsuchbar).pdf" if mime == "application/pdf" and version.derivative_key else (
            f"{stem}.html" if mime.startswith("text/html") else version.filename
        )
        response.headers["Content-Disposition"] = _content_disposition("attachment", name)
    response.headers["Content-Security-Policy"] = CONTENT_CSP
    response.headers["X-Document-Version"] = str(version.number)
    return response


def _content_disposition(kind: str, filename: str) -> str:
    from urllib.parse import quote

    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


@api_bp.post("/documents/<document_id>/versions")
@operation("Add a version", permission=DOCUMENTS_WRITE, form=m.VersionUpload, status=202, tag="documents",
           reply=Reply(m.UploadAccepted, "Stored as the next version; processing follows"),
           errors={400: "Invalid request: no `file` part.",
                   409: "`duplicate`: these bytes are already a version of this document (`version` names it).",
                   422: "`invalid_metadata`: malformed metadata (`external_id` is not allowed here); `fields` has one "
                   "message per bad field."})
@idempotent(DOCUMENTS_WRITE)
def add_version(document_id: str):
    principal = require(DOCUMENTS_WRITE)
    allowed = tuple(name for name in v.UPLOAD_METADATA if name != "external_id")
    document, version = intake.add_version(services(), principal, document_id, _upload_from_request(allowed))
    body = {"id": document_id, "version": version.number, "status": document.status, "links": _links(document_id)}
    return jsonify(body), 202


@api_bp.patch("/documents/<document_id>")
@operation("File by hand", permission=DOCUMENTS_WRITE, body=m.DocumentUpdate, reply=m.DocumentWithVersions,
           tag="documents")
def update_document(document_id: str):
    principal = require(DOCUMENTS_WRITE)
    document = uc.refile(services(), principal, document_id, json_object())
    return jsonify(document.to_dict())


# --- deleting (issue #12, dms/app/deletion.py) ------------------------------------------------

DELETE_ERRORS = {
    409: "`retention_active`: the document is under retention until `deletable_from` (ISO; "
    "`deletable_from_text` in German); `legal_hold_active`: a legal hold on the document or its customer "
    "(`legal_hold`: document | customer); `already_in_trash`; `document_processing`; `latest_version`: the "
    "latest of several versions cannot be deleted alone.",
}


@api_bp.delete("/documents/<document_id>")
@operation("Delete a document (to the trash) or one older version", permission=ADMIN, query=DocumentDeleteQuery,
           reply=DeleteOutcome, tag="documents", errors=DELETE_ERRORS)
def delete_document(document_id: str):
    """Without retention or legal hold: the document goes to the trash (purged after `[deletion]
    trash_days`), or `?version=N` deletes that version at once (the only version: the document)."""
    from dms.app import deletion

    principal = require(ADMIN)
    return jsonify(deletion.delete_document(services(), principal, document_id, _version_arg()))


@api_bp.post("/documents/<document_id>/restore")
@operation("Take a document out of the trash", permission=ADMIN, reply=m.DocumentWithVersions, tag="documents",
           errors={409: "`not_in_trash`: the document is not in the trash."})
def restore_document(document_id: str):
    from dms.app import deletion

    principal = require(ADMIN)
    return jsonify(deletion.restore_document(services(), principal, document_id).to_dict())
