"""`Idempotency-Key` on the write endpoints: a retried request gets the first answer again.

`@idempotent(permission)` wraps a view. Without the header nothing changes. With it, the
request's fingerprint (sha256 over method, path, query and the body: raw bytes, or for a
multipart upload its form fields and the sha256 of every file, since the boundary differs on
every retry) is claimed for the caller (`dms.app.idempotency`): the first request runs and its
answer (status, JSON body, Location/ETag) is stored; a repetition gets it again byte for byte
(`Idempotent-Replayed: true`), a different request with the same key 422
`idempotency_key_reused`, one while the first still runs 409 `idempotency_in_progress`.
Answers of 5xx are not stored (the retry runs again).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Response, current_app, g, make_response, request

from dms.app import idempotency
from dms.errors import DmsError, ValidationError
from dms.web.auth import require
from dms.web.errors import error_response
from dms.web.openapi.registry import IDEMPOTENT

HEADER = "Idempotency-Key"
KEY = re.compile(r"^[\x21-\x7e]{1,200}$")  # visible ASCII, as the IETF draft's examples (UUIDs …)
REPLAYED_HEADERS = ("Location", "ETag")


def fingerprint() -> str:
    digest = hashlib.sha256()

    def add(*parts: str | bytes | None) -> None:
        for part in parts:
            if part is None:  # werkzeug yields None for a form part it could not decode
                digest.update(b"\xff" * 8)
                continue
            data = part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part
            digest.update(len(data).to_bytes(8, "big") + data)

    add(request.method, request.path, request.query_string)
    if request.mimetype == "multipart/form-data":
        add("multipart")
        for name, value in request.form.items(multi=True):
            add("field", name, value)
        for name, file in request.files.items(multi=True):
            content = file.stream.read()
            file.stream.seek(0)
            add("file", name, file.filename or "", hashlib.sha256(content).digest())
    else:
        add("body", request.mimetype or "", request.get_data(cache=True))
    return digest.hexdigest()


def _key() -> str | None:
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    if not KEY.match(raw):
        raise ValidationError(
            f"{HEADER} muss 1 bis 200 sichtbare ASCII-Zeichen lang sein (z. B. eine UUID).",
            code="invalid_idempotency_key",
        )
    return raw


def _replay(stored: idempotency.StoredResponse) -> Response:
    response = Response(stored.body, status=stored.status, mimetype="application/json")
    for name, value in stored.headers.items():
        response.headers[name] = value
    response.headers["Idempotent-Replayed"] = "true"
    return response


def dont_store() -> None:
    """Called by a view whose answer must not be replayed although its status is < 500 (e.g. a
    batch with an item that hit an unavailable backend)."""
    g.idempotency_dont_store = True


def idempotent(permission: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Make a write view honour `Idempotency-Key`; the permission is checked before a key is claimed."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            key = _key()
            if key is None:
                return view(*args, **kwargs)
            principal = require(permission)
            services = current_app.extensions["dms"]
            stored = idempotency.claim(services, principal, key, fingerprint())
            if stored is not None:
                return _replay(stored)
            try:
                try:
                    response = make_response(view(*args, **kwargs))
                except DmsError as exc:
                    body, status = error_response(exc.http_status, exc.code, exc.message, **exc.details)
                    response = make_response(body, status)
            except BaseException:
                idempotency.release(services, principal, key)
                raise
            if response.status_code >= 500 or g.get("idempotency_dont_store"):
                idempotency.release(services, principal, key)
                return response
            headers = {name: response.headers[name] for name in REPLAYED_HEADERS if name in response.headers}
            idempotency.complete(services, principal, key, response.status_code,
                                 response.get_data(as_text=True), headers)
            return response

        setattr(wrapper, IDEMPOTENT, True)  # the OpenAPI document lists the header, the replay and its errors
        return wrapper

    return decorate
