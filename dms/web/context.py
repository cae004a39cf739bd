"""Per request: the request id and where the request comes from, for the audit trail.

A before_request hook takes the `X-Request-Id` header (letters, digits and `._:@/+=-`, at most
128 characters) or makes one up, binds IP, user agent and request id for `dms.app.audit`, and
every response echoes the id in `X-Request-Id`. Requests refused with 401 or 403 are recorded
here, in one place (`dms.web.refusals.record_refusal`).
"""

from __future__ import annotations

import re
import uuid

from flask import Flask, Response, g, request

from dms.app.audit import RequestContext, bind_context, unbind_context

REQUEST_ID = "X-Request-Id"
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")
MAX_USER_AGENT = 500


def _request_id() -> str:
    sent = (request.headers.get(REQUEST_ID) or "").strip()
    return sent if REQUEST_ID_RE.match(sent) else uuid.uuid4().hex


def install_request_context(app: Flask) -> None:
    @app.before_request
    def _bind() -> None:
        g.request_id = _request_id()
        user_agent = (request.headers.get("User-Agent") or "")[:MAX_USER_AGENT] or None
        g.audit_context = bind_context(RequestContext(request.remote_addr, user_agent, g.request_id))

    @app.after_request
    def _finish(response: Response) -> Response:
        if "request_id" not in g:  # refused before our hook ran (e.g. by another before_request)
            g.request_id = _request_id()
        response.headers[REQUEST_ID] = g.request_id
        if response.status_code in (401, 403):
            from dms.web.refusals import record_refusal

            record_refusal(response)
        return response

    @app.teardown_request
    def _unbind(_exc: BaseException | None) -> None:
        token = g.pop("audit_context", None)
        if token is not None:
            unbind_context(token)
