"""The durable spool: every accepted message is written here (fsync'd) before the SMTP `250`.

An entry is two files, `<id>.eml` (the raw message, byte for byte) and `<id>.json` (the
envelope). Each is written as `*.tmp`, fsync'd and renamed, then the directory is fsync'd, so
after a crash an entry is either complete or absent (a stray `.tmp` is removed by `pending`).
Ids sort by arrival time (`<time_ns>-<random>`), so `pending()` is oldest first.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from mail_gateway.model import Envelope

log = logging.getLogger(__name__)

EML, META, TMP = ".eml", ".json", ".tmp"
STALE_TMP_SECONDS = 3600  # a .tmp this old is left over from a crash (a live write takes seconds)


@dataclass(frozen=True)
class SpoolEntry:
    id: str
    envelope: Envelope
    path: Path  # the .eml file

    def read(self) -> bytes:
        return self.path.read_bytes()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durably(path: Path, data: bytes) -> Path:
    """Write `<path>.tmp` and fsync it; the caller renames it into place."""
    tmp = path.with_name(path.name + TMP)
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return tmp


class Spool:
    """A directory of accepted messages waiting to be filed."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def new_id() -> str:
        return f"{time.time_ns():020d}-{secrets.token_hex(6)}"

    def put(self, raw: bytes, envelope: Envelope) -> str:
        """Store one message durably; returns its id. Raises OSError when it cannot be written."""
        entry_id = self.new_id()
        eml, meta = self.root / (entry_id + EML), self.root / (entry_id + META)
        tmp_eml = tmp_meta = None
        try:
            tmp_eml = _write_durably(eml, raw)
            tmp_meta = _write_durably(meta, json.dumps(envelope.to_dict(), ensure_ascii=False).encode("utf-8"))
            # the .eml first: an .eml without its .json is not yet an entry (see pending)
            os.replace(tmp_eml, eml)
            os.replace(tmp_meta, meta)
            _fsync_dir(self.root)
        except BaseException:
            for leftover in (tmp_eml, tmp_meta, eml, meta):
                if leftover is not None:
                    leftover.unlink(missing_ok=True)
            raise
        return entry_id

    def pending(self) -> list[SpoolEntry]:
        """Complete entries, oldest first. Removes stale temporary files left by a crash."""
        entries: list[SpoolEntry] = []
        now = time.time()
        for path in sorted(self.root.iterdir()):
            name = path.name
            if name.endswith(TMP):
                self._remove_stale(path, now)
                continue
            if not name.endswith(META):
                continue
            entry_id = name[: -len(META)]
            eml = self.root / (entry_id + EML)
            if not eml.exists():
                log.error("spool entry %s has no message file; its envelope is kept for inspection", entry_id)
                continue
            try:
                envelope = Envelope.from_dict(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError, KeyError) as exc:
                log.error("spool entry %s: envelope unreadable (%s); filed with a minimal envelope", entry_id, exc)
                envelope = self._fallback_envelope(eml)
            entries.append(SpoolEntry(entry_id, envelope, eml))
        return entries

    def recover(self) -> int:
        """Remove what a crash left half-written: `.tmp` files and message files without an
        envelope (never acknowledged with `250`, or already filed when `done` was cut short).
        Call only while nothing writes to the spool (at start, before the listener)."""
        removed = 0
        for path in self.root.iterdir():
            orphan = path.name.endswith(EML) and not (self.root / (path.name[: -len(EML)] + META)).exists()
            if path.name.endswith(TMP) or orphan:
                path.unlink(missing_ok=True)
                removed += 1
        if removed:
            _fsync_dir(self.root)
            log.info("spool: removed %d half-written files left by a crash", removed)
        return removed

    def count(self) -> int:
        """How many entries wait to be filed (the backlog)."""
        if not self.root.exists():
            return 0
        return sum(1 for p in self.root.iterdir() if p.name.endswith(META))

    def done(self, entry_id: str) -> None:
        """Remove a filed (or quarantined) entry: the envelope first, so a crash between leaves
        an orphan message file (kept, logged), never an entry that would be filed again wrongly."""
        (self.root / (entry_id + META)).unlink(missing_ok=True)
        (self.root / (entry_id + EML)).unlink(missing_ok=True)
        _fsync_dir(self.root)

    @staticmethod
    def _fallback_envelope(eml: Path) -> Envelope:
        from datetime import UTC, datetime

        received = datetime.fromtimestamp(eml.stat().st_mtime, UTC)
        return Envelope(mail_from="", rcpt_tos=(), received_at=received, via="smtp")

    @staticmethod
    def _remove_stale(path: Path, now: float) -> None:
        try:
            if now - path.stat().st_mtime > STALE_TMP_SECONDS:
                path.unlink(missing_ok=True)
        except OSError:
            pass
