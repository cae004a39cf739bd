"""Hot folder (`dms watch DIR`): files dropped into a folder are filed like uploads.

An entry point like the API and the CLI: it reads a file, calls the upload use case
(`dms.app.intake.receive_document`, source `hotfolder`) and reports. Layout of DIR:

- `DIR/<customer number>/…` (any depth below): filed into that customer's file;
- `DIR/<file>`: the classifiers decide (customer number in the text, else the review inbox);
- `DIR/done/…`: files the DMS has stored (same relative path); a duplicate gets a
  `<name>.reason.txt` naming the document it duplicates;
- `DIR/failed/…`: files the DMS refused (unknown customer folder, too large, …), each with a
  `<name>.reason.txt` saying why. Nothing in `done/` or `failed/` is looked at again.

`done/` means "the DMS has it", whatever the pipeline makes of it afterwards: a corrupt PDF is
stored (the original is kept, the document ends `failed` with the reason in the API and the
review inbox) and its file goes to `done/`. So a file in `failed/` is always one that is *not*
in the DMS and may be dropped in again after fixing the cause.

A file is taken only once it stopped growing: its size and modification time must be the same
at two polls in a row. It is moved only after `receive_document` returned, i.e. after the original
and its sidecar are stored and the catalog has the document; nothing is ever deleted. If the
process dies in between, the file is still there and is taken again (then a duplicate: `done/`).
While a backend is unavailable files stay where they are and are tried again at the next poll.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from dms.app.intake import Upload, receive_document
from dms.app.principal import CUSTOMERS_ALL_BRANCHES, DOCUMENTS_WRITE, Principal
from dms.app.services import Services
from dms.domain import Source
from dms.errors import BackendUnavailable, DmsError, DuplicateDocument, PayloadTooLarge

log = logging.getLogger(__name__)

# The hot folder acts as its own principal (audited as "hotfolder"); it may only upload.
# the hot folder files for every branch (branch scoping, dms/app/branches.py)
HOTFOLDER = Principal("hotfolder", frozenset({DOCUMENTS_WRITE, CUSTOMERS_ALL_BRANCHES}))
DONE, FAILED = "done", "failed"
REASON_SUFFIX = ".reason.txt"
# Files still being written by common tools, and desktop clutter: never taken.
IGNORED_SUFFIXES = (".part", ".partial", ".tmp", ".crdownload", ".download")
IGNORED_NAMES = frozenset({"thumbs.db", "desktop.ini"})


@dataclass(frozen=True)
class Outcome:
    """What happened to one file: `filed`, `duplicate` (both moved to done/) or `failed`."""

    path: str  # relative to the hot folder, as dropped
    result: str
    message: str
    document_id: str | None = None
    moved_to: str | None = None


def _ignored(name: str) -> bool:
    lower = name.lower()
    return (
        name.startswith((".", "~$")) or lower in IGNORED_NAMES or lower.endswith(IGNORED_SUFFIXES)
        or lower.endswith(REASON_SUFFIX)
    )


class HotFolder:
    def __init__(self, services: Services, root: Path, principal: Principal = HOTFOLDER) -> None:
        self.services = services
        self.root = root
        self.principal = principal
        self._seen: dict[Path, tuple[int, int]] = {}

    # --- finding files ------------------------------------------------------------------------

    def _files(self) -> Iterator[Path]:
        for top, dirs, names in os.walk(self.root):
            here = Path(top)
            skip = {DONE, FAILED} if here == self.root else set()
            dirs[:] = sorted(d for d in dirs if d not in skip and not _ignored(d))
            for name in sorted(names):
                path = here / name
                if not _ignored(name) and path.is_file() and not path.is_symlink():
                    yield path

    def _observe(self) -> dict[Path, tuple[int, int]]:
        seen: dict[Path, tuple[int, int]] = {}
        for path in self._files():
            try:
                stat = path.stat()
            except OSError:
                continue  # gone meanwhile
            seen[path] = (stat.st_size, stat.st_mtime_ns)
        return seen

    def poll(self) -> list[Outcome]:
        """One poll: file what has not changed since the previous poll; remember the rest."""
        current = self._observe()
        stable = sorted(p for p, state in current.items() if self._seen.get(p) == state)
        self._seen = current
        outcomes = []
        for path in stable:
            outcome = self.take(path, current[path])
            if outcome is not None:
                self._seen.pop(path, None)
                outcomes.append(outcome)
        return outcomes

    # --- filing one file ----------------------------------------------------------------------

    def _customer(self, rel: Path) -> str | None:
        return rel.parts[0] if len(rel.parts) > 1 else None

    def take(self, path: Path, state: tuple[int, int]) -> Outcome | None:
        """File one stable file and move it; None when it must wait (changed, unreadable, backend down)."""
        rel = path.relative_to(self.root)
        limit = self.services.settings.max_upload_bytes
        if state[0] > limit:  # refused without reading it into memory
            error = PayloadTooLarge(f"Die Datei ist {state[0] // 1048576} MB groß; erlaubt sind {limit // 1048576} MB.")
            return self._failed(path, rel, f"{error.message} [{error.code}]")
        try:
            data = path.read_bytes()
            after = path.stat()
        except OSError as exc:
            log.warning("hot folder: %s not readable yet: %s", rel, exc)
            return None
        if (after.st_size, after.st_mtime_ns) != state or len(data) != state[0]:
            return None  # written to while we read it: wait for it to settle
        upload = Upload(data, path.name, customer_number=self._customer(rel), source=Source.HOTFOLDER)
        try:
            document = receive_document(self.services, self.principal, upload)
        except DuplicateDocument as exc:
            note = (f"Duplikat: diese Datei ist bereits abgelegt (Dokument {exc.details.get('document_id')}, "
                    f"Version {exc.details.get('version')}). Nicht erneut gespeichert.")
            moved = self._move(path, rel, DONE, note)
            return Outcome(str(rel), "duplicate", note, str(exc.details.get("document_id")), moved)
        except BackendUnavailable as exc:
            log.warning("hot folder: %s waits, a backend is unavailable: %s", rel, exc.message)
            return None
        except DmsError as exc:
            return self._failed(path, rel, f"{exc.message} [{exc.code}]")
        except Exception as exc:  # noqa: BLE001 - a bug must not stop the watcher; the file is kept in failed/
            log.exception("hot folder: %s", rel)
            return self._failed(path, rel, f"Interner Fehler: {exc!r} [internal_error]")
        message = f"abgelegt als Dokument {document.id}"
        return Outcome(str(rel), "filed", message, document.id, self._move(path, rel, DONE, None))

    def _failed(self, path: Path, rel: Path, reason: str) -> Outcome:
        return Outcome(str(rel), "failed", reason, None, self._move(path, rel, FAILED, reason))

    def _move(self, path: Path, rel: Path, where: str, note: str | None) -> str:
        """Move to `where/<rel>` (a free name: `x (2).pdf` if taken), the note next to it."""
        target = self.root / where / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        number = 2
        while target.exists() or target.with_name(target.name + REASON_SUFFIX).exists():
            target = target.with_name(f"{rel.stem} ({number}){rel.suffix}")
            number += 1
        if note is not None:
            target.with_name(target.name + REASON_SUFFIX).write_text(note + "\n", encoding="utf-8")
        shutil.move(path, target)  # a rename within DIR; copy + remove only across file systems
        return str(target.relative_to(self.root))


def watch(
    folder: HotFolder,
    *,
    interval: float,
    once: bool,
    wait: Callable[[float], bool],
    report: Callable[[Outcome], None],
) -> list[Outcome]:
    """Poll until `wait(interval)` returns True (stopped); `once`: two polls (to see what is stable), then stop."""
    outcomes: list[Outcome] = []
    folder.poll()  # the first poll only observes
    while True:
        if wait(interval):
            return outcomes
        for outcome in folder.poll():
            report(outcome)
            outcomes.append(outcome)
        if once:
            return outcomes
