"""Fixtures of the web client tests: a real `dms serve` in users mode, users of each role, Chromium.

The browser is Debian's Chromium (`apt-get install chromium`, see scripts/install-servers.sh),
driven by Playwright; `playwright install` is never needed. Without it the browser tests are
skipped on a laptop and fail under CI (`CI=true`): a missing browser must never pass silently.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dms.config import Settings
from tests.live import Api, LiveServer

CHROMIUM = os.environ.get("DMS_CHROMIUM", "/usr/bin/chromium")
# one user per role; the passwords only live in the temporary data folder of the run
PASSWORDS = {"admin": "admin-passwort-2026", "clerk": "sachbearbeiter-2026", "auditor": "pruefer-passwort-2026"}
DISPLAY_NAMES = {"admin": "Anna Admin", "clerk": "Clara Sachbearbeiterin", "auditor": "Paul Prüfer"}
VIEWPORT = {"width": 1366, "height": 768}  # the laptop the issue names


def add_users(settings: Settings) -> None:
    """admin, clerk and auditor with their passwords, straight into the catalog (as `dms users` does)."""
    from dms.app.services import open_catalog
    from dms.identity.repository import IdentityRepository

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    catalog = open_catalog(settings)
    try:
        repository = IdentityRepository.for_catalog(catalog)
        for name, password in PASSWORDS.items():
            repository.add_user(name, name, display_name=DISPLAY_NAMES[name], actor="test")
            repository.set_password(name, password, actor="test")
    finally:
        catalog.close()


@dataclass
class WebServer:
    """A live `dms serve` (DMS_AUTH_MODE=users) and API clients signed in with Basic auth."""

    server: LiveServer

    @property
    def url(self) -> str:
        return self.server.url

    def api(self, user: str = "admin") -> Api:
        api = Api(self.url)
        api.http.auth = (user, PASSWORDS[user])
        return api


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    base = tmp_path_factory.mktemp("web")
    env = {"DMS_AUTH_MODE": "users"}
    server = LiveServer(base / "data", env=env)
    add_users(Settings.from_env({**server.env}))
    try:
        server.start()
        yield WebServer(server)
    finally:
        server.stop()


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _browser_missing(reason: str) -> None:
    if in_ci():
        pytest.fail(f"{reason} (CI: the browser tests must run; scripts/install-servers.sh installs chromium)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole session (each test gets a fresh context)."""
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:  # pragma: no cover - a test dependency
        _browser_missing("playwright is not installed (pip install -e .[test])")
    if not (os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _browser_missing(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    # `expect` waits as long as page actions do (5 s by default): pages on a loaded CI machine load slowly
    expect.set_options(timeout=15_000)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def context(browser: Any, web_server: WebServer) -> Iterator[Any]:
    """A fresh browser context (no cookies) at the laptop's size, in German and Berlin time."""
    ctx = browser.new_context(
        base_url=web_server.url, viewport=VIEWPORT, locale="de-DE", timezone_id="Europe/Berlin",
        accept_downloads=True,
    )
    ctx.set_default_timeout(15_000)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: Any) -> Iterator[Any]:
    """A page that records script errors and CSP refusals as `page.js_errors` (printed on teardown).

    A resource that fails to load (e.g. a thumbnail answered with 404) is not a script error."""
    tab = context.new_page()
    errors: list[str] = []

    def console(message: Any) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(f"console.error: {message.text}")

    tab.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    tab.on("console", console)
    tab.js_errors = errors
    yield tab
    if errors:
        print("\n[browser] " + "\n[browser] ".join(errors), file=sys.stderr)


def login(page: Any, user: str, *, next_path: str = "/") -> None:
    """Sign in through the login form as `user` and wait for the page behind it."""
    page.goto(f"/login?next={next_path}")
    page.get_by_label("Benutzername").fill(user)
    page.get_by_label("Passwort").fill(PASSWORDS[user])
    page.get_by_role("button", name="Anmelden").click()
    page.wait_for_url(lambda url: "/login" not in url)


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`$DMS_SCREENSHOT_DIR`, default `<pytest basetemp>/screenshots` (copies kept in docs/screenshots/)."""
    configured = os.environ.get("DMS_SCREENSHOT_DIR")
    folder = Path(configured) if configured else tmp_path_factory.getbasetemp() / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def screenshot(screenshot_dir: Path) -> Callable[[Any, str], Path]:
    def take(page: Any, name: str) -> Path:
        path = screenshot_dir / f"{name}.png"
        page.screenshot(path=str(path), full_page=False)
        print(f"\n[screenshot] {path}", file=sys.stderr)
        return path

    return take
