"""The quarantine: messages that are not filed as they are (malformed, dangerous attachments,
senders not allowed, internal errors), kept byte for byte in the object store with the reason.

Storing (`quarantine_raw`, `quarantine_message`) is used by the filing; the admin use cases
(`list_quarantine`, `show`, `get_raw`, `release`, `delete`) need the `admin` permission and are
audited. Release files the message as it is, without the sender checks (an admin decided); what
the parser still refuses (e.g. an executable attachment) is not filed: the `.eml` alone is filed,
with the reason in its `mail_skipped` field. The original stays inside that `.eml` (byte for
byte), never as a document of its own.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from dataclasses import asdict
from typing import Any

from dms.app.audit import record
from dms.app.principal import ADMIN, Principal, require
from dms.app.services import Services
from dms.errors import Conflict, NotFound
from mail_gateway.model import Envelope, MailOutcome, ParsedMail
from mail_gateway.settings import MailSettings

log = logging.getLogger(__name__)

FINAL = ("filed", "quarantined", "deleted")
RELEASABLE = ("quarantined", "released")  # "released": a release that did not finish


def raw_key(mail_id: str) -> str:
    """Object store key of a quarantined message."""
    return f"mail/quarantine/{mail_id}.eml"


def record_values(parsed: ParsedMail, envelope: Envelope, verdict: dict[str, Any] | None = None) -> dict[str, Any]:
    """The mail record's columns that describe the message (for `catalog.mail.claim`)."""
    return {
        "message_id": parsed.message_id,
        "sender": parsed.sender or envelope.mail_from.lower(),
        "recipients": list(dict.fromkeys([*envelope.rcpt_tos, *parsed.to, *parsed.cc])),
        "subject": parsed.subject[:1000],
        "via": envelope.via,
        "received_at": envelope.received_at,
        "envelope": envelope.to_dict(),
        "forwarded": [asdict(f) for f in parsed.forwarded],
        "sender_auth": dict(verdict or {}),
    }


def headers_only(raw: bytes, note: str | None = None) -> ParsedMail:
    """A mail read from its headers only, no attachments (what parse_mail refused, for the record
    and for a release). Never raises; header values lose CR/LF."""
    from email import policy
    from email.header import decode_header, make_header
    from email.parser import BytesParser
    from email.utils import getaddresses, parsedate_to_datetime

    message = BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True)

    def header(name: str) -> str:
        try:
            value = str(message.get(name) or "")
        except Exception:  # noqa: BLE001 - a header that cannot be read is left out
            return ""
        with contextlib.suppress(Exception):  # RFC 2047 words; undecodable ones stay as they came
            value = str(make_header(decode_header(value)))
        return " ".join(value.replace("\x00", " ").split())[:1000]

    senders = [a for a in getaddresses([header("From")]) if a[1]]
    try:
        date = parsedate_to_datetime(header("Date")) if header("Date") else None
    except (TypeError, ValueError, IndexError):
        date = None
    return ParsedMail(
        message_id=header("Message-ID") or None,
        sender=senders[0][1].lower() if senders else "",
        sender_name=senders[0][0] or None if senders else None,
        to=[a for _, a in getaddresses([header("To")]) if a],
        cc=[a for _, a in getaddresses([header("Cc")]) if a],
        subject=header("Subject"),
        date=date,
        text="",
        html=None,
        warnings=[note] if note else [],
    )


def quarantine_raw(services: Services, raw: bytes, envelope: Envelope, code: str, reason: str) -> MailOutcome:
    """Quarantine a message that could not be filed (also after an unexpected error). Its record is
    the one of its dedupe key when the message can be parsed, else one keyed by its bytes."""
    from mail_gateway.parse import parse_mail

    mail = MailSettings.from_settings(services.settings)
    try:
        parsed = parse_mail(raw, mail)
        key = parsed.dedupe_key(envelope)
    except Exception:  # noqa: BLE001 - unreadable: keyed by its bytes, described by its headers
        try:
            parsed = headers_only(raw)
        except Exception:  # noqa: BLE001
            parsed = ParsedMail(None, "", None, [], [], "", None, "", None)
        key = hashlib.sha256(b"raw:" + raw).hexdigest()
    return quarantine_message(services, raw, envelope, key, record_values(parsed, envelope), code, reason)


