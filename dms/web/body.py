"""Request bodies: JSON is size-limited before it is read, depth-limited before it is parsed,
and must be valid Unicode; the limits come from the `[api]` configuration."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, request

from dms.app.services import Services
from dms.errors import PayloadTooLarge, ValidationError

KB = 1024


def _services() -> Services:
    from flask import current_app

    return current_app.extensions["dms"]


def limit_body_size(app: Flask) -> None:
    """Every request except a file upload may carry at most `api.max_json_kb`; larger ones get
    413 before a byte of the body is read (werkzeug checks Content-Length, and cuts a chunked
    stream at the limit)."""

    @app.before_request
    def _limit() -> None:
        if request.mimetype == "multipart/form-data":
            return  # uploads: MAX_CONTENT_LENGTH (the upload limit) applies
        limit = _services().settings.limit("api", "max_json_kb") * KB
        request.max_content_length = limit
        if request.content_length is not None and request.content_length > limit:
            raise PayloadTooLarge(
                f"Der Anfragetext ist {request.content_length // KB} KB groß; erlaubt sind {limit // KB} KB."
            )


def _depth(text: str, limit: int) -> int:
    """Nesting depth of JSON text, scanned without parsing (strings are skipped); stops past `limit`."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
        elif char in "]}":
            depth -= 1
    return deepest


def _check_unicode(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ValidationError(
                    "Der Anfragetext enthält ungültige Unicode-Zeichen (z. B. einzelne Surrogate).",
                    code="invalid_unicode",
                ) from exc
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def json_object() -> dict[str, Any]:
    """The request's JSON object, or a 400/413 that says what is wrong with it."""
    raw = request.get_data(cache=True)  # bounded by request.max_content_length (see limit_body_size)
    body = json_value(raw)
    if not isinstance(body, dict):
        raise ValidationError("Erwartet wird ein JSON-Objekt im Anfragetext.")
    return body


def json_value(raw: bytes | str) -> Any:
    """Any JSON value from request bytes (a body or a multipart part), checked like a body:
    size (`api.max_json_kb`), UTF-8, nesting depth before parsing, Unicode; else a 400/413."""
    settings = _services().settings
    limit = settings.limit("api", "max_json_kb") * KB
    if len(raw) > limit:
        raise PayloadTooLarge(f"Der JSON-Text ist {len(raw) // KB} KB groß; erlaubt sind {limit // KB} KB.")
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise ValidationError("Der Anfragetext ist kein gültiges UTF-8.", code="invalid_unicode") from exc
    max_depth = settings.limit("api", "max_json_depth")
    if _depth(text, max_depth) > max_depth:
        raise ValidationError(f"Der JSON-Text ist zu tief verschachtelt (höchstens {max_depth} Ebenen).",
                              code="too_deep")
    try:
        body = json.loads(text)
    except (ValueError, RecursionError) as exc:
        message = f"Der Anfragetext ist kein gültiges JSON ({str(exc)[:80]})."
        raise ValidationError(message, code="invalid_json") from exc
    _check_unicode(body)
    return body
