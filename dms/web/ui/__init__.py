"""The web client: server-rendered pages (German) at `/`, progressively enhanced by small ES modules.

Every page request is authenticated by `dms.web.auth.load_web_principal` (a server-side session;
no session: a redirect to `/login`), every POST is checked for its CSRF token
(`dms.web.auth.check_csrf`), and every response gets the security headers (`headers.py`).
"""

from __future__ import annotations

from flask import Blueprint, Response, redirect, request, url_for

from dms.web.auth import check_csrf, check_same_origin, load_web_principal
from dms.web.ui.headers import install as install_headers
from dms.web.ui.helpers import services

ui_bp = Blueprint("ui", __name__, template_folder="../templates")

OPEN_ENDPOINTS = frozenset({"ui.login", "ui.login_submit"})
install_headers(ui_bp)


@ui_bp.before_request
def _authenticate() -> Response | None:
    principal = load_web_principal(services())
    if principal is None and request.endpoint not in OPEN_ENDPOINTS:
        target = request.full_path if request.method == "GET" else "/"
        return redirect(url_for("ui.login", next=target.rstrip("?")))
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        if request.endpoint in OPEN_ENDPOINTS:
            check_same_origin()  # the login form has no session yet: its origin must be this site
        else:
            check_csrf()
    return None


from dms.web.ui import (  # noqa: E402,F401  (route registration)
    activity,
    admin,
    customer_edit,
    customer_tabs,
    customers,
    documents,
    files,
    home,
    inbox,
    login,
    search,
)
