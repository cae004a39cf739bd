"""The OpenAPI 3.1 document, assembled from the app's URL map and each view's `@operation`.

Schemas are pydantic's JSON Schema (the 2020-12 dialect OpenAPI 3.1 uses), collected once into
`components.schemas`. Security follows the running app's `DMS_AUTH_MODE`: in `local` mode every
operation also lists the empty requirement `{}` (no credential), in `users` mode only bearer
and basic (with the permission the operation needs as the requirement's role, as 3.1 allows).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from dms import __version__
from dms.catalog.customers import NUMBER_RE
from dms.config import Settings
from dms.validation import MAX_NUMBER
from dms.web.idempotency import KEY
from dms.web.openapi import models as m
from dms.web.openapi.customer_models import customer_choices
from dms.web.openapi.registry import AUTHENTICATED, PUBLIC, Header, Operation, Reply, is_idempotent, operation_of

OPENAPI_VERSION = "3.1.0"
REF = "#/components/schemas/{model}"
METHODS = ("get", "put", "post", "patch", "delete")

ERRORS: dict[int, tuple[str, str, str]] = {  # status -> (component name, description, example code)
    400: ("BadRequest", "Invalid request: a parameter, field or body is wrong (the error names it).",
          "invalid_request"),
    401: ("Unauthorized", "No, or an invalid, expired or revoked credential (`DMS_AUTH_MODE=users`).",
          "unauthorized"),
    403: ("Forbidden", "The credential lacks the permission (`missing_permission` names it).", "forbidden"),
    404: ("NotFound", "No such customer, document or version.", "not_found"),
    409: ("Conflict", "Conflict, e.g. a duplicate upload (`duplicate`, with the existing id) or a taken "
          "customer number.", "duplicate"),
    412: ("PreconditionFailed", "`If-Match` names another version of the record than the current one.",
          "precondition_failed"),
    413: ("PayloadTooLarge", "The body or file exceeds its limit; refused before it is read.", "too_large"),
    422: ("Unprocessable", "Understood but refused: malformed metadata of a document (`invalid_metadata`, with "
          "`fields` naming each bad field), an `Idempotency-Key` used for another request (`idempotency_key_reused`).",
          "invalid_metadata"),
    503: ("ServiceUnavailable", "A backend does not answer, or too much work at once (`busy`, with "
          "`Retry-After`), or a search ran over its time limit (`search_timeout`).", "backend_unavailable"),
}

PATH_SCHEMAS = {  # path parameters by name; others are any non-empty string
    "number": {"type": "string", "pattern": NUMBER_RE.pattern, "maxLength": MAX_NUMBER},
}
IDEMPOTENCY_KEY = "Idempotency-Key"
# request headers an operation may read (`@operation(headers=...)`; `Idempotency-Key` follows from `@idempotent`)
REQUEST_HEADERS: dict[str, dict[str, Any]] = {
    IDEMPOTENCY_KEY: {
        "name": IDEMPOTENCY_KEY, "in": "header", "required": False,
        "description": "Makes a retry safe: 1–200 visible ASCII characters (a UUID per operation), per caller. The "
        "first answer (status, body, `Location`/`ETag`) is kept for `api.idempotency_hours` and sent again for the "
        "same request (`Idempotent-Replayed: true`); the same key with another request is a 422 "
        "`idempotency_key_reused`, while the first still runs a 409 `idempotency_in_progress`. Answers 5xx are not "
        "kept. An invalid key is a 400 `invalid_idempotency_key`.",
        "schema": {"type": "string", "pattern": KEY.pattern},
    },
    "If-Match": {
        "name": "If-Match", "in": "header", "required": False,
        "description": "Change only if the customer is still in this state: its `ETag` (several comma-separated; "
        "weak tags never match). A stale tag is a 412 `precondition_failed` and nothing changes; `*` only requires "
        "that the customer exists. Without it the change is unconditional.",
        "schema": {"type": "string", "minLength": 1},
    },
}
IDEMPOTENCY_ERRORS = {
    409: "`idempotency_in_progress`: a request with this `Idempotency-Key` is still being answered; retry after a "
    "second.",
    422: "`idempotency_key_reused`: this `Idempotency-Key` was used before for another request.",
}
REPLAYED = Header("`true` when this is the stored answer to an earlier request with the same `Idempotency-Key`.")

SECURITY_SCHEMES = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "dms_<id>_<secret>",
        "description": "An API token (`dms tokens create --name N --scope S`); its scopes are permissions. "
        "Only with `DMS_AUTH_MODE=users`.",
    },
    "basicAuth": {
        "type": "http",
        "scheme": "basic",
        "description": "Name and password of an active user (`dms users add`, `dms users passwd`); the "
        "user's role grants the permissions. Only with `DMS_AUTH_MODE=users`.",
    },
}

DESCRIPTION = """\
One digital customer file (Kundenakte) per customer: versioned documents, full-text search.

