"""Works off the spool: files each accepted message through `mail_gateway.filing.file_message`.

One thread per gateway process. It wakes when the SMTP handler has spooled a message (`notify`)
and every few seconds anyway; at start it first files what a previous run accepted but did not
file (a crash after the `250`). A message leaves the spool only when it is filed or quarantined:
a backend that is down keeps it (retried with back-off), and any other error quarantines it with
`internal_error`, so nothing accepted is lost and one bad message never stops the gateway.
"""

from __future__ import annotations

import logging
import threading
import time

from dms.app.services import Services
from dms.errors import BackendUnavailable
from mail_gateway.model import INTERNAL_ERROR
from mail_gateway.settings import MailSettings
from mail_gateway.spool import Spool, SpoolEntry

log = logging.getLogger(__name__)


class MailProcessor(threading.Thread):
    """Files spooled messages in arrival order until `stop()`."""

    def __init__(
        self, services: Services, mail: MailSettings, spool: Spool, *,
        idle_seconds: float = 5.0, max_backoff: float = 60.0,
    ) -> None:
        super().__init__(name="mail-processor", daemon=True)
        self.services, self.mail, self.spool = services, mail, spool
        self.idle_seconds, self.max_backoff = idle_seconds, max_backoff
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._backoff = 0.0
        self._retry_at = 0.0
        self.filed = 0  # messages taken off the spool (filed, duplicate or quarantined)

    def notify(self) -> None:
        """A new message is in the spool."""
        self._wake.set()

    def stop(self, timeout: float | None = None) -> None:
        """Finish the message being filed, then end the thread."""
        self._stopping.set()
        self._wake.set()
        if self.is_alive():
            self.join(timeout)

    def run(self) -> None:
        log.info("mail processor started (spool %s, %d waiting)", self.spool.root, self.spool.count())
        while not self._stopping.is_set():
            if time.monotonic() >= self._retry_at:
                try:
                    self.work_off()
                except Exception:  # never let the thread die: log, back off, go on
                    log.exception("mail processor: unexpected error while working off the spool")
                    self._back_off()
            wait = self.idle_seconds
            if self._retry_at:
                wait = max(0.05, min(wait, self._retry_at - time.monotonic()))
            self._wake.wait(wait)
            self._wake.clear()
        log.info("mail processor stopped")

    def work_off(self) -> int:
        """File every pending entry, oldest first; stops early when a backend is down."""
        count = 0
        for entry in self.spool.pending():
            if self._stopping.is_set():
                break
            if not self.process(entry):
                break  # a backend is down: the later entries would fail the same way
            count += 1
        return count

    def process(self, entry: SpoolEntry) -> bool:
        """File one entry. True when it left the spool, False when it is kept for a retry."""
        from mail_gateway import filing

        envelope = entry.envelope
        try:
            raw = entry.read()
        except OSError as exc:
            log.error("spool entry %s unreadable (%s); kept for a retry", entry.id, exc)
            self._back_off()
            return False
        try:
            outcome = filing.file_message(self.services, raw, envelope, self.mail)
        except BackendUnavailable as exc:
            log.warning("spool entry %s kept: backend unavailable (%s)", entry.id, exc)
            self._back_off()
            return False
        except Exception as exc:  # a bug or a message nobody foresaw: quarantine, never lose it
            log.exception("spool entry %s: filing failed; quarantined as %s", entry.id, INTERNAL_ERROR)
            reason = f"Interner Fehler beim Ablegen: {type(exc).__name__}: {str(exc)[:500]}"
            try:
                filing.quarantine_raw(self.services, raw, envelope, INTERNAL_ERROR, reason)
            except Exception as inner:  # noqa: BLE001 - keep the entry; retried after the back-off
                log.error("spool entry %s kept: quarantine failed too (%s)", entry.id, inner)
                self._back_off()
                return False
            self._done(entry)
            return True
        parts = ", ".join(f"{p.filename} → {p.document_id} ({p.outcome})" for p in outcome.parts)
        log.info(
            "spool entry %s: %s, mail %s from %s to %s%s%s", entry.id, outcome.status, outcome.mail_id,
            envelope.mail_from or "<>", ",".join(envelope.rcpt_tos),
            f"; {parts}" if parts else "", f"; {outcome.code}: {outcome.reason}" if outcome.reason else "",
        )
        self._done(entry)
        return True

    def _done(self, entry: SpoolEntry) -> None:
        self.spool.done(entry.id)
        self.filed += 1
        self._backoff = 0.0
        self._retry_at = 0.0

    def _back_off(self) -> None:
        self._backoff = min(self.max_backoff, max(1.0, self._backoff * 2))
        self._retry_at = time.monotonic() + self._backoff
