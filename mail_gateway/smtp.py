"""The SMTP listener of `dms mail-gateway` (aiosmtpd): checks the envelope, spools, answers.

A message is answered `250` only after it is in the spool (fsync'd, see mail_gateway/spool.py);
filing happens afterwards in the processor thread. The envelope checks here are cheap and
certain: the sender list (`550 5.7.1`, or accepted and quarantined later, per setting), the
recipient addresses (`550 5.1.1`) and the size (`552 5.3.4`, advertised as SIZE). Everything
about the content (headers, MIME, attachments) is the parser's job after the `250`, so that bad
content is quarantined with a reason instead of bounced into nowhere.

Optional STARTTLS (`[mail] tls_cert`/`tls_key`, `require_tls`) and SMTP AUTH (PLAIN/LOGIN) with
the users of `dms users` or an API token as the password (`documents:write` needed).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
import time
from datetime import UTC, datetime
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
from aiosmtpd.smtp import Envelope as SmtpEnvelope
from aiosmtpd.smtp import Session as SmtpSession

from dms.app.services import Services
from dms.identity import credentials
from dms.identity.repository import IdentityRepository, utcnow
from dms.identity.roles import DOCUMENTS_WRITE, ROLES, grants
from mail_gateway.model import Envelope
from mail_gateway.processor import MailProcessor
from mail_gateway.settings import MailSettings
from mail_gateway.spool import Spool

log = logging.getLogger(__name__)

MAX_RECIPIENTS = 100
# Longest line read at once (DATA and commands). RFC 5321 says 1000, but mail with longer lines
# exists; up to this it is accepted and the parser judges it (header limits → quarantine).
LINE_LIMIT = 1024 * 1024

# aiosmtpd's own English replies that users see, in German with the enhanced status codes.
REPLIES = {
    "552 Error: message size exceeds fixed maximum message size": "552 5.3.4 Die Nachricht ist zu groß",
    "552 Error: Too much mail data": "552 5.3.4 Die Nachricht ist zu groß",
    "530 5.7.0 Authentication required": "530 5.7.0 Anmeldung erforderlich (SMTP AUTH)",
    "530 Must issue a STARTTLS command first": "530 5.7.0 Erst STARTTLS, dann weiter",
    "535 5.7.8 Authentication credentials invalid": "535 5.7.8 Benutzername oder Passwort falsch",
    "538 5.7.11 Encryption required for requested authentication mechanism":
        "538 5.7.11 Anmeldung nur über eine verschlüsselte Verbindung (STARTTLS)",
    "500 Line too long (see RFC5321 4.5.3.1.6)": "500 5.5.2 Zeile zu lang",
}


def _address(value: str) -> str:
    return value.strip().strip("<>").strip().lower()


def recipient_accepted(address: str, mail: MailSettings) -> bool:
    """Whether mail to `address` can be filed: a configured domain (any when none is set) and
    `<local_part>` / `<local_part><separator>…` or a general address."""
    local, at, domain = _address(address).rpartition("@")
    if not at or not local or not domain:
        return False
    if mail.domains and domain not in mail.domains:
        return False
    if local == mail.local_part or local.startswith(mail.local_part + mail.separator):
        return True
    for general in mail.general_addresses:
        if ("@" in general and general == f"{local}@{domain}") or ("@" not in general and general == local):
            return True
    return False


class GatewaySMTP(SMTP):
    """aiosmtpd's server with German replies for the codes users see."""

    line_length_limit = LINE_LIMIT

    async def push(self, status: Any) -> None:
        if isinstance(status, str):
            status = REPLIES.get(status, status)
        await super().push(status)


