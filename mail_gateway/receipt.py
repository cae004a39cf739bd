"""The optional receipt (`[mail] receipt = true`): a short German reply to the sender, through
the relay of `[mail.relay]`, saying where each attachment was filed, why it went to the review
inbox, or why the mail was quarantined.

Never a reply to an automatic message (`Auto-Submitted` other than `no`, `Precedence:
bulk|list|junk`, a `List-Id`), to an empty return path, or to a sender that was not allowed or
failed authentication (no backscatter); the reply itself is `Auto-Submitted: auto-replied` with a
null return path (RFC 3834), so two systems never answer each other. A failure to send is
logged; it never fails the filing.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from dms.app.services import Services
from mail_gateway.model import SENDER_AUTH_FAILED, SENDER_NOT_ALLOWED, Envelope, MailOutcome, ParsedMail
from mail_gateway.settings import MailSettings

log = logging.getLogger(__name__)

NO_REPLY_CODES = frozenset({SENDER_NOT_ALLOWED, SENDER_AUTH_FAILED})
AUTOMATIC_PRECEDENCE = frozenset({"bulk", "list", "junk"})


def _headers(raw: bytes) -> Any:
    from email import policy
    from email.parser import BytesParser

    return BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True)


def _header(message: Any, name: str) -> str:
    try:
        return " ".join(str(message.get(name) or "").split())
    except Exception:  # noqa: BLE001 - an undecodable header counts as missing
        return ""


def should_reply(raw: bytes, envelope: Envelope, outcome: MailOutcome) -> str | None:
    """The address to answer, or None when no receipt may be sent (see the module docstring)."""
    to = (envelope.mail_from or "").strip().strip("<>")
    if not to or "@" not in to or outcome.status == "duplicate" or outcome.code in NO_REPLY_CODES:
        return None
    message = _headers(raw)
    auto = _header(message, "Auto-Submitted").lower()
    if auto and auto != "no":
        return None
    if _header(message, "Precedence").lower() in AUTOMATIC_PRECEDENCE or _header(message, "List-Id"):
        return None
    if to.lower().startswith(("mailer-daemon@", "postmaster@")):
        return None
    return to


def receipt_text(services: Services, outcome: MailOutcome, subject: str) -> tuple[str, str]:
    """(subject, body) of the receipt, in German."""
    shown = subject or "(ohne Betreff)"
    if outcome.status == "quarantined":
        return (f"Nicht abgelegt: {shown}", "\n".join([
            "Guten Tag,", "",
            f"Ihre Nachricht „{shown}“ wurde nicht abgelegt, sondern zur Prüfung zurückgehalten.",
            f"Grund: {outcome.reason}", "",
            "Eine Administratorin oder ein Administrator prüft die Nachricht. Bitte senden Sie sie nicht erneut.",
            "", "-- ", "Kundenakte (automatische Antwort)",
        ]))
    settings = services.settings
    routed = outcome.route
    lines = ["Guten Tag,", "", f"Ihre Nachricht „{shown}“ ist eingegangen.", ""]
    if routed is not None and routed.customer_number:
        customer = services.catalog.customers.find(routed.customer_number)
        name = f" ({customer.name})" if customer else ""
        lines.append(f"Akte: Kunde {routed.customer_number}{name}")
    else:
        reason = routed.reason if routed else ""
        lines += [f"Kein Kunde zugeordnet: Die Dokumente liegen im {settings.inbox_folder} und werden von",
                  "einer Sachbearbeiterin oder einem Sachbearbeiter zugeordnet, sofern sie nicht",
                  "anhand ihres Inhalts erkannt werden.", f"Grund: {reason}"]
    lines.append("")
    if outcome.parts:
        lines.append("Anhänge:")
    for part in outcome.parts:
        lines.append(f"- {part.filename}: {_where(services, part, outcome)}")
    if not outcome.parts:
        lines.append("Die Nachricht hatte keine Anhänge zum Ablegen.")
    if routed is not None and routed.customer_number:
        lines.append(f"- die E-Mail selbst: Ordner {settings.folder_for_class('Korrespondenz')}")
    lines += ["", "-- ", "Kundenakte (automatische Antwort)"]
    return f"Abgelegt: {shown}", "\n".join(lines)


def _where(services: Services, part: Any, outcome: MailOutcome) -> str:
    routed = outcome.route
    if part.outcome == "linked":
        where = f"Kunde {part.customer_number}" if part.customer_number else "bereits vorhanden"
        return f"war bereits abgelegt ({where}), mit dieser Nachricht verknüpft"
    if not part.customer_number:
        return f"{services.settings.inbox_folder} (zur Prüfung)"
    folder = part.folder or (routed.folder if routed else None)
    if not folder and routed is not None and routed.document_class:
        folder = services.settings.folder_for_class(routed.document_class)
    where = f"Akte {part.customer_number}, Ordner {folder}" if folder else (
        f"Akte {part.customer_number}, Ordner nach erkannter Dokumentart")
    return where + (" (bereits zuvor abgelegt)" if part.outcome == "unchanged" else "")


def build_receipt(
    services: Services, mail: MailSettings, raw: bytes, to: str, outcome: MailOutcome
) -> EmailMessage:
    from mail_gateway.quarantine import headers_only

    original = _headers(raw)
    subject, body = receipt_text(services, outcome, headers_only(raw).subject)
    message = EmailMessage()
    message["From"] = mail.relay.from_address
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=mail.relay.from_address.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-replied"
    message["X-Auto-Response-Suppress"] = "All"
    original_id = _header(original, "Message-ID")
    if original_id:
        message["In-Reply-To"] = original_id
        message["References"] = " ".join(filter(None, [_header(original, "References"), original_id]))
    message.set_content(body)
    return message


def send_receipt(
    services: Services, mail: MailSettings, raw: bytes, parsed: ParsedMail | None, envelope: Envelope,
    outcome: MailOutcome,
) -> bool:
    """Send the receipt if one may be sent; True when the relay took it. Never raises."""
    try:
        to = should_reply(raw, envelope, outcome)
        if to is None:
            return False
        if not mail.relay.host:
            log.warning("receipt for mail %s not sent: no [mail.relay] host configured", outcome.mail_id)
            return False
        message = build_receipt(services, mail, raw, to, outcome)
        relay = mail.relay
        with smtplib.SMTP(relay.host, relay.port, timeout=30) as client:
            client.ehlo()
            if relay.starttls:
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            if relay.username:
                client.login(relay.username, relay.password or "")
            client.send_message(message, from_addr="", to_addrs=[to])  # null return path (RFC 3834)
        log.info("receipt for mail %s sent to %s", outcome.mail_id, to)
        return True
    except Exception as exc:  # noqa: BLE001 - a receipt never fails the filing
        log.warning("receipt for mail %s not sent: %s", outcome.mail_id, exc)
        return False
