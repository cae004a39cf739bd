"""Query parameters of every endpoint are parsed here: a bad value is a 400 with the usual
error body, never a 500. Values are bounded (no `limit=1e9`, no 20-digit offsets)."""

from __future__ import annotations

from datetime import date

from flask import request

from dms.errors import ValidationError
from dms.validation import QUOTE, clean_text, quote

MAX_PARAM_CHARS = 2000  # any single query parameter (the search query has its own, lower limit)


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
    if len(text) > 12 or not text.lstrip("-").isdigit():
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
