"""Safety checks of a mail before anything is filed: header sizes and injection, and attachments
that must never reach a customer file (executables, scripts, macro-enabled office files, also
inside zip archives). Every refusal is a `MailRejected` with a German message.

Archives are inspected without extracting them: the names come from the central directory (the
entry count is checked on the raw bytes first, so a directory of millions of entries is never
built), and only small entries are read, through a hard byte cap that ignores what the archive
claims about its sizes.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
from email.message import Message

import olefile

from ingest.extractors.containers import OLE_MAGIC, ZIP_MAGIC, central_entry_count, ole_directory_entries
from mail_gateway.model import DANGEROUS_ATTACHMENT, HEADER_INJECTION, HEADER_TOO_LARGE, MailRejected

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_CONTINUATION = re.compile(rb"\r?\n[ \t]")
_BARE_CR = re.compile(rb"\r(?!\n)")
_INJECTION = re.compile(r"[\r\n\x00]")
_BOUNDARY_VALUE = re.compile(rb'\s*=\s*(?:"([^"\r\n]{1,200})"|([^\s;"]{1,200}))')

# Content magic of executables and scripts.
_EXECUTABLE_MAGIC = (
    (b"\x7fELF", "ein Linux-Programm (ELF)"),
    (b"\xfe\xed\xfa\xce", "ein macOS-Programm (Mach-O)"),
    (b"\xfe\xed\xfa\xcf", "ein macOS-Programm (Mach-O)"),
    (b"\xce\xfa\xed\xfe", "ein macOS-Programm (Mach-O)"),
    (b"\xcf\xfa\xed\xfe", "ein macOS-Programm (Mach-O)"),
    (b"\xca\xfe\xba\xbe", "ein macOS-Programm (Mach-O) oder Java-Code"),
    (b"L\x00\x00\x00\x01\x14\x02\x00", "eine Windows-Verknüpfung (LNK)"),
    (b"#!/", "ein Skript"),
    (b"#! /", "ein Skript"),
)
_VBA_STORAGES = {"macros", "_vba_project_cur", "vba", "_vba_project"}
_MSI_CLSID = "000C1084-0000-0000-C000-000000000046"
_MAX_ZIP_ENTRIES = 10_000
_ENTRY_READ_CAP = 8 * 1024 * 1024  # bytes read of one zip entry (office files inside, for macros)
_ZIP_READ_BUDGET = 32 * 1024 * 1024  # bytes read of all entries of one zip together
_MAGIC_BYTES = 64


def check_header_block(raw: bytes, max_bytes: int, max_line: int, where: str = "der E-Mail") -> None:
    """Refuse an oversized header block or header line (checked on the raw bytes, before parsing)."""
    end = _HEADER_END.search(raw, 0, max_bytes + 4)
    block = raw[: end.start()] if end else raw[: max_bytes + 1]
    if end is None and len(raw) > max_bytes or len(block) > max_bytes:
        raise MailRejected(
            HEADER_TOO_LARGE,
            f"Die Kopfzeilen {where} sind zu groß (mehr als {max_bytes // 1024} KB).",
        )
    for line in _CONTINUATION.sub(b" ", block).splitlines():
        if len(line) > max_line:
            name = line.split(b":", 1)[0][:40].decode("ascii", "replace")
            raise MailRejected(
                HEADER_TOO_LARGE,
                f"Die Kopfzeile „{name}“ {where} ist zu lang (mehr als {max_line // 1024} KB).",
            )


def check_header_chars(raw: bytes) -> None:
    """Refuse bare CR or NUL inside the top-level header block (both used to smuggle extra header
    lines past other mail software)."""
    end = _HEADER_END.search(raw)
    block = raw[: end.start()] if end else raw
    if b"\x00" in block or _BARE_CR.search(block):
        raise MailRejected(
            HEADER_INJECTION,
            "Die Kopfzeilen der E-Mail enthalten unzulässige Steuerzeichen (NUL oder einzelnes CR).",
        )


def count_delimiters(raw: bytes, limit: int) -> int:
    """MIME delimiter lines ("--<boundary>") of the boundaries declared anywhere in the mail: an
    upper bound of its parts, counted on the raw bytes (C-speed searches) before the stdlib parser
    runs, which spends about a millisecond per part. Stops counting above `limit`."""
    lowered = raw.lower()
    boundaries: set[bytes] = set()
    position = lowered.find(b"boundary")
    for _ in range(1000):
        if position < 0:
            break
        match = _BOUNDARY_VALUE.match(raw, position + 8)
        if match:
            boundaries.add(match.group(1) or match.group(2))
        position = lowered.find(b"boundary", position + 8)
    count = max(0, len(boundaries) - 64)
    for boundary in list(boundaries)[:64]:
        count += raw.count(b"\n--" + boundary) + raw.startswith(b"--" + boundary)
        if count > limit:
            break
    return count


def check_part_headers(part: Message, max_bytes: int, max_line: int) -> None:
    """The same size limits for the headers of a MIME part (as parsed, folding joined)."""
    total = 0
    for key, value in part.raw_items():
        line = len(key) + 2 + len(str(value))
        total += line
        if line > max_line or total > max_bytes:
            raise MailRejected(
                HEADER_TOO_LARGE,
                f"Die Kopfzeile „{key[:40]}“ eines Teils der E-Mail ist zu lang "
                f"(höchstens {max_line // 1024} KB je Zeile, {max_bytes // 1024} KB insgesamt).",
            )


def check_value(label: str, value: str | None) -> None:
    """A decoded header value or file name must not contain CR, LF or NUL."""
    if value and _INJECTION.search(value):
        raise MailRejected(
            HEADER_INJECTION,
            f"Die Kopfzeile „{label}“ enthält nach dem Dekodieren Zeilenumbrüche oder Nullzeichen "
            "(Verdacht auf eingeschleuste Kopfzeilen).",
        )


def _extensions(name: str) -> list[str]:
    """The final extension of a name as written and as displayed (trailing dots/blanks ignored)."""
    stripped = name.strip().rstrip(". \u00a0\t")
    found = []
    for candidate in (name, stripped):
        base = candidate.replace("\\", "/").rsplit("/", 1)[-1]
        if "." in base:
            found.append(base.rsplit(".", 1)[1].strip().lower())
    return found


def blocked_extension(name: str, blocked: frozenset[str]) -> str | None:
    for ext in _extensions(name):
        if ext in blocked:
            return ext
    return None


def _is_pe(data: bytes) -> bool:
    """An MZ executable: a PE header where the DOS header points, or a binary DOS header."""
    if not data.startswith(b"MZ") or len(data) < 64:
        return False
    offset = struct.unpack_from("<I", data, 0x3C)[0]
    if offset + 4 <= len(data) and data[offset : offset + 4] == b"PE\x00\x00":
        return True
    return any(byte < 9 or 13 < byte < 32 for byte in data[2:64])  # not text that starts with "MZ"


def executable_kind(data: bytes) -> str | None:
    """What executable or script the bytes are, by content; None for anything else."""
    if _is_pe(data):
        return "ein Windows-Programm (MZ/PE)"
    head = data[:_MAGIC_BYTES]
    for magic, kind in _EXECUTABLE_MAGIC:
        if head.startswith(magic):
            return kind
    return None


def _ole_danger(data: bytes) -> str | None:
    if ole_directory_entries(data, 40_000) > 40_000:
        return "eine Office-Datei, die sich nicht prüfen lässt"
    try:
        with olefile.OleFileIO(io.BytesIO(data)) as ole:
            for path in ole.listdir(streams=True, storages=True):
                if any(element.lower() in _VBA_STORAGES for element in path):
                    return "eine Office-Datei mit Makros (VBA)"
            if (ole.root.clsid or "").upper() == _MSI_CLSID:
                return "ein Windows-Installationspaket (MSI)"
    except Exception:  # olefile raises assorted errors on broken files: the ingest judges them
        return None
    return None


def _zip_danger(data: bytes, blocked: frozenset[str], nested: bool) -> str | None:
    if central_entry_count(data) > _MAX_ZIP_ENTRIES:
        return f"ein Archiv mit mehr als {_MAX_ZIP_ENTRIES} Einträgen, das sich nicht prüfen lässt"
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except Exception:  # not a readable zip: the ingest judges it
        return None
    with archive:
        infos = archive.infolist()
        for info in infos:
            if info.filename.replace("\\", "/").rsplit("/", 1)[-1].lower() == "vbaproject.bin":
                return "eine Office-Datei mit Makros (vbaProject.bin)"
            ext = None if info.is_dir() else blocked_extension(info.filename, blocked)
            if ext:
                return f"ein Archiv mit der gesperrten Datei „{info.filename[:80]}“ (.{ext})"
        if nested:  # an archive inside the archive: its names only
            return None
        budget = _ZIP_READ_BUDGET
        for info in infos:
            if info.is_dir() or budget <= 0 or info.flag_bits & 0x1:  # budget used up, or encrypted: names only
                continue
            cap = min(_ENTRY_READ_CAP, budget)
            try:
                with archive.open(info) as handle:
                    content = handle.read(cap + 1)  # real bytes, whatever the entry claims
            except Exception:  # broken or unsupported entry
                continue
            budget -= len(content)
            truncated = len(content) > cap
            reason = executable_kind(content) or (
                None if truncated else _container_danger(content, blocked, nested=True))
            if reason:
                return f"ein Archiv mit „{info.filename[:80]}“: {reason}"
    return None


def _container_danger(data: bytes, blocked: frozenset[str], nested: bool) -> str | None:
    if data.startswith(ZIP_MAGIC):
        return _zip_danger(data, blocked, nested)
    if data.startswith(OLE_MAGIC):
        return _ole_danger(data)
    return None


def dangerous_reason(names: list[str], data: bytes, blocked: frozenset[str]) -> str | None:
    """Why an attachment must not be filed (German), or None when it may be filed. `names`: the
    file name as decoded and as cleaned (either may hide the real extension)."""
    for name in names:
        ext = blocked_extension(name, blocked)
        if ext:
            return f"Dateiendung .{ext} ist gesperrt"
    kind = executable_kind(data) or _container_danger(data, blocked, nested=False)
    return f"der Inhalt ist {kind}" if kind else None


def check_attachment(label: str, data: bytes, blocked: frozenset[str], decoded_name: str | None = None) -> None:
    """Refuse a dangerous attachment, naming it by its cleaned file name `label`."""
    reason = dangerous_reason([n for n in (decoded_name, label) if n], data, blocked)
    if reason:
        raise MailRejected(
            DANGEROUS_ATTACHMENT,
            f"Der Anhang „{label[:120]}“ wird nicht abgelegt: {reason}.",
        )