**Authentication** depends on `DMS_AUTH_MODE` of the server (this document describes the running
server's mode: `{mode}`):

- `local` (the default): no authentication; the service listens on loopback only. Every operation
  lists the empty security requirement `{{}}`: no credential is needed (and none is checked).
- `users`: an API token (`Authorization: Bearer dms_…`) or HTTP Basic with a user's password on
  every request except the public ones (`/api/v1/health`, this document and `/api/docs`). Without a
  valid credential: 401 with `WWW-Authenticate`; without the permission an operation names (its
  security requirement's role, also `x-permission`): 403 naming it.

**Errors** are `{{"error": {{"code", "message", …}}}}` (schema `Error`) with a fitting status.

**Limits**: JSON bodies at most {json_kb} KB and {json_depth} levels deep; uploads at most {upload_mb} MB.
"""


def error_statuses(op: Operation, method: str, has_path_args: bool, idempotent: bool = False) -> list[int]:
    """The error statuses an operation can answer with, derived from what it takes, plus its own."""
    statuses = set(op.errors)
    if idempotent:
        statuses |= {400, *IDEMPOTENCY_ERRORS}
    if method in ("post", "put", "patch"):
        statuses |= {400, 413}
    if op.permission != PUBLIC:
        statuses |= {401, 503}
        if op.permission != AUTHENTICATED:
            statuses.add(403)
    if has_path_args:
        statuses.add(404)
    if op.query or op.body or op.form:
        statuses.add(400)
    if op.body or op.form:
        statuses.add(413)
    return sorted(statuses)


def openapi_path(rule: str) -> str:
    """Flask's `/customers/<number>` (or `<int:n>`) as OpenAPI's `/customers/{number}`."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def _choices(settings: Settings) -> dict[str, dict[str, Any]]:
    """What the markers `x-choices` of dms.web.openapi.models stand for in the running configuration."""
    return {
        "document_classes": {"enum": list(settings.document_classes)},
        "folders": {"enum": settings.folder_template},
        "max_batch_items": {"maxItems": settings.limit("api", "max_batch_items")},
        "fields": {"$ref": REF.format(model="Fields")},
        **customer_choices(settings),  # statuses, groups, branches, custom attributes (issue 14)
    }


def _configured(schema: Any, choices: dict[str, dict[str, Any]]) -> Any:
    if isinstance(schema, dict):
        result = {k: _configured(v, choices) for k, v in schema.items() if k != m.CHOICES}
        if m.CHOICES in schema:
            result.update(choices[schema[m.CHOICES]])
        return result
    if isinstance(schema, list):
        return [_configured(v, choices) for v in schema]
    return schema


def _all_models(ops: list[Operation]) -> list[type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {"Error": m.Error}
    for op in ops:
        for model in (op.query, op.body, op.form, *(r.model for r in op.replies.values())):
            if model is not None:
                found.setdefault(f"{model.__module__}.{model.__qualname__}", model)
    return list(found.values())


def _tidy(schema: Any) -> Any:
    """Without pydantic's titles (every property's name again) and `default: null` (absent is the same)."""
    if isinstance(schema, dict):
        return {
            k: _tidy(v) for k, v in schema.items()
            if not (k == "title" and isinstance(v, str)) and not (k == "default" and v is None)
        }
    if isinstance(schema, list):
        return [_tidy(v) for v in schema]
    return schema


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent or a string, never null: `X | None` becomes `X`."""
    schema = dict(schema)
    variants = [v for v in schema.get("anyOf", ()) if v != {"type": "null"}]
    if "anyOf" in schema and len(variants) == 1:
        del schema["anyOf"]
        schema = {**variants[0], **schema}
    elif "anyOf" in schema:
        schema["anyOf"] = variants
    return schema


class _Builder:
    def __init__(self, ops: list[Operation], settings: Settings) -> None:
        models = _all_models(ops)
        refs, defs = models_json_schema([(model, "validation") for model in models], ref_template=REF)
        self.refs = {model: refs[(model, "validation")] for model in models}
        self.schemas: dict[str, Any] = _configured(_tidy(defs.get("$defs", {})), _choices(settings))
        self.schemas.update(m.EXTRA_SCHEMAS)
        self.query_models = {op.query for op in ops if op.query}

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        """A schema with a `$ref` of ours (at its top) replaced by the schema it refers to."""
        ref = schema.get("$ref", "")
        return self.schemas[ref.rsplit("/", 1)[-1]] if ref.startswith(REF.format(model="")) else schema

    def ref(self, model: type[BaseModel]) -> dict[str, Any]:
        return dict(self.refs[model])

    def query_parameters(self, model: type[BaseModel]) -> list[dict[str, Any]]:
        schema = self.schemas[model.__name__]
        required = set(schema.get("required", ()))
        parameters = []
        for name, prop in schema["properties"].items():
            prop = _not_null(prop)
            description = prop.pop("description", "")
            parameter = {"name": name, "in": "query", "required": name in required, "schema": prop}
            if name not in required:  # dms.web.params reads an empty value as absent (`?to=&q=x`)
                parameter["allowEmptyValue"] = True
            if description:
                parameter["description"] = description
            parameters.append(parameter)
        return parameters

    def body(self, op: Operation) -> dict[str, Any] | None:
        if op.body is not None:
            return {"required": True, "content": {"application/json": {"schema": self.ref(op.body)}}}
        if op.form is not None:
            properties = self.schemas[op.form.__name__]["properties"]
            encoding = {
                name: {"contentType": "application/octet-stream" if name == "file" else "application/json"}
                for name, prop in properties.items()
                if name == "file" or _is_json_part(self.resolve(prop))
            }
            media = {"schema": self.ref(op.form), "encoding": encoding}
            return {"required": True, "content": {"multipart/form-data": media}}
        return None

    def reply(self, reply: Reply, idempotent: bool = False) -> dict[str, Any]:
        answer: dict[str, Any] = {"description": reply.description}
        headers = dict(reply.headers)
        if idempotent:
            headers["Idempotent-Replayed"] = REPLAYED
        if reply.model is not None:
            answer["content"] = {"application/json": {"schema": self.ref(reply.model)}}
        elif reply.media_types:
            binary = {"type": "string", "contentMediaType": "application/octet-stream"}
            answer["content"] = {
                media: {"schema": {"type": "object"} if media == "application/json" else binary}
                for media in reply.media_types
            }
        if headers:
            answer["headers"] = {name: _header(spec) for name, spec in headers.items()}
        return answer


def _header(spec: str | Header) -> dict[str, Any]:
    spec = spec if isinstance(spec, Header) else Header(spec)
    header: dict[str, Any] = {"description": spec.description, "schema": {"type": "string"}}
    if spec.required:
        header["required"] = True
    return header


def _is_json_part(prop: dict[str, Any]) -> bool:
    """A multipart property sent as a JSON part (an object or array that is not a list of files)."""
    types = [prop.get("type")] + [variant.get("type") for variant in prop.get("anyOf", ())]
    return any(t in ("object", "array") for t in types) and "contentMediaType" not in prop.get("items", {})


def _parameter_name(header: str) -> str:
    """`Idempotency-Key` as the component name `IdempotencyKey`."""
    return header.replace("-", "")


def _security(op: Operation, auth_mode: str) -> list[dict[str, list[str]]]:
    if op.permission == PUBLIC:
        return []
    roles = [] if op.permission == AUTHENTICATED else [op.permission]
    requirements: list[dict[str, list[str]]] = [{"bearerAuth": roles}, {"basicAuth": roles}]
    return [{}, *requirements] if auth_mode == "local" else requirements


def _error_response(status: int, note: str = "") -> dict[str, Any]:
    """A reference to the shared response of a status (with this operation's description, as 3.1 allows), or
    (a status without one) the Error schema inline."""
    if status in ERRORS:
        response = {"$ref": f"#/components/responses/{ERRORS[status][0]}"}
        return {**response, "description": note} if note else response
    return {
        "description": note or HTTPStatus(status).phrase,
        "content": {"application/json": {"schema": {"$ref": REF.format(model="Error")}}},
    }


def _error_notes(op: Operation, idempotent: bool) -> dict[int, str]:
    """Per status, what this operation's errors of that status mean (its own words, then the idempotency errors)."""
    notes = dict(op.errors) if isinstance(op.errors, Mapping) else {}
    if idempotent:
        for status, note in IDEMPOTENCY_ERRORS.items():
            own = notes.get(status) or (ERRORS[status][1] if status in ERRORS else "")
            notes[status] = f"{own} {note}".strip()
    return notes


def _error_responses() -> dict[str, Any]:
    responses = {}
    for status, (name, description, code) in ERRORS.items():
        example = {"error": {"code": code, "message": "…"}}
        response: dict[str, Any] = {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": REF.format(model="Error")}, "example": example}},
        }
        if status == 401:
            response["headers"] = {"WWW-Authenticate": {
                "description": "The accepted schemes: Bearer and Basic.", "schema": {"type": "string"}}}
        if status == 503:
            response["headers"] = {"Retry-After": {
                "description": "Seconds to wait (`busy`).", "schema": {"type": "string"}}}
        responses[name] = response
    return responses


def build_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI document of every `/api/` route of `app` that has an `@operation`."""
    settings: Settings = app.extensions["dms"].settings
    found: list[tuple[str, str, str, Operation, list[str], bool]] = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions[rule.endpoint]
        op = operation_of(view)
        if op is None or not rule.rule.startswith("/api/"):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((rule.rule, rule.endpoint, method.lower(), op, sorted(rule.arguments), is_idempotent(view)))
    builder = _Builder([op for *_, op, _, _ in found], settings)
    paths: dict[str, dict[str, Any]] = {}
    tags: dict[str, None] = {}
    for rule, endpoint, method, op, arguments, idempotent in found:
        parameters = [
            {"name": name, "in": "path", "required": True, "description": op.path.get(name, ""),
             "schema": PATH_SCHEMAS.get(name, {"type": "string", "minLength": 1})}
            for name in arguments
        ]
        if op.query is not None:
            parameters += builder.query_parameters(op.query)
        headers = (*op.headers, IDEMPOTENCY_KEY) if idempotent else op.headers
        parameters += [{"$ref": f"#/components/parameters/{_parameter_name(name)}"} for name in headers]
        entry: dict[str, Any] = {
            "operationId": endpoint.split(".")[-1],
            "summary": op.summary,
            "security": _security(op, settings.auth_mode),
            "x-permission": op.permission,
        }
        if op.tag:
            entry["tags"] = [op.tag]
            tags[op.tag] = None
        if op.description:
            entry["description"] = op.description
        if parameters:
            entry["parameters"] = parameters
        body = builder.body(op)
        if body:
            entry["requestBody"] = body
        responses: dict[str, Any] = {
            str(status): builder.reply(r, idempotent) for status, r in sorted(op.replies.items())
        }
        notes = _error_notes(op, idempotent)
        for status in error_statuses(op, method, bool(arguments), idempotent):
            responses.setdefault(str(status), _error_response(status, notes.get(status, "")))
        entry["responses"] = responses
        paths.setdefault(openapi_path(rule), {})[method] = entry
    schemas = {name: schema for name, schema in builder.schemas.items()
               if name not in {model.__name__ for model in builder.query_models}}
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Kundenakte API",
            "version": __version__,
            "description": DESCRIPTION.format(
                mode=settings.auth_mode,
                json_kb=settings.limit("api", "max_json_kb"),
                json_depth=settings.limit("api", "max_json_depth"),
                upload_mb=settings.max_upload_bytes // (1024 * 1024),
            ),
        },
        "tags": [{"name": name} for name in tags],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "parameters": {_parameter_name(name): parameter for name, parameter in REQUEST_HEADERS.items()},
            "responses": _error_responses(),
            "securitySchemes": SECURITY_SCHEMES,
        },
    }
