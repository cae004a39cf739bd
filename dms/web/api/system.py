"""Health, configuration the clients need, and the API's own description (OpenAPI)."""

from __future__ import annotations

from flask import current_app, jsonify

from dms import __version__
from dms.web.api import api_bp, services
from dms.web.openapi import AUTHENTICATED, PUBLIC, Reply, operation
from dms.web.openapi import read_models as rm

_OPENAPI = "dms.openapi"


@api_bp.get("/health")
@operation("Each backend's state", permission=PUBLIC, tag="system",
           replies={200: Reply(rm.Health, "All backends answer"), 503: Reply(rm.Health, "A backend does not answer")})
def health():
    svc = services()
    checks: dict[str, str] = {}
    for name, backend in svc.backends().items():
        if backend is None:
            continue
        try:
            backend.ping()
            checks[name] = "ok"
        except Exception as exc:  # report, don't crash the health check
            checks[name] = f"error: {exc}"
    healthy = all(v == "ok" for v in checks.values())
    return jsonify({"status": "ok" if healthy else "degraded", "version": __version__, "backends": checks}), (
        200 if healthy else 503
    )


@api_bp.get("/config")
@operation("Folders of the Aktenplan and the folder of each class", permission=AUTHENTICATED, reply=rm.Config,
           tag="system")
def config():
    settings = services().settings
    return jsonify(
        {
            "folders": settings.folder_template,
            "inbox": settings.inbox_folder,
            "classes": {name: spec.folder for name, spec in settings.document_classes.items()},
        }
    )


@api_bp.get("/openapi.json")
@operation("This API as OpenAPI 3.1 (rendered at /api/docs)", permission=PUBLIC, tag="system",
           reply=Reply(description="The OpenAPI document", media_types=("application/json",)))
def openapi():
    """Built from the URL map and each view's `@operation` once per app (routes do not change)."""
    document = current_app.extensions.get(_OPENAPI)
    if document is None:
        from dms.web.openapi.document import build_document

        document = current_app.extensions.setdefault(_OPENAPI, build_document(current_app))
    return jsonify(document)
