"""Webhook deliveries: each event per endpoint with its state, attempts and last error (admin)."""

from __future__ import annotations

from typing import Any, Literal

from flask import jsonify
from pydantic import BaseModel, Field

from dms.app.principal import ADMIN
from dms.app.webhooks import list_deliveries
from dms.catalog.outbox import STATES
from dms.web.api import api_bp, services
from dms.web.auth import require
from dms.web.openapi import models as m
from dms.web.openapi import operation
from dms.web.params import choice_arg, int_arg, str_arg
from dms.webhooks.config import EVENTS

MAX_LIMIT = 200
MAX_OFFSET = 1_000_000


State = Literal[STATES]  # type: ignore[valid-type]
Event = Literal[tuple(sorted(EVENTS))]  # type: ignore[valid-type]


class DeliveryQuery(BaseModel):
    state: State | None = Field(None, description="`pending`, `delivered` or `failed` (given up).")
    document: str | None = Field(None, max_length=64, description="Only the events of this document (id).")
    event: Event | None = Field(None, description="Only this event.")
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


class Delivery(m.Response):
    delivery_id: str = Field(description="Sent as `X-Kundenakte-Delivery`; the same on every attempt.")
    event_id: str
    event: Event
    document_id: str
    version: int
    endpoint: str = Field(description="The URL (a password in it masked).")
    state: State
    attempts: int
    last_status: int | None = Field(None, description="HTTP status of the last answer (none: no answer).")
    last_error: str | None = None
    created_at: str
    last_attempt_at: str | None = None
    next_attempt_at: str | None = Field(None, description="When a pending delivery is tried next.")
    delivered_at: str | None = None
    payload: dict[str, Any] = Field(description="The JSON body sent.")


class DeliveryPage(m.Response):
    total: int
    limit: int
    offset: int
    deliveries: list[Delivery]


@api_bp.get("/webhooks/deliveries")
@operation("Webhook deliveries, newest first: state, attempts, last answer and error", permission=ADMIN,
           query=DeliveryQuery, reply=DeliveryPage, tag="webhooks")
def webhook_deliveries():
    principal = require(ADMIN)
    page = list_deliveries(
        services(),
        principal,
        state=choice_arg("state", set(STATES)),
        document_id=str_arg("document", max_length=64),
        event=choice_arg("event", set(EVENTS)),
        limit=int_arg("limit", 50, minimum=1, maximum=MAX_LIMIT),
        offset=int_arg("offset", 0, minimum=0, maximum=MAX_OFFSET),
    )
    return jsonify(page)
