"""Documents: upload, metadata, content of any version, new versions, manual filing."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from dms import validation as v
from dms.documents import Upload, read_content, read_preview, receive_document, receive_version, refile
from dms.domain import DocumentStatus, Source
from dms.errors import ValidationError
from dms.web.api import api_bp, services
from dms.web.auth import require
from dms.web.body import json_object
from dms.web.params import bool_arg, choice_arg, int_arg, str_arg

# Shown inline by a browser; everything else is served as a download (attachment), so a stored
# HTML/SVG/XML file can never run script on our origin.
INLINE_TYPES = {"application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp", "text/plain"}
CONTENT_CSP = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'"


def _form(name: str, max_length: int = 200, *, multiline: bool = False) -> str | None:
    return v.text_field(request.form.get(name), name, max_length=max_length, multiline=multiline)


def _upload_from_request(actor: str) -> Upload:
    file = request.files.get("file")
    if file is None:
        raise ValidationError("Es fehlt die Datei (Formularfeld 'file').", field="file")
    tags = v.tags_field(",".join(request.form.getlist("tags")))
    return Upload(
        data=file.read(),
        filename=file.filename or "unbenannt",
        customer_number=_form("customer_number", v.MAX_NUMBER),
        document_class=_form("document_class", 64),
        folder=_form("folder"),
        title=_form("title", v.MAX_TITLE),
        tags=tuple(tags),
        source=_form("source", 32) or Source.API,
        actor=actor,
        comment=_form("comment", v.MAX_COMMENT, multiline=True),
    )


def _links(document_id: str) -> dict[str, str]:
    base = f"/api/v1/documents/{document_id}"
    return {"self": base, "content": f"{base}/content", "preview": f"{base}/preview", "versions": f"{base}/versions"}


@api_bp.post("/documents")
def upload_document():
    actor = require("documents:write")
    svc = services()
    document = receive_document(svc, _upload_from_request(actor.name))
    svc.catalog.audit(actor.name, "document.upload", "document", document.id, version=1)
    body = {"id": document.id, "status": document.status, "version": 1, "links": _links(document.id)}
    return jsonify(body), 202, {"Location": _links(document.id)["self"]}


@api_bp.get("/documents")
def list_documents():
    require("documents:read")
    documents = services().catalog.list_documents(
        customer_number=str_arg("customer", max_length=v.MAX_NUMBER),
        status=choice_arg("status", {s.value for s in DocumentStatus}),
        folder=str_arg("folder"),
        limit=int_arg("limit", 100, minimum=1, maximum=1000),
        offset=int_arg("offset", 0, maximum=1_000_000),
    )
    return jsonify({"documents": [d.to_dict(with_versions=False) for d in documents]})


@api_bp.get("/documents/<document_id>")
def get_document(document_id: str):
    actor = require("documents:read")
    svc = services()
    document = svc.catalog.get_document(document_id)
    body: dict[str, Any] = document.to_dict()
    body["events"] = [e.to_dict() for e in svc.catalog.events(document_id)]
    body["links"] = _links(document_id)
    svc.catalog.audit(actor.name, "document.read", "document", document_id)
    return jsonify(body)


def _version_arg() -> int | None:
    number = int_arg("version", 0, minimum=1, maximum=1_000_000)
    return number or None


@api_bp.get("/documents/<document_id>/content")
def get_content(document_id: str):
    actor = require("documents:read")
    number = _version_arg()
    svc = services()
    download = bool_arg("download")
    version, data = read_content(svc, document_id, number)
    svc.catalog.audit(actor.name, "document.download", "document", document_id, version=version.number)
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
def get_preview(document_id: str):
    """The rendition for viewing (HTML of an XML e-invoice, a searchable PDF) or the original."""
    actor = require("documents:read")
    download = bool_arg("download")
    svc = services()
    version, data, mime = read_preview(svc, document_id, _version_arg())
    svc.catalog.audit(actor.name, "document.preview", "document", document_id, version=version.number)
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
def add_version(document_id: str):
    actor = require("documents:write")
    svc = services()
    upload = _upload_from_request(actor.name)
    document, version = receive_version(svc, document_id, upload)
    svc.catalog.audit(actor.name, "document.new_version", "document", document_id, version=version.number)
    body = {"id": document_id, "version": version.number, "status": document.status, "links": _links(document_id)}
    return jsonify(body), 202


@api_bp.patch("/documents/<document_id>")
def update_document(document_id: str):
    actor = require("documents:write")
    changes = v.document_changes(json_object())
    svc = services()
    document = refile(svc, document_id, changes, actor.name)
    svc.catalog.audit(actor.name, "document.refile", "document", document_id, fields=sorted(changes))
    return jsonify(document.to_dict())
