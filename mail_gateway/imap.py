"""IMAP polling: file every mail of one mailbox, then move it to the processed or failed folder.

`poll_once` is one run, shared by `dms mail-poll` and the periodic task of `dms worker --beat`.
Each mail goes the same way as one accepted over SMTP: fetch → spool (fsync'd) → file → move →
spool done. A run first finishes what an earlier run left in its spool (a crash, a backend that
was down), so a mail is never lost; filing is idempotent per message (`filing.file_message`
dedupes by Message-ID or sender + date + attachment hashes), so a mail fetched again after a crash
between filing and moving is not filed twice. When a backend is down the mail stays in the inbox
(and in the spool) and the run stops; the next run retries.
"""

from __future__ import annotations

import imaplib
import logging
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses
from typing import Any, Protocol

from dms.app.services import Services
from dms.errors import BackendUnavailable, DmsError
from mail_gateway.imap_client import Mailbox, MailboxError, open_mailbox
from mail_gateway.model import INTERNAL_ERROR, TOO_LARGE, Envelope, MailOutcome
from mail_gateway.settings import ImapSettings, MailSettings
from mail_gateway.spool import Spool

log = logging.getLogger(__name__)

__all__ = ["MailboxError", "PollReport", "envelope_for", "imap_spool", "poll_once"]

RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Cc")
_ADDRESS = re.compile(r"^[^\s@<>\"]+@[^\s@<>\"]+$")


class StopSignal(Protocol):
    def is_set(self) -> bool: ...


@dataclass
class PollReport:
    """What one run did (German summary in `summary()`)."""

    mailbox: str
    fetched: int = 0  # mails read from the mailbox in this run
    recovered: int = 0  # spool entries of an earlier run finished in this run
    filed: int = 0
    duplicates: int = 0
    quarantined: int = 0  # moved to the failed folder
    kept: int = 0  # left in the mailbox (backend unavailable)
    backend_unavailable: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.backend_unavailable and not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}

    def summary(self) -> str:
        text = (f"IMAP {self.mailbox}: {self.fetched} gelesen, {self.filed} abgelegt, "
                f"{self.duplicates} Duplikate, {self.quarantined} in Quarantäne")
        if self.recovered:
            text += f", {self.recovered} aus dem Spool nachgeholt"
        if self.backend_unavailable:
            text += f"; Backend nicht erreichbar, {self.kept} bleiben im Postfach"
        return text


def imap_spool(mail: MailSettings) -> Spool:
    """The poller's own spool (a sub-folder: the SMTP gateway's processor never takes its entries)."""
    return Spool(mail.spool_dir / "imap")


# --- one run ----------------------------------------------------------------------------------


def _addresses(values: list[Any]) -> list[str]:
    found: list[str] = []
    try:
        pairs = getaddresses([str(v) for v in values])
    except Exception:  # noqa: BLE001 - a header too broken to read names no address
        return found
    for _, address in pairs:
        address = address.strip().lower()
        if _ADDRESS.match(address) and address not in found:
            found.append(address)
    return found


def envelope_for(raw: bytes, cfg: ImapSettings, imap_ref: str, received_at: datetime) -> Envelope:
    """The envelope of a mailbox message: From as sender, the recipient headers as recipients
    (Delivered-To/X-Original-To first: they carry the `akte+<nr>@…` address the mail was sent to)."""
    try:
        headers = BytesHeaderParser(policy=compat32).parsebytes(raw)
        sender = _addresses(headers.get_all("From", []))
        recipients: list[str] = []
        for name in RECIPIENT_HEADERS:
            recipients += [a for a in _addresses(headers.get_all(name, [])) if a not in recipients]
    except Exception:  # noqa: BLE001 - the parser quarantines what cannot be read
        sender, recipients = [], []
    return Envelope(
        mail_from=sender[0] if sender else "", rcpt_tos=tuple(recipients), received_at=received_at,
        via="imap", peer=f"{cfg.host}:{cfg.port}", tls=cfg.security != "none", auth_user=cfg.username,
        imap_ref=imap_ref,
    )


def _file(services: Services, raw: bytes, envelope: Envelope, mail: MailSettings) -> MailOutcome:
    """File one message; an unforeseen error quarantines it (internal_error), never loses it.
    BackendUnavailable passes through (the caller keeps the mail)."""
    from mail_gateway import filing

    try:
        return filing.file_message(services, raw, envelope, mail)
    except BackendUnavailable:
        raise
    except Exception as exc:
        log.exception("IMAP %s: filing failed; quarantined as %s", envelope.imap_ref, INTERNAL_ERROR)
        reason = f"Interner Fehler beim Ablegen: {type(exc).__name__}: {str(exc)[:500]}"
        try:
            return filing.quarantine_raw(services, raw, envelope, INTERNAL_ERROR, reason)
        except BackendUnavailable:
            raise
        except Exception as inner:  # keep the mail (spool + mailbox); the next run tries again
            raise BackendUnavailable(f"Quarantäne nicht möglich: {type(inner).__name__}: {inner}") from inner


