"""Sessions, CSRF and security headers of the web client, over HTTP (Flask's test client, users mode).

Every page gets the security headers; every POST authenticated by the session cookie needs the
session's CSRF token (forms and the API alike); logins are rate limited; sessions end on logout,
after the idle timeout and when the user is disabled; the cookie is HttpOnly, SameSite and Secure
(except for plain http to loopback); `next` never leads to another site.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from dms.app.services import build_services
from dms.config import Settings
from dms.identity.repository import IdentityRepository
from tests.web.conftest import PASSWORDS, add_users

TEMPLATES = Path(__file__).resolve().parents[2] / "dms" / "web" / "templates"
COOKIE = "dms_session"
EVIL = "https://evil.example"


@pytest.fixture(scope="module")
def make_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Flask]]:
    """Apps in users mode on embedded backends (no queue), each in its own data folder.

    `web` overrides `[web]` settings through a DMS_CONFIG file."""
    from dms.web import create_app

    opened: list[Any] = []

    def make(web: dict[str, Any] | None = None) -> Flask:
        base = tmp_path_factory.mktemp("web-http")
        env = {"DMS_DATA_DIR": str(base / "data"), "DMS_AUTH_MODE": "users"}
        if web:
            config = base / "dms.toml"
            config.write_text("[web]\n" + "".join(f"{k} = {v!r}\n" for k, v in web.items()), encoding="utf-8")
            env["DMS_CONFIG"] = str(config)
        settings = Settings.from_env(env)
        add_users(settings)
        services = build_services(settings, with_queue=False)
        opened.append(services)
        app = create_app(settings, services=services)
        app.config["TESTING"] = True
        return app

    yield make
    for services in opened:
        services.close()


@pytest.fixture(scope="module")
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def sign_in(client: FlaskClient, user: str = "clerk", **kw: Any) -> Any:
    response = client.post("/login", data={"username": user, "password": PASSWORDS[user], "next": "/"}, **kw)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return response


def csrf_of(client: FlaskClient) -> str:
    """The CSRF token in the <meta name="csrf-token"> of a page (every page has it)."""
    html = client.get("/").get_data(as_text=True)
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert match, html[:2000]
    return match.group(1)


def signed_in(client: FlaskClient) -> bool:
    """Whether the session cookie still authenticates (the API takes it too)."""
    status = client.get("/api/v1/config").status_code
    assert status in (200, 401), status
    return status == 200


def set_cookie_header(response: Any) -> SimpleCookie:
    cookies = SimpleCookie()
    for value in response.headers.getlist("Set-Cookie"):
        cookies.load(value)
    return cookies


def cookie_attributes(response: Any) -> dict[str, str]:
    header = next(v for v in response.headers.getlist("Set-Cookie") if v.startswith(f"{COOKIE}="))
    parts = [p.strip() for p in header.split(";")[1:]]
    return {p.split("=", 1)[0].lower(): (p.split("=", 1)[1] if "=" in p else "") for p in parts}


def redirect_target(response: Any) -> str:
    assert response.status_code in (302, 303), response.status_code
    location = urlsplit(response.headers["Location"])
    assert location.netloc in ("", "localhost"), response.headers["Location"]
    return location.path + (f"?{location.query}" if location.query else "")


# --- security headers --------------------------------------------------------------------------

SIGNED_IN_PAGES = [
    "/", "/kunden", "/kunden/neu", "/kunden?q=%3Cscript%3E", "/suche", "/suche?q=Rechnung", "/posteingang",
    "/admin/benutzer", "/admin/tokens", "/kunden/99999", "/dokumente/gibt-es-nicht", "/gibt-es-nicht",
]


def assert_security_headers(response: Any, url: str) -> None:
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in (p.strip() for p in csp.split(";")) if d}
    assert directives.get("script-src") == ["'self'"], (url, csp)  # no inline script, nothing from elsewhere
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, (url, csp)
    assert directives.get("frame-ancestors") == ["'none'"], (url, csp)
    assert directives.get("object-src") == ["'none'"], (url, csp)
    assert directives.get("default-src") == ["'self'"], (url, csp)
    assert headers.get("X-Content-Type-Options") == "nosniff", url
    assert headers.get("Referrer-Policy") in ("no-referrer", "same-origin", "strict-origin"), url
    assert headers.get("X-Frame-Options") == "DENY", url


def assert_no_inline_code(html: str, where: str) -> None:
    """What the CSP would block anyway: inline <script>, on…= handlers, style attributes."""
    for tag in re.findall(r"<script\b[^>]*>", html, re.IGNORECASE):
        assert re.search(r"\bsrc=", tag), (where, tag)
    assert not re.search(r"<[a-z][^>]*\son[a-z]+\s*=", html, re.IGNORECASE), where
    assert not re.search(r"<[a-z][^>]*\sstyle\s*=", html, re.IGNORECASE), where


def test_the_login_page_and_the_redirect_to_it_carry_the_headers(client: FlaskClient) -> None:
    login_page = client.get("/login")
    assert login_page.status_code == 200
    assert_security_headers(login_page, "/login")
    assert_no_inline_code(login_page.get_data(as_text=True), "/login")
    to_login = client.get("/kunden")
    assert redirect_target(to_login) == "/login?next=/kunden"
    assert_security_headers(to_login, "/kunden (signed out)")


@pytest.mark.parametrize("url", SIGNED_IN_PAGES)
def test_every_page_carries_the_security_headers(client: FlaskClient, url: str) -> None:
    sign_in(client, "admin")
    response = client.get(url)
    assert response.status_code in (200, 404), (url, response.status_code)
    assert_security_headers(response, url)
    assert response.headers.get("Cache-Control") == "no-store", url  # customer data stays out of caches
    if response.mimetype == "text/html":
        assert_no_inline_code(response.get_data(as_text=True), url)


def test_no_template_has_inline_script_handlers_or_styles() -> None:
    templates = sorted(TEMPLATES.rglob("*.html"))
    assert templates
    for template in templates:
        text, name = template.read_text(encoding="utf-8"), str(template.relative_to(TEMPLATES))
        assert_no_inline_code(text, name)
        # autoescape stays on: `|safe` only on the search layer's highlights (escaped there, <mark> added)
        variables = re.findall(r"\{\{\s*([\w.]+)\s*\|\s*safe\s*\}\}", text)
        assert len(variables) == len(re.findall(r"\|\s*safe\b", text)), (name, "|safe on an expression")
        for variable in variables:
            from_highlights = re.search(rf"\bfor\s+{re.escape(variable)}\s+in\s+[\w.]*highlights\b", text)
            assert "highlight" in variable or from_highlights, (name, variable)


# --- CSRF ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/logout", "/kunden/neu", "/posteingang/zuordnen", "/admin/benutzer"])
def test_a_form_post_without_the_csrf_token_is_refused(client: FlaskClient, url: str) -> None:
    sign_in(client, "admin")
    for data in ({"name": "Ohne Token GmbH"}, {"name": "Ohne Token GmbH", "csrf_token": "falsch"}):
        response = client.post(url, data=data)
        assert response.status_code == 403, (url, response.status_code)
        assert "CSRF" in response.get_data(as_text=True)
        assert_security_headers(response, url)
    assert signed_in(client)  # a refused logout did not sign anyone out


def test_an_api_post_with_the_session_cookie_needs_the_csrf_header(client: FlaskClient) -> None:
    sign_in(client, "clerk")
    token = csrf_of(client)
    for headers in ({}, {"X-CSRF-Token": "falsch"}):
        response = client.post("/api/v1/customers", json={"name": "Ohne Token GmbH"}, headers=headers)
        assert response.status_code == 403, response.get_json()
        assert response.get_json()["error"]["code"] == "csrf_failed"
    upload = client.post("/api/v1/documents", data={"file": (b"%PDF-1.4", "a.pdf")},
                         content_type="multipart/form-data")
    assert upload.status_code == 403 and upload.get_json()["error"]["code"] == "csrf_failed"
    patch = client.patch("/api/v1/documents/gibt-es-nicht", json={"title": "x"})
    assert patch.status_code == 403 and patch.get_json()["error"]["code"] == "csrf_failed"
    assert client.get("/api/v1/customers", query_string={"q": "Ohne Token"}).get_json()["customers"] == []

    response = client.post("/api/v1/customers", json={"name": "Mit Token GmbH"}, headers={"X-CSRF-Token": token})
    assert response.status_code == 201, response.get_json()


def test_api_clients_with_credentials_need_no_csrf_token(app: Flask) -> None:
    import base64

    basic = base64.b64encode(f"clerk:{PASSWORDS['clerk']}".encode()).decode()
    response = app.test_client().post("/api/v1/customers", json={"name": "Per Basic GmbH"},
                                      headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 201, response.get_json()


def test_the_login_form_refuses_another_sites_origin(client: FlaskClient) -> None:
    data = {"username": "clerk", "password": PASSWORDS["clerk"], "next": "/"}
    refused = client.post("/login", data=data, headers={"Origin": EVIL})
    assert refused.status_code == 403
    assert COOKIE not in set_cookie_header(refused)
    assert client.post("/login", data=data, headers={"Origin": "http://localhost"}).status_code == 302


# --- login, logout, rate limit -------------------------------------------------------------------


def test_a_wrong_password_is_refused_with_a_message(client: FlaskClient) -> None:
    response = client.post("/login", data={"username": "clerk", "password": "falsch", "next": "/"})
    assert response.status_code == 401
    assert "Benutzername oder Passwort falsch" in response.get_data(as_text=True)
    assert COOKIE not in set_cookie_header(response)
    assert not signed_in(client)


def test_logins_are_rate_limited(make_app: Callable[..., Flask]) -> None:
    client = make_app({"login_max_failures": 3, "login_window_minutes": 5}).test_client()
    for _ in range(3):
        assert client.post("/login", data={"username": "clerk", "password": "falsch"}).status_code == 401
    locked = client.post("/login", data={"username": "clerk", "password": PASSWORDS["clerk"]})
    assert locked.status_code == 429  # the right password too, until the window has passed
    assert "Zu viele" in locked.get_data(as_text=True)
    assert int(locked.headers["Retry-After"]) > 0
    assert COOKIE not in set_cookie_header(locked)


def test_logout_ends_the_session_on_the_server(client: FlaskClient) -> None:
    sign_in(client, "clerk")
    secret = client.get_cookie(COOKIE).value
    response = client.post("/logout", data={"csrf_token": csrf_of(client)})
    assert redirect_target(response) == "/login"
    assert set_cookie_header(response)[COOKIE].value == ""  # the cookie is deleted
    client.set_cookie(COOKIE, secret)  # a copy of the old cookie is worth nothing
    assert not signed_in(client)
    assert redirect_target(client.get("/")).startswith("/login")


def test_an_idle_session_expires(make_app: Callable[..., Flask]) -> None:
    client = make_app({"idle_minutes": 0.02}).test_client()  # 1.2 s
    sign_in(client, "clerk")
    assert signed_in(client)
    time.sleep(1.6)
    assert not signed_in(client)
    assert redirect_target(client.get("/kunden")).startswith("/login")


def test_a_disabled_users_session_stops_working(app: Flask, client: FlaskClient) -> None:
    services = app.extensions["dms"]
    repository = IdentityRepository.for_catalog(services.catalog)
    repository.add_user("zeitweise", "clerk", actor="test")
    repository.set_password("zeitweise", "zeitweise-passwort-1", actor="test")
    response = client.post("/login", data={"username": "zeitweise", "password": "zeitweise-passwort-1"})
    assert response.status_code == 302
    assert signed_in(client)
    repository.set_active("zeitweise", False, actor="test")
    assert not signed_in(client)
    assert redirect_target(client.get("/kunden")).startswith("/login")
    repository.set_active("zeitweise", True, actor="test")
    assert not signed_in(client)  # the session was ended, not just paused


# --- the session cookie ------------------------------------------------------------------------


@pytest.mark.parametrize(("base_url", "secure"), [
    ("http://localhost", False),  # plain http to loopback: a laptop without TLS
    ("http://127.0.0.1:8000", False),
    ("https://localhost", True),
    ("https://kundenakte.example", True),
    ("http://10.20.30.40:8000", True),  # on the network: Secure (behind a TLS proxy), never sent in clear
])
def test_the_session_cookie_flags(app: Flask, base_url: str, secure: bool) -> None:
    response = sign_in(app.test_client(), "clerk", base_url=base_url)
    attributes = cookie_attributes(response)
    assert "httponly" in attributes
    assert attributes.get("samesite", "").lower() in ("lax", "strict")
    assert attributes.get("path") == "/"
    assert ("secure" in attributes) is secure, (base_url, attributes)


# --- no open redirect ----------------------------------------------------------------------------


@pytest.mark.parametrize("target", [
    EVIL, "//evil.example", "/\\evil.example", "\\\\evil.example", "https:evil.example", "javascript:alert(1)",
    "evil.example/kunden", "http://localhost.evil.example/",
])
def test_next_never_leads_to_another_site(app: Flask, target: str) -> None:
    client = app.test_client()
    form = client.get("/login", query_string={"next": target}).get_data(as_text=True)
    assert 'name="next" value="/"' in form
    response = client.post("/login", data={"username": "clerk", "password": PASSWORDS["clerk"], "next": target})
    assert redirect_target(response) == "/"


def test_next_leads_back_to_the_page_on_this_site(app: Flask) -> None:
    client = app.test_client()
    response = client.post("/login", data={"username": "clerk", "password": PASSWORDS["clerk"],
                                           "next": "/kunden?q=M%C3%BCller&seite=2"})
    assert redirect_target(response) == "/kunden?q=M%C3%BCller&seite=2"
    assert redirect_target(client.get("/login", query_string={"next": "/suche"})) == "/suche"  # signed in already
