"""A small IMAP client over imaplib: connect (IMAPS, STARTTLS or plain on loopback), log in
(password or XOAUTH2 bearer token), create folders, list/fetch/move messages by UID."""

from __future__ import annotations

import base64
import contextlib
import imaplib
import logging
import re
import ssl
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from dms.errors import DmsError
from mail_gateway.settings import LOOPBACK_HOSTS, ImapSettings

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 60.0
_LIST_LINE = re.compile(rb'^\((?P<flags>[^)]*)\) (?:"(?P<delim>[^"]*)"|NIL) ')


class MailboxError(DmsError):
    """The IMAP mailbox could not be read or changed (connection, login, folder, command)."""

    code = "mailbox_error"
    http_status = 502


def encode_mailbox(name: str) -> str:
    """A mailbox name in IMAP's modified UTF-7 (RFC 3501 5.1.3), quoted for a command."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            data = base64.b64encode("".join(pending).encode("utf-16-be")).decode("ascii")
            out.append("&" + data.rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return '"' + "".join(out).replace("\\", "\\\\").replace('"', '\\"') + '"'


class Mailbox:
    """A logged-in IMAP connection (imaplib) with the few commands the poller needs."""

    def __init__(self, cfg: ImapSettings) -> None:
        self.cfg = cfg
        self.client = self._connect(cfg)
        self._login(cfg)
        try:
            typ, data = self.client.capability()  # after login: the list may differ from the greeting's
            self.capabilities = set(data[0].decode("ascii", "replace").upper().split()) if typ == "OK" else set()
            self.delimiter = self._delimiter()
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _connect(cfg: ImapSettings) -> imaplib.IMAP4:
        if cfg.security == "none" and cfg.host not in LOOPBACK_HOSTS:
            raise MailboxError(f"IMAP ohne Verschlüsselung ist nur auf loopback erlaubt, nicht zu {cfg.host}.")
        try:
            context = ssl.create_default_context(cafile=cfg.ca_file or None)
        except (OSError, ssl.SSLError) as exc:
            raise MailboxError(f"CA-Datei {cfg.ca_file!r} nicht lesbar: {exc}") from exc
        try:
            if cfg.security == "ssl":
                return imaplib.IMAP4_SSL(cfg.host, cfg.port, ssl_context=context, timeout=TIMEOUT_SECONDS)
            client = imaplib.IMAP4(cfg.host, cfg.port, timeout=TIMEOUT_SECONDS)
            if cfg.security == "starttls":
                try:
                    client.starttls(ssl_context=context)
                except BaseException:
                    with contextlib.suppress(Exception):
                        client.shutdown()
                    raise
            return client
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxError(f"IMAP-Server {cfg.host}:{cfg.port} ({cfg.security}) nicht erreichbar: {exc}") from exc

    def _login(self, cfg: ImapSettings) -> None:
        try:
            if cfg.auth == "xoauth2":
                if not cfg.token:
                    raise MailboxError("Für XOAUTH2 fehlt das Token (Umgebungsvariable aus [mail.imap] token_env).")
                initial = f"user={cfg.username}\x01auth=Bearer {cfg.token}\x01\x01".encode()
                sent: list[bool] = []

                def respond(_challenge: bytes) -> bytes:
                    # after a refusal the server sends an error challenge; the answer is empty
                    answer = b"" if sent else initial
                    sent.append(True)
                    return answer

                self.client.authenticate("XOAUTH2", respond)
            else:
                if not cfg.password:
                    raise MailboxError("Das IMAP-Passwort fehlt (Umgebungsvariable aus [mail.imap] password_env).")
                self.client.login(cfg.username, cfg.password)
        except MailboxError:
            self.close()
            raise
        except (OSError, imaplib.IMAP4.error) as exc:
            self.close()
            raise MailboxError(f"IMAP-Anmeldung als {cfg.username} ({cfg.auth}) fehlgeschlagen: {exc}") from exc

    def _command(self, what: str, typ: str, data: list[Any]) -> list[Any]:
        if typ != "OK":
            detail = b" ".join(d for d in data if isinstance(d, bytes)).decode("utf-8", "replace")
            raise MailboxError(f"IMAP {what} fehlgeschlagen: {typ} {detail}")
        return data

    def _delimiter(self) -> str:
        data = self._command("LIST", *self.client.list('""', '""'))
        match = _LIST_LINE.match(data[0]) if data and isinstance(data[0], bytes) else None
        return match.group("delim").decode() if match and match.group("delim") else "/"

    def folder(self, name: str) -> str:
        """The configured folder name ("a/b") with the server's hierarchy delimiter, encoded."""
        return encode_mailbox(name.replace("/", self.delimiter))

    def ensure_folder(self, name: str) -> str:
        """Create (and subscribe) the folder when missing; returns its encoded name."""
        encoded = self.folder(name)
        listed = self._command("LIST", *self.client.list('""', encoded))
        if not any(isinstance(line, bytes) and line for line in listed):
            self._command(f"CREATE {name}", *self.client.create(encoded))
            with contextlib.suppress(imaplib.IMAP4.error):
                self.client.subscribe(encoded)
            log.info("IMAP folder %s created", name)
        return encoded

    def select(self, name: str) -> str:
        """Open the mailbox read-write; returns its UIDVALIDITY."""
        self._command(f"SELECT {name}", *self.client.select(encode_mailbox(name)))
        _, data = self.client.response("UIDVALIDITY")
        if not data or data[0] is None:
            raise MailboxError(f"IMAP-Server nennt keine UIDVALIDITY für {name}.")
        return data[0].decode("ascii")

    def uids(self) -> list[str]:
        """Every mail of the selected mailbox (read or not) except those marked for deletion."""
        data = self._command("UID SEARCH", *self.client.uid("SEARCH", "UNDELETED"))
        return [uid.decode("ascii") for uid in (data[0] or b"").split()]

    def info(self, uid: str) -> tuple[int, datetime] | None:
        """(size, internal date) of one mail, None when it is gone."""
        data = self._command("UID FETCH", *self.client.uid("FETCH", uid, "(RFC822.SIZE INTERNALDATE)"))
        for item in data:
            line = item[0] if isinstance(item, tuple) else item
            if not isinstance(line, bytes) or b"RFC822.SIZE" not in line:
                continue
            size = re.search(rb"RFC822\.SIZE (\d+)", line)
            stamp = imaplib.Internaldate2tuple(line)
            received = datetime.fromtimestamp(time.mktime(stamp), UTC) if stamp else datetime.now(UTC)
            return (int(size.group(1)) if size else 0), received
        return None

    def fetch(self, uid: str) -> bytes | None:
        """The whole message byte for byte, without setting \\Seen; None when it is gone."""
        data = self._command("UID FETCH", *self.client.uid("FETCH", uid, "(BODY.PEEK[])"))
        for item in data:
            if isinstance(item, tuple) and b"BODY[]" in item[0]:
                return bytes(item[1])
        return None

    def move(self, uid: str, folder: str) -> None:
        """UID MOVE, or COPY + \\Deleted + (UID) EXPUNGE where MOVE is not offered.
        A UID that is no longer there (moved by an earlier run) is a no-op."""
        if "MOVE" in self.capabilities:
            self._command("UID MOVE", *self.client.uid("MOVE", uid, folder))
            return
        self._command("UID COPY", *self.client.uid("COPY", uid, folder))
        self._command("UID STORE", *self.client.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)"))
        if "UIDPLUS" in self.capabilities:
            self._command("UID EXPUNGE", *self.client.uid("EXPUNGE", uid))
        else:
            self._command("EXPUNGE", *self.client.expunge())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.logout()


@contextlib.contextmanager
def open_mailbox(cfg: ImapSettings) -> Iterator[Mailbox]:
    box = Mailbox(cfg)
    try:
        yield box
    finally:
        box.close()