def quarantine_message(
    services: Services, raw: bytes, envelope: Envelope, key: str, values: dict[str, Any], code: str, reason: str
) -> MailOutcome:
    """Keep `raw` in the object store and mark its record quarantined (idempotent per key)."""
    from mail_gateway.filing import MAIL_GATEWAY

    mail_record, created = services.catalog.mail.claim(key, status="filing", **values)
    if not created and mail_record.status in FINAL:
        return MailOutcome("duplicate", mail_record.id, mail_record.mail_document_id)
    stored_at = raw_key(mail_record.id)
    services.store.put(stored_at, raw, content_type="message/rfc822")
    services.catalog.mail.update(mail_record.id, status="quarantined", code=code, reason=reason, raw_key=stored_at)
    record(
        services, MAIL_GATEWAY, "mail.quarantined", "mail", mail_record.id, code=code, reason=reason,
        mail_from=mail_record.sender, envelope_from=envelope.mail_from, via=envelope.via,
    )
    log.warning("mail %s quarantined (%s): %s", mail_record.id, code, reason)
    outcome = MailOutcome("quarantined", mail_record.id, reason=reason, code=code)
    mail = MailSettings.from_settings(services.settings)
    if mail.receipt:
        from mail_gateway.receipt import send_receipt

        send_receipt(services, mail, raw, None, envelope, outcome)
    return outcome


# --- admin use cases -----------------------------------------------------------------------------


def list_quarantine(services: Services, principal: Principal, limit: int = 50, offset: int = 0) -> list[Any]:
    """Quarantined messages, newest first."""
    require(principal, ADMIN)
    return services.catalog.mail.list(status="quarantined", limit=limit, offset=offset)


def show(services: Services, principal: Principal, mail_id: str) -> Any:
    """One mail record (any status)."""
    require(principal, ADMIN)
    return services.catalog.mail.get(mail_id)


def _quarantined(services: Services, mail_id: str, allowed: tuple[str, ...] = ("quarantined",)) -> Any:
    mail_record = services.catalog.mail.get(mail_id)
    if mail_record.status not in allowed or not mail_record.raw_key:
        raise Conflict(f"Die Nachricht {mail_id} ist nicht in der Quarantäne (Status {mail_record.status}).",
                       code="not_quarantined")
    return mail_record


def get_raw(services: Services, principal: Principal, mail_id: str) -> bytes:
    """The quarantined message byte for byte (audited: it may carry malware)."""
    require(principal, ADMIN)
    mail_record = services.catalog.mail.get(mail_id)
    if not mail_record.raw_key:
        raise NotFound(f"Die Nachricht {mail_id} liegt nicht (mehr) in der Quarantäne.", code="not_quarantined")
    data = services.store.get(mail_record.raw_key)
    record(services, principal, "mail.quarantine_download", "mail", mail_id, size=len(data))
    return data


def release(
    services: Services, principal: Principal, mail_id: str, mail: MailSettings, reason: str | None = None
) -> MailOutcome:
    """File a quarantined message after all (see the module docstring for what stays unfiled)."""
    from mail_gateway.filing import refile

    require(principal, ADMIN)
    mail_record = _quarantined(services, mail_id, RELEASABLE)
    raw = services.store.get(mail_record.raw_key)
    envelope = Envelope.from_dict(mail_record.envelope)
    record(services, principal, "mail.released", "mail", mail_id, code=mail_record.code, reason=reason,
           quarantine_reason=mail_record.reason)
    mail_record = services.catalog.mail.update(mail_id, status="released")
    outcome = refile(services, mail_record, raw, envelope, mail, principal)
    if outcome.status == "filed":  # the .eml is a document now: the quarantined copy goes
        _remove_raw(services, mail_record.raw_key)
        services.catalog.mail.update(mail_id, raw_key=None)
    return outcome


def delete(services: Services, principal: Principal, mail_id: str, reason: str) -> Any:
    """Remove a quarantined message for good (the record stays, status `deleted`)."""
    require(principal, ADMIN)
    if not (reason or "").strip():
        from dms.errors import ValidationError

        raise ValidationError("Bitte einen Grund für das Löschen angeben.", field="reason")
    mail_record = _quarantined(services, mail_id)
    _remove_raw(services, mail_record.raw_key)
    updated = services.catalog.mail.update(
        mail_id, status="deleted", raw_key=None, reason=f"{mail_record.reason} – gelöscht: {reason.strip()}",
    )
    record(services, principal, "mail.deleted", "mail", mail_id, code=mail_record.code, reason=reason.strip())
    return updated


def _remove_raw(services: Services, key: str | None) -> None:
    if key:
        services.store.delete(key)


__all__ = [
    "delete", "get_raw", "headers_only", "list_quarantine", "quarantine_message",
    "quarantine_raw", "raw_key", "record_values", "release", "show",
]
