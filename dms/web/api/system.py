"""Health and configuration the clients need."""

from __future__ import annotations

from flask import jsonify

from dms import __version__
from dms.web.api import api_bp, services


@api_bp.get("/health")
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
def config():
    settings = services().settings
    return jsonify(
        {
            "folders": settings.folder_template,
            "inbox": settings.inbox_folder,
            "classes": {name: spec.folder for name, spec in settings.document_classes.items()},
        }
    )
