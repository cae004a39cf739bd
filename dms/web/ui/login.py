"""Sign in and out (`/login`, `/logout`): the form posts name and password; sessions live in auth."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import g, redirect, request, url_for

from dms.app.audit import record_as
from dms.errors import TooManyRequests, Unauthorized
from dms.web.auth import session_cookie_secure, web_login, web_logout
from dms.web.ui import ui_bp
from dms.web.ui.helpers import page, services


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never another host: no open redirect)."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _cookie_needs_https() -> bool:
    """Plain http, but the session cookie is `Secure`: the browser would drop it (say so on the page)."""
    return not request.is_secure and session_cookie_secure(services())


@ui_bp.get("/login")
def login():
    if g.get("principal") is not None and services().settings.auth_mode == "users":
        return redirect(_safe_next(request.args.get("next")))
    expired = bool(g.get("session_expired")) or request.args.get("abgelaufen") == "1"
    return page("ui/login.html", next=_safe_next(request.args.get("next")), expired=expired, error=None,
                username="", insecure=_cookie_needs_https())


@ui_bp.post("/login")
def login_submit():
    username = (request.form.get("username") or "").strip()
    password = request.form.get("password") or ""
    target = _safe_next(request.form.get("next"))
    if services().settings.auth_mode == "local":
        return redirect(target)
    try:
        principal = web_login(services(), username, password)
    except (Unauthorized, TooManyRequests) as exc:
        headers = {"Retry-After": str(exc.details["retry_after"])} if "retry_after" in exc.details else {}
        body = page("ui/login.html", next=target, expired=False, error=exc.message, username=username[:64],
                    insecure=_cookie_needs_https())
        return body, exc.http_status, headers
    record_as(services(), principal.name, "auth.login", "user", principal.name, via="web")
    return redirect(target)


@ui_bp.post("/logout")
def logout():
    principal = g.get("principal")
    web_logout(services())
    if principal is not None:
        record_as(services(), principal.name, "auth.logout", "user", principal.name, via="web")
    return redirect(url_for("ui.login"))
