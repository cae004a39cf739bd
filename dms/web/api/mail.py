"""Received mail (`documents:read`) and the quarantine (`admin`): HTTP in, a use case, JSON out.

Listing and reading are use cases of `dms.app.mail`; releasing and deleting quarantined mail
are the gateway's (`mail_gateway.quarantine`), imported when called.
"""

from __future__ import annotations

from typing import Any, Literal

from flask import Response, jsonify
from pydantic import BaseModel, Field

from dms.app import mail as uc
from dms.app.principal import ADMIN, DOCUMENTS_READ
from dms.catalog.mail import STATUSES
from dms.validation import MAX_NUMBER
from dms.web.api import api_bp, services
from dms.web.auth import require
from dms.web.openapi import Reply, operation
from dms.web.openapi import models as m
from dms.web.params import choice_arg, int_arg, str_arg

MAX_LIMIT = 200
MAX_OFFSET = 1_000_000
MAX_REASON = 500
NOT_QUARANTINED = "`not_quarantined`: the message is not (or no longer) in the quarantine."

Status = Literal[STATUSES]  # type: ignore[valid-type]


class MessageQuery(BaseModel):
    status: Status | None = Field(None, description="`filing`, `filed`, `quarantined`, `released` or `deleted`.")
    customer: str | None = Field(None, max_length=MAX_NUMBER, description="Customer number it was filed for.")
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


class QuarantineQuery(BaseModel):
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


class ReasonQuery(BaseModel):
    reason: str | None = Field(None, max_length=MAX_REASON, description="Why (recorded in the audit trail).")


class DeleteQuery(BaseModel):
    reason: str = Field(min_length=1, max_length=MAX_REASON, pattern=m.VISIBLE,
                        description="Why it is deleted (required; recorded with the message and in the audit trail).")


class Message(m.Response):
    id: str
    mail_key: str = Field(description="The dedupe key: the same mail delivered again has the same one.")
    message_id: str | None
    sender: str | None = Field(description="The From address (the forwarder's, for a forwarded mail).")
    recipients: list[str]
    subject: str | None
    via: str = Field(description="`smtp`, `imap` or `api` (released from the quarantine).")
    received_at: str | None
    status: Status
    code: str | None = Field(description="Why it is in the quarantine (stable code), e.g. `dangerous_attachment`.")
    reason: str | None = Field(description="The reason in German.")
    customer_number: str | None
    route: dict[str, Any] = Field(description="How it was routed: `customer_number`, `rule`, `reason`, …")
    mail_document_id: str | None = Field(description="The document of the mail itself (the `.eml`).")
    document_ids: list[str] = Field(description="The documents of its attachments.")
    sender_auth: dict[str, Any] = Field(description="SPF/DKIM/DMARC verdict, when checked.")
    envelope: dict[str, Any] = Field(description="What the transport said (SMTP envelope or IMAP mailbox).")
    forwarded: list[dict[str, Any]] = Field(description="Original sender, date, subject of forwarded mails.")
    updated_at: str | None
    raw_available: bool = Field(description="Whether the raw message is kept (in the quarantine).")


class MessagePage(m.Response):
    total: int = Field(ge=0)
    limit: int
    offset: int
    messages: list[Message] = Field(description="Newest first.")


class MailOutcome(m.Response):
    status: str = Field(description="`filed`, `duplicate` or `quarantined` (again).")
    mail_id: str
    mail_document_id: str | None = None
    parts: list[dict[str, Any]] = Field(description="Each filed attachment: file name, document, outcome, where.")
    route: dict[str, Any] | None = None
    reason: str | None = None
    code: str | None = None


def _page_args() -> tuple[int, int]:
    return (int_arg("limit", 50, minimum=1, maximum=MAX_LIMIT),
            int_arg("offset", 0, minimum=0, maximum=MAX_OFFSET))


@api_bp.get("/mail/messages")
@operation("Received mail, newest first: where it went, or why it is in the quarantine", permission=DOCUMENTS_READ,
           query=MessageQuery, reply=MessagePage, tag="mail")
def list_messages():
    principal = require(DOCUMENTS_READ)
    status = choice_arg("status", set(STATUSES))
    customer = str_arg("customer", max_length=MAX_NUMBER)
    limit, offset = _page_args()
    return jsonify(uc.list_messages(services(), principal, status=status, customer_number=customer, limit=limit,
                                    offset=offset))


@api_bp.get("/mail/messages/<mail_id>")
@operation("One received mail", permission=DOCUMENTS_READ, reply=Message, tag="mail")
def get_message(mail_id: str):
    principal = require(DOCUMENTS_READ)
    return jsonify(uc.get_message(services(), principal, mail_id))


@api_bp.get("/mail/quarantine")
@operation("Quarantined mail, newest first, with the reason", permission=ADMIN, query=QuarantineQuery,
           reply=MessagePage, tag="mail")
def list_quarantine():
    principal = require(ADMIN)
    limit, offset = _page_args()
    return jsonify(uc.list_quarantine(services(), principal, limit=limit, offset=offset))


@api_bp.get("/mail/quarantine/<mail_id>/raw")
@operation("A quarantined message byte for byte (audited)", permission=ADMIN, tag="mail",
           reply=Reply(description="The message as received", media_types=("message/rfc822",),
                       headers={"Content-Disposition": "attachment, `<id>.eml`"}))
def quarantined_raw(mail_id: str):
    principal = require(ADMIN)
    data = uc.quarantined_raw(services(), principal, mail_id)
    response = Response(data, mimetype="message/rfc822")
    response.headers["Content-Disposition"] = f'attachment; filename="{mail_id}.eml"'
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@api_bp.post("/mail/quarantine/<mail_id>/release")
@operation("File a quarantined message after all (without the sender checks)", permission=ADMIN, tag="mail",
           query=ReasonQuery, reply=MailOutcome, errors={409: NOT_QUARANTINED})
def release_quarantined(mail_id: str):
    """Files the message as it is; what the parser still refuses stays unfiled (named on the mail's document)."""
    from mail_gateway import quarantine
    from mail_gateway.settings import MailSettings

    principal = require(ADMIN)
    reason = str_arg("reason", max_length=MAX_REASON)
    mail = MailSettings.from_settings(services().settings)
    outcome = quarantine.release(services(), principal, mail_id, mail, reason=reason)
    return jsonify(outcome.to_dict())


@api_bp.delete("/mail/quarantine/<mail_id>")
@operation("Delete a quarantined message for good (the record stays, status `deleted`)", permission=ADMIN,
           tag="mail", query=DeleteQuery, reply=Message, errors={409: NOT_QUARANTINED})
def delete_quarantined(mail_id: str):
    from mail_gateway import quarantine

    principal = require(ADMIN)
    reason = str_arg("reason", max_length=MAX_REASON) or ""
    return jsonify(uc.message_view(quarantine.delete(services(), principal, mail_id, reason)))
