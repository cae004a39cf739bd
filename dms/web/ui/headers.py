"""Security headers of every web client page, and errors shown as pages (not JSON)."""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, redirect, request, url_for

from dms.errors import DmsError, Moved
from dms.web.ui.helpers import page

log = logging.getLogger(__name__)

# No inline script or style, nothing from elsewhere; the preview iframe (an e-invoice's HTML rendition,
# itself served sandboxed) and pdf.js's worker come from this site.
PAGE_CSP = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "frame-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
PAGE_HEADERS = {
    "Content-Security-Policy": PAGE_CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cache-Control": "no-store",
}
ERROR_TITLES = {
    400: "Ungültige Anfrage", 403: "Keine Berechtigung", 404: "Nicht gefunden", 409: "Konflikt",
    412: "Inzwischen geändert", 413: "Zu groß", 422: "Ungültige Eingabe", 429: "Zu viele Versuche",
    503: "Dienst nicht erreichbar",
}


def is_page_path(path: str) -> bool:
    """A path of the web client's pages (not the JSON API, not static files, not the API docs)."""
    return not path.startswith(("/api/", "/static/"))


def install_app(app: Flask) -> None:
    """Page headers also for what no page route answers (an unknown URL's 404 page)."""

    @app.after_request
    def _page_headers(response: Response) -> Response:
        if is_page_path(request.path):
            for name, value in PAGE_HEADERS.items():
                response.headers.setdefault(name, value)
        return response


def not_found_page(message: str):
    """The German 404 page for an unknown URL outside the API."""
    return page("ui/error.html", title=ERROR_TITLES[404], message=message, code="not_found"), 404


def install(bp: Blueprint) -> None:
    @bp.after_request
    def _headers(response: Response) -> Response:
        for name, value in PAGE_HEADERS.items():
            response.headers[name] = value
        return response

    @bp.errorhandler(DmsError)
    def _error(exc: DmsError):
        if exc.http_status == 401:
            return redirect(url_for("ui.login", next=request.full_path.rstrip("?")))
        if isinstance(exc, Moved) and request.endpoint and "number" in (request.view_args or {}):
            # a merged customer's old number: the same page of the surviving customer
            return redirect(url_for(request.endpoint, **{**(request.view_args or {}), "number": exc.details["number"]}),
                            308)
        if request.args.get("partial"):
            return page("ui/error_partial.html", message=exc.message), exc.http_status
        title = ERROR_TITLES.get(exc.http_status, "Fehler")
        return page("ui/error.html", title=title, message=exc.message, code=exc.code), exc.http_status
