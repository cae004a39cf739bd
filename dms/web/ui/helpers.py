"""What every page of the web client uses: the services, the principal, paging, German formats."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, flash, g, render_template, request
from markupsafe import Markup, escape

from dms.app.services import Services

BERLIN = ZoneInfo("Europe/Berlin")

STATUS_LABELS = {
    "received": "empfangen",
    "processing": "in Bearbeitung",
    "filed": "abgelegt",
    "needs_review": "zu prüfen",
    "failed": "fehlgeschlagen",
}
KIND_LABELS = {"natural": "natürliche Person", "legal": "juristische Person"}
SOURCE_LABELS = {"upload": "Upload", "email": "E-Mail", "erp": "ERP", "api": "API"}
ROLE_LABELS = {"admin": "Administrator", "clerk": "Sachbearbeiter", "auditor": "Prüfer"}


def services() -> Services:
    return current_app.extensions["dms"]


def principal() -> Any:
    """The signed-in principal of this request (set by the blueprint's before_request)."""
    return g.principal


def can(permission: str) -> bool:
    current = getattr(g, "principal", None)
    return bool(current is not None and current.can(permission))


def page(template: str, **context: Any) -> str:
    return render_template(template, **context)


def flash_ok(message: str) -> None:
    flash(message, "ok")


def flash_error(message: str) -> None:
    flash(message, "error")


def int_param(name: str, default: int, *, minimum: int = 1, maximum: int = 100_000) -> int:
    """An integer query parameter, clamped; anything unreadable is the default (pages never 400 on it)."""
    try:
        value = int(request.args.get(name, default))
    except (TypeError, ValueError):
        return default
    return max(minimum, min(maximum, value))


def text_param(name: str, *, max_length: int = 200) -> str:
    return (request.args.get(name) or "").strip()[:max_length]


@dataclass(frozen=True)
class Paging:
    page: int
    per_page: int
    total: int | None  # None: unknown, `has_more` says whether a next page exists
    has_more: bool

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def pages(self) -> int | None:
        return None if self.total is None else max(1, math.ceil(self.total / self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.has_more if self.total is None else self.page < (self.pages or 1)


def paging(page: int, per_page: int, *, total: int | None = None, has_more: bool = False) -> Paging:
    return Paging(page, per_page, total, has_more)


def page_url(number: int) -> str:
    """The current URL with `seite=<number>` (other parameters kept)."""
    from urllib.parse import urlencode

    args = request.args.to_dict(flat=False)
    args["seite"] = [str(number)]
    args.pop("partial", None)
    return f"{request.path}?{urlencode(args, doseq=True)}"


def format_date(value: date | datetime | str | None) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        value = value.astimezone(BERLIN) if value.tzinfo else value
        return value.strftime("%d.%m.%Y")
    return value.strftime("%d.%m.%Y")


def format_datetime(value: datetime | str | None) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if value.tzinfo:
        value = value.astimezone(BERLIN)
    return value.strftime("%d.%m.%Y %H:%M")


def format_size(size: int | None) -> str:
    if size is None:
        return "–"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            text = f"{value:.0f}" if unit == "B" else f"{value:.1f}"
            return f"{text.replace('.', ',')} {unit}"
        value /= 1024
    return f"{size} B"


def status_label(status: str | None) -> str:
    return STATUS_LABELS.get(status or "", status or "–")


def csrf_token() -> str:
    session = getattr(g, "web_session", None)
    return session.csrf_token if session is not None else ""


def csrf_field() -> Markup:
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(escape(csrf_token()))


def install_template_helpers(app: Any) -> None:
    """Globals and filters of the ui templates."""
    app.jinja_env.globals.update(
        can=can, csrf_token=csrf_token, csrf_field=csrf_field, status_label=status_label, page_url=page_url,
        STATUS_LABELS=STATUS_LABELS, KIND_LABELS=KIND_LABELS, SOURCE_LABELS=SOURCE_LABELS, ROLE_LABELS=ROLE_LABELS,
    )
    app.jinja_env.filters.update(datum=format_date, zeit=format_datetime, groesse=format_size)
    app.context_processor(lambda: {"auth_mode": services().settings.auth_mode})
