"""Flask application factory."""

from __future__ import annotations

import logging
import mimetypes

from flask import Flask, Response

from dms.app.services import Services, build_services
from dms.config import Settings
from dms.web.errors import register_error_handlers

log = logging.getLogger(__name__)
mimetypes.add_type("text/javascript", ".mjs")  # pdf.js's modules: a browser runs them only with a JS type


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> Flask:
    """Build the app. Pass `services` to share backends (tests, CLI); else they are built from settings."""
    settings = settings or (services.settings if services else Settings.from_env())
    if services is None:
        services = build_services(settings)
        from dms.app.tasks import recover_pending

        recovered = recover_pending(services)
        if recovered:
            log.info("queued %d unfinished documents again", recovered)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes + 1024 * 1024
    app.config["JSON_SORT_KEYS"] = False
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["dms"] = services

    from dms.web.api import api_bp
    from dms.web.body import limit_body_size
    from dms.web.context import install_request_context
    from dms.web.docs import docs_bp
    from dms.web.ui import ui_bp
    from dms.web.ui.headers import install_app as install_page_headers
    from dms.web.ui.helpers import install_template_helpers

    install_request_context(app)  # first: request id and origin for every later hook and the audit trail
    limit_body_size(app)
    app.register_blueprint(api_bp)
    app.register_blueprint(docs_bp)
    app.register_blueprint(ui_bp)
    install_page_headers(app)
    install_template_helpers(app)
    # a session signs flash messages (the session itself is server-side, see dms.web.auth)
    app.secret_key = services.settings.web_secret
    register_error_handlers(app)

    @app.after_request
    def _security_headers(response: Response) -> Response:
        # never let a browser guess a type: a stored file must not turn into a page
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    return app