class Authenticator:
    """SMTP AUTH against `dms users` (password) and API tokens (given as the password)."""

    def __init__(self, services: Services) -> None:
        self.repository = IdentityRepository.for_catalog(services.catalog)
        self.checker = credentials.PasswordChecker()

    def __call__(self, server: SMTP, session: SmtpSession, envelope: SmtpEnvelope, mechanism: str,
                 auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")[:64]
        password = auth_data.password.decode("utf-8", "replace")
        try:
            principal = self.verify(login, password)
        except Exception:  # noqa: BLE001 - a database hiccup: the client may retry
            log.exception("SMTP AUTH for %r failed with an error", login)
            return AuthResult(success=False, handled=False, message="454 4.7.0 Anmeldung gerade nicht möglich")
        if principal is None:
            log.warning("SMTP AUTH refused for %r from %s", login, session.peer)
            return AuthResult(success=False, handled=False)
        log.info("SMTP AUTH %s from %s", principal, session.peer)
        return AuthResult(success=True, auth_data=principal)

    def verify(self, login: str, password: str) -> str | None:
        """The authenticated name (`<user>` or `token:<name>`) when it may file documents."""
        token_id = credentials.token_id_of(password)
        if token_id:
            record = self.repository.token_record(token_id)
            if record is None or not credentials.token_matches(record[1], password):
                return None
            token = record[0]
            now = utcnow()
            if token.revoked_at is not None or (token.expires_at is not None and token.expires_at <= now):
                return None
            if not grants(frozenset(token.scopes), DOCUMENTS_WRITE):
                return None
            return f"token:{token.name}"
        record_user = self.repository.login_record(login)
        user, password_hash = record_user if record_user is not None else (None, None)
        usable = password_hash if user is not None and user.active else None
        if not self.checker.verify(usable, password) or user is None:
            return None  # an unknown user costs one argon2 check like a wrong password
        if not grants(ROLES.get(user.role, frozenset()), DOCUMENTS_WRITE):
            return None
        return user.username


class GatewayHandler:
    """aiosmtpd handler hooks: envelope checks, then spool + notify the processor."""

    def __init__(self, mail: MailSettings, spool: Spool, processor: MailProcessor | None) -> None:
        self.mail, self.spool, self.processor = mail, spool, processor
        self.in_flight = 0  # DATA being written to the spool (a graceful stop waits for them)
        self._lock = threading.Lock()

    async def handle_MAIL(self, server: SMTP, session: SmtpSession, envelope: SmtpEnvelope, address: str,
                          mail_options: list[str]) -> str:
        sender = _address(address)
        if not self.mail.sender_allowed(sender) and self.mail.disallowed_sender_action == "refuse":
            log.warning("refused sender %r from %s", sender, session.peer)
            return f"550 5.7.1 Absender {sender or '<>'} ist hier nicht zugelassen"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server: SMTP, session: SmtpSession, envelope: SmtpEnvelope, address: str,
                          rcpt_options: list[str]) -> str:
        if not recipient_accepted(address, self.mail):
            log.info("refused recipient %r from %s", address, session.peer)
            return f"550 5.1.1 Empfänger {address[:200]} ist hier unbekannt"
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Zu viele Empfänger"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: SmtpEnvelope) -> str:
        raw = envelope.original_content
        if raw is None:
            raw = envelope.content if isinstance(envelope.content, bytes) else b""
        record = Envelope(
            mail_from=_address(envelope.mail_from or ""),
            rcpt_tos=tuple(_address(r) for r in envelope.rcpt_tos),
            received_at=datetime.now(UTC),
            via="smtp",
            peer=str(session.peer[0]) if isinstance(session.peer, tuple) else session.peer,
            helo=(session.host_name or "")[:255] or None,
            tls=session.ssl is not None,
            auth_user=session.auth_data if session.authenticated and isinstance(session.auth_data, str) else None,
        )
        with self._lock:
            self.in_flight += 1
        try:
            entry_id = await asyncio.get_running_loop().run_in_executor(None, self.spool.put, bytes(raw), record)
        except Exception:  # noqa: BLE001 - disk full, permissions: the client keeps it and retries
            log.exception("could not spool a message from %s", session.peer)
            return "451 4.3.0 Die Nachricht konnte nicht gespeichert werden; bitte später erneut senden"
        finally:
            with self._lock:
                self.in_flight -= 1
        log.info("accepted %s: %d bytes from %s for %s (peer %s, tls %s, auth %s)", entry_id, len(raw),
                 record.mail_from or "<>", ",".join(record.rcpt_tos), record.peer, record.tls, record.auth_user)
        if self.processor is not None:
            self.processor.notify()
        return f"250 2.0.0 OK: angenommen als {entry_id}"


def tls_context(mail: MailSettings) -> ssl.SSLContext | None:
    """The STARTTLS context from `[mail] tls_cert`/`tls_key`, None when no certificate is set."""
    if not mail.tls_cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(mail.tls_cert, mail.tls_key or None)
    return context


class GatewayController(Controller):
    def factory(self) -> SMTP:
        return GatewaySMTP(self.handler, **self.SMTP_kwargs)


class SmtpGateway:
    """The listener: `start()` binds host:port, `stop()` stops taking mail (waits for spooling)."""

    def __init__(self, services: Services, mail: MailSettings, spool: Spool, processor: MailProcessor | None,
                 host: str, port: int) -> None:
        self.mail, self.host, self.port = mail, host, port
        self.handler = GatewayHandler(mail, spool, processor)
        context = tls_context(mail)
        if mail.require_tls and context is None:
            raise ValueError("[mail] require_tls braucht tls_cert und tls_key.")
        self.controller = GatewayController(
            self.handler, hostname=host, port=port, server_hostname=socket.gethostname(),
            data_size_limit=mail.max_message_bytes, enable_SMTPUTF8=True, decode_data=False,
            tls_context=context, require_starttls=bool(context and mail.require_tls),
            auth_required=mail.auth_required, auth_require_tls=mail.auth_require_tls,
            authenticator=Authenticator(services), timeout=300, ready_timeout=30,
        )

    def start(self) -> None:
        self.controller.start()

    def stop(self, grace: float = 30.0) -> None:
        """Close the listener, let messages being spooled finish (up to `grace` s), then end."""
        server = self.controller.server
        if server is not None:
            self.controller.loop.call_soon_threadsafe(server.close)
        deadline = time.monotonic() + grace
        while self.handler.in_flight and time.monotonic() < deadline:
            time.sleep(0.05)
        self.controller.stop(no_assert=True)
