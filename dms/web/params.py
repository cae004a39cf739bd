"""Query parameters of every endpoint are parsed here: a bad value is a 400 with the usual
error body, never a 500. Values are bounded (no `limit=1e9`, no 20-digit offsets)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from flask import request

from dms.errors import ValidationError
from dms.validation import QUOTE, clean_text, quote

MAX_PARAM_CHARS = 2000  # any single query parameter (the search query has its own, lower limit)
_INTEGER = re.compile(r"-?[0-9]{1,12}")


def str_arg(name: str, *, max_length: int = 200) -> str | None:
    """A text parameter, cleaned; None when absent or empty."""
    raw = request.args.get(name)
    if raw is None:
        return None
    if len(raw) > max(max_length, MAX_PARAM_CHARS):
        raise ValidationError(
            f"{name} ist zu lang ({len(raw)} Zeichen, höchstens {max_length}).", code="too_long", field=name
        )
    text = clean_text(raw)
    if len(text) > max_length:
        raise ValidationError(
            f"{name} ist zu lang ({len(text)} Zeichen, höchstens {max_length}).", code="too_long", field=name
        )
    return text or None


def int_arg(name: str, default: int, *, minimum: int = 0, maximum: int) -> int:
    """An integer parameter within [minimum, maximum]; a value outside is a 400, not clamped silently."""
    raw = request.args.get(name)
    if raw is None or raw.strip() == "":
        return default
    text = raw.strip()
    if not _INTEGER.fullmatch(text):  # ASCII digits only: "²" and "٣" are isdigit() but not for int()
        raise ValidationError(f"{name} muss eine ganze Zahl sein, nicht {quote(text, QUOTE)!r}.", field=name)
    value = int(text)
    if not minimum <= value <= maximum:
        raise ValidationError(f"{name} muss zwischen {minimum} und {maximum} liegen.", field=name)
    return value


def date_arg(name: str) -> date | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        if len(raw) > 10:
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise ValidationError(f"{name} muss ein Datum JJJJ-MM-TT sein, nicht {quote(raw)!r}.", field=name) from exc


def bool_arg(name: str) -> bool:
    raw = (request.args.get(name) or "").strip().lower()
    if raw in ("", "0", "false", "no", "nein"):
        return False
    if raw in ("1", "true", "yes", "ja"):
        return True
    raise ValidationError(f"{name} muss 1 oder 0 sein, nicht {quote(raw)!r}.", field=name)


def choice_arg(name: str, choices: set[str] | list[str]) -> str | None:
    raw = str_arg(name, max_length=64)
    if raw is not None and raw not in choices:
        raise ValidationError(f"{name} muss einer von {', '.join(sorted(choices))} sein.", field=name)
    return raw


def datetime_arg(name: str) -> datetime | None:
    """An ISO date (midnight UTC) or date and time (without a zone: UTC)."""
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        if len(raw) > 40:
            raise ValueError(raw)
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise ValidationError(
            f"{name} muss ein Zeitpunkt JJJJ-MM-TT oder JJJJ-MM-TTThh:mm:ss[+hh:mm] sein, nicht {quote(raw)!r}.",
            field=name,
        ) from exc
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before year 1 in UTC, 9999-12-31T23:00-02:00 after 9999
        return (datetime.min if value.year == 1 else datetime.max).replace(tzinfo=UTC)
