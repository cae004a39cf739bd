"""The API docs page /api/docs: Swagger UI over /api/v1/openapi.json, every asset from this origin.

Swagger UI's files are not in the repository: `scripts/web-assets.sh` (run by
`scripts/install.sh`) vendors a pinned swagger-ui-dist into dms/web/static/swagger-ui/. The page
is public in every auth mode, like the document it renders; its Content-Security-Policy allows
nothing but this origin, so a browser makes no external request for it.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, render_template

from dms.errors import BackendUnavailable

docs_bp = Blueprint("docs", __name__)

ASSETS = ("swagger-ui/swagger-ui-bundle.js", "swagger-ui/swagger-ui.css")
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@docs_bp.get("/api/docs")
def page() -> Response:
    static = Path(current_app.static_folder or "")
    missing = [name for name in ASSETS if not (static / name).is_file()]
    if missing:
        raise BackendUnavailable(
            "Die Dokumentationsseite ist nicht eingerichtet (Swagger UI fehlt): bash scripts/web-assets.sh",
            code="docs_not_built", missing=missing,
        )
    response = Response(render_template("docs.html"), mimetype="text/html")
    response.headers["Content-Security-Policy"] = DOCS_CSP
    return response
