"""`@operation(...)` on a view: what the OpenAPI document says about that endpoint.

The decorator only records; it changes nothing about how the view runs. A route without it is
missing from /api/v1/openapi.json, and `tests/test_openapi.py` fails.

    @api_bp.get("/customers")
    @operation("List customers", permission=CUSTOMERS_READ, query=CustomerQuery, reply=CustomerList)
    def list_customers(): ...
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

PUBLIC = "public"  # no credential, in every auth mode
AUTHENTICATED = "authenticated"  # any valid credential, no particular permission
ATTRIBUTE = "__openapi__"

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Header:
    """A response header; `required` when every such response carries it."""

    description: str
    required: bool = False


@dataclass(frozen=True)
class Reply:
    """One success response: a JSON model, or raw bytes in the given media types."""

    model: type[BaseModel] | None = None
    description: str = "OK"
    media_types: tuple[str, ...] = ()  # bytes; empty with a model: application/json
    headers: Mapping[str, str | Header] = field(default_factory=dict)  # name -> description (or Header)


@dataclass(frozen=True)
class Operation:
    summary: str
    permission: str  # a permission of dms.identity.roles, PUBLIC or AUTHENTICATED
    description: str = ""
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None  # application/json
    form: type[BaseModel] | None = None  # multipart/form-data
    replies: Mapping[int, Reply] = field(default_factory=dict)
    # beyond those derived from the operation (see document.error_statuses); a mapping gives the status the
    # description of this operation (which error codes it answers with and why) instead of the shared one
    errors: tuple[int, ...] | Mapping[int, str] = ()
    path: Mapping[str, str] = field(default_factory=dict)  # path parameter -> description
    headers: tuple[str, ...] = ()  # request headers it reads: names of document.REQUEST_HEADERS
    tag: str = ""


def operation(
    summary: str,
    *,
    permission: str,
    reply: type[BaseModel] | Reply | None = None,
    status: int = 200,
    replies: Mapping[int, Reply] | None = None,
    **details: Any,
) -> Callable[[F], F]:
    """Describe a view. `reply`/`status` is the usual single success response; `replies` for several."""
    answers = dict(replies or {})
    if reply is not None:
        answers[status] = reply if isinstance(reply, Reply) else Reply(reply)
    spec = Operation(summary, permission, replies=answers, **details)

    def mark(view: F) -> F:
        setattr(view, ATTRIBUTE, spec)
        return view

    return mark


def operation_of(view: Callable[..., Any]) -> Operation | None:
    return getattr(view, ATTRIBUTE, None)


IDEMPOTENT = "__idempotent__"  # set by dms.web.idempotency.idempotent: the view honours `Idempotency-Key`


def is_idempotent(view: Callable[..., Any]) -> bool:
    return bool(getattr(view, IDEMPOTENT, False))
