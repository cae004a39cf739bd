"""Documents: upload, metadata, content of any version, new versions, manual filing.

HTTP in (form fields, query parameters), a `dms.app` use case, JSON or bytes out.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from dms import validation as v
from dms.app import documents as uc
from dms.app import intake
from dms.app.principal import DOCUMENTS_READ, DOCUMENTS_WRITE
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


def _upload_from_request() -> intake.Upload:
    file = request.files.get("file")
    if file is None:
        raise ValidationError("Es fehlt die Datei (Formularfeld 'file').", field="file")
    tags = v.tags_field(",".join(request.form.getlist("tags")))
    return intake.Upload(
        data=file.read(),
        filename=file.filename or "unbenannt",
        customer_number=_form("customer_number", v.MAX_NUMBER),
        document_class=_form("document_class", 64),
        folder=_form("folder"),
        title=_form("title", v.MAX_TITLE),
        tags=tuple(tags),
        source=_form("source", 32) or Source.API,
        comment=_form("comment", v.MAX_COMMENT, multiline=True),
    )


def _links(document_id: str) -> dict[str, str]:
    base = f"/api/v1/documents/{document_id}"
    return {"self": base, "content": f"{base}/content", "preview": f"{base}/preview", "versions": f"{base}/versions"}


@api_bp.post("/documents")
def upload_document():
    principal = require(DOCUMENTS_WRITE)
    document = intake.receive_document(services(), principal, _upload_from_request())
    body = {"id": document.id, "status": document.status, "version": 1, "links": _links(document.id)}
    return jsonify(body), 202, {"Location": _links(document.id)["self"]}


@api_bp.get("/documents")
def list_documents():
    principal = require(DOCUMENTS_READ)
    documents = uc.list_documents(
        services(),
        principal,
        customer_number=str_arg("customer", max_length=v.MAX_NUMBER),
        status=choice_arg("status", {s.value for s in DocumentStatus}),
        folder=str_arg("folder"),
        limit=int_arg("limit", 100, minimum=1, maximum=1000),
        offset=int_arg("offset", 0, maximum=1_000_000),
    )
    return jsonify({"documents": [d.to_dict(with_versions=False) for d in documents]})


@api_bp.get("/documents/<document_id>")
def get_document(document_id: str):
    principal = require(DOCUMENTS_READ)
    document, events = uc.get_document(services(), principal, document_id)
    body: dict[str, Any] = document.to_dict()
    body["events"] = [e.to_dict() for e in events]
    body["links"] = _links(document_id)
    return jsonify(body)


def _version_arg() -> int | None:
    number = int_arg("version", 0, minimum=1, maximum=1_000_000)
    return number or None


@api_bp.get("/documents/<document_id>/content")
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
def add_version(document_id: str):
    principal = require(DOCUMENTS_WRITE)
    document, version = intake.add_version(services(), principal, document_id, _upload_from_request())
    body = {"id": document_id, "version": version.number, "status": document.status, "links": _links(document_id)}
    return jsonify(body), 202


@api_bp.patch("/documents/<document_id>")
def update_document(document_id: str):
    principal = require(DOCUMENTS_WRITE)
    document = uc.refile(services(), principal, document_id, json_object())
    return jsonify(document.to_dict())
