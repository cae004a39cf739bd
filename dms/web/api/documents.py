"""Documents: upload, metadata, content of any version, new versions, manual filing."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from dms.documents import Upload, read_content, read_preview, receive_document, receive_version, refile
from dms.domain import Source
from dms.errors import ValidationError
from dms.web.api import api_bp, services
from dms.web.auth import require


def _form(name: str) -> str | None:
    value = request.form.get(name)
    return value.strip() if value and value.strip() else None


def _upload_from_request(actor: str) -> Upload:
    file = request.files.get("file")
    if file is None:
        raise ValidationError("Es fehlt die Datei (Formularfeld 'file').", field="file")
    tags = [t.strip() for t in request.form.getlist("tags") for t in t.split(",") if t.strip()]
    return Upload(
        data=file.read(),
        filename=file.filename or "unbenannt",
        customer_number=_form("customer_number"),
        document_class=_form("document_class"),
        folder=_form("folder"),
        title=_form("title"),
        tags=tuple(tags),
        source=_form("source") or Source.API,
        actor=actor,
        comment=_form("comment"),
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
    limit = min(int(request.args.get("limit", 100)), 1000)
    documents = services().catalog.list_documents(
        customer_number=request.args.get("customer"),
        status=request.args.get("status"),
        folder=request.args.get("folder"),
        limit=limit,
        offset=int(request.args.get("offset", 0)),
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
    raw_version = request.args.get("version")
    try:
        return int(raw_version) if raw_version else None
    except ValueError as exc:
        raise ValidationError("version muss eine Zahl sein.", field="version") from exc


@api_bp.get("/documents/<document_id>/content")
def get_content(document_id: str):
    actor = require("documents:read")
    number = _version_arg()
    svc = services()
    version, data = read_content(svc, document_id, number)
    svc.catalog.audit(actor.name, "document.download", "document", document_id, version=version.number)
    disposition = "attachment" if request.args.get("download") else "inline"
    response = Response(data, mimetype=version.mime_type or "application/octet-stream")
    response.headers["Content-Disposition"] = _content_disposition(disposition, version.filename)
    response.headers["ETag"] = f'"{version.sha256}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Document-Version"] = str(version.number)
    return response


@api_bp.get("/documents/<document_id>/preview")
def get_preview(document_id: str):
    """The rendition for viewing (HTML of an XML e-invoice, a searchable PDF) or the original."""
    actor = require("documents:read")
    svc = services()
    version, data, mime = read_preview(svc, document_id, _version_arg())
    svc.catalog.audit(actor.name, "document.preview", "document", document_id, version=version.number)
    response = Response(data, mimetype=mime)
    if request.args.get("download"):
        stem = version.filename.rsplit(".", 1)[0]
        name = f"{stem} (durchsuchbar).pdf" if mime == "application/pdf" and version.derivative_key else (
            f"{stem}.html" if mime.startswith("text/html") else version.filename
        )
        response.headers["Content-Disposition"] = _content_disposition("attachment", name)
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    response.headers["X-Content-Type-Options"] = "nosniff"
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
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError("Erwartet wird ein JSON-Objekt im Anfragetext.")
    allowed = {"customer_number", "document_class", "folder", "title", "tags"}
    changes = {("document_class" if k == "class" else k): v for k, v in body.items()}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError(f"Nicht änderbar: {', '.join(sorted(unknown))}.")
    svc = services()
    document = refile(svc, document_id, changes, actor.name)
    svc.catalog.audit(actor.name, "document.refile", "document", document_id, fields=sorted(changes))
    return jsonify(document.to_dict())