def _quarantined(services: Services, outcome: MailOutcome) -> bool:
    """Quarantined now, or a duplicate of a mail that is in the quarantine."""
    if outcome.status == "quarantined":
        return True
    if outcome.status == "duplicate" and outcome.mail_id:
        try:
            return services.catalog.mail.get(outcome.mail_id).status == "quarantined"
        except DmsError:
            return False
    return False


class _Run:
    def __init__(self, services: Services, mail: MailSettings, box: Mailbox, spool: Spool, report: PollReport):
        self.services, self.mail, self.box, self.spool, self.report = services, mail, box, spool, report
        cfg = mail.imap
        self.uidvalidity = box.select(cfg.mailbox)
        self.processed = box.ensure_folder(cfg.processed_folder)
        self.failed = box.ensure_folder(cfg.failed_folder)

    def finish(self, entry_id: str, raw: bytes, envelope: Envelope) -> bool:
        """File a spooled mail, move it, drop the spool entry. False: a backend is down (kept)."""
        try:
            outcome = _file(self.services, raw, envelope, self.mail)
        except BackendUnavailable as exc:
            log.warning("IMAP %s kept in the mailbox: %s", envelope.imap_ref, exc)
            self.report.backend_unavailable = True
            self.report.kept += 1
            return False
        failed = _quarantined(self.services, outcome)
        self._move(envelope.imap_ref or "", self.failed if failed else self.processed)
        self.spool.done(entry_id)
        if failed:
            self.report.quarantined += 1
        elif outcome.status == "duplicate":
            self.report.duplicates += 1
        else:
            self.report.filed += 1
        log.info("IMAP %s: %s (mail %s)%s", envelope.imap_ref, outcome.status, outcome.mail_id,
                 f" {outcome.code}: {outcome.reason}" if outcome.reason else "")
        return True

    def _move(self, imap_ref: str, folder: str) -> None:
        mailbox, validity, uid = (imap_ref.rsplit(":", 2) + ["", "", ""])[:3]
        if mailbox != self.mail.imap.mailbox or validity != self.uidvalidity or not uid:
            # another mailbox or its UIDs were reset: a copy still there is fetched again and
            # recognised as a duplicate, then moved
            log.warning("IMAP %s: not in the current mailbox %s:%s, not moved", imap_ref,
                        self.mail.imap.mailbox, self.uidvalidity)
            return
        self.box.move(uid, folder)

    def too_large(self, uid: str, size: int) -> None:
        message = (f"Mail UID {uid} ist mit {size / 1048576:.1f} MB größer als erlaubt "
                   f"({self.mail.max_message_bytes / 1048576:.0f} MB, {TOO_LARGE}); in den Fehlerordner verschoben.")
        log.warning(message)
        self.box.move(uid, self.failed)
        self.report.errors.append(message)
        self.report.quarantined += 1


def poll_once(services: Services, mail: MailSettings, *, stop: StopSignal | None = None) -> PollReport:
    """Read the configured mailbox once: file each mail, move it to the processed or failed folder.

    Raises MailboxError when the mailbox cannot be used (nothing is lost: what was fetched stays in
    the spool and the mailbox, the next run finishes it). A backend that is down ends the run early
    with `report.backend_unavailable` set.
    """
    cfg = mail.imap
    if not cfg.configured:
        raise MailboxError("Kein IMAP-Postfach konfiguriert ([mail.imap] host und username).")
    spool = imap_spool(mail)
    report = PollReport(mailbox=cfg.mailbox)
    try:
        with open_mailbox(cfg) as box:
            run = _Run(services, mail, box, spool, report)
            for entry in spool.pending():  # what an earlier run fetched but did not finish
                if stop is not None and stop.is_set():
                    return report
                if not run.finish(entry.id, entry.read(), entry.envelope):
                    return report
                report.recovered += 1
            for uid in box.uids():
                if stop is not None and stop.is_set():
                    break
                info = box.info(uid)
                if info is None:
                    continue  # expunged meanwhile
                size, received = info
                if size > mail.max_message_bytes:
                    run.too_large(uid, size)
                    continue
                raw = box.fetch(uid)
                if raw is None:
                    continue
                report.fetched += 1
                envelope = envelope_for(raw, cfg, f"{cfg.mailbox}:{run.uidvalidity}:{uid}", received)
                try:
                    entry_id = spool.put(raw, envelope)
                except OSError as exc:
                    report.errors.append(f"Spool {spool.root} nicht beschreibbar: {exc}; Mail bleibt im Postfach.")
                    break
                if not run.finish(entry_id, raw, envelope):
                    break
    except (OSError, imaplib.IMAP4.error) as exc:  # connection lost mid-run, protocol error
        raise MailboxError(f"IMAP-Fehler bei {cfg.host}: {exc}") from exc
    return report
