"""Container formats: tell office/mail types apart by looking inside, and open zips safely.

libmagic names ZIP and OLE (CFB) containers only when their first bytes say enough; `refine_mime`
looks at the entries (`mimetype`, `[Content_Types].xml`, OLE stream names, mail headers) to
name the precise type. The file name never decides on its own.

Hostile containers are refused by `open_zip` before anything reads them: the entry count is taken
from the central directory bytes (before `zipfile` builds an object per entry), and every entry is
inflated once in chunks while the real bytes are counted against the limits of `[archives]`
(entries, uncompressed size, compression ratio); what the headers declare is never trusted.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePath

import olefile
from defusedxml import ElementTree

from dms.config import Settings
from dms.errors import IngestError

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
# Macro-enabled siblings: read like the macro-free ones (text only, macros are never run).
DOCM = "application/vnd.ms-word.document.macroEnabled.12"
XLSM = "application/vnd.ms-excel.sheet.macroEnabled.12"
PPTM = "application/vnd.ms-powerpoint.presentation.macroEnabled.12"
ZIP = "application/zip"
ODT = "application/vnd.oasis.opendocument.text"
ODS = "application/vnd.oasis.opendocument.spreadsheet"
EML = "message/rfc822"
MSG = "application/vnd.ms-outlook"
# What libmagic says for an OLE container holding an encrypted OOXML package ("CDFV2 Encrypted").
ENCRYPTED_OFFICE = "application/encrypted"

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
MB = 1024 * 1024
# Defaults of the `[archives]` limits, for callers without settings.
MAX_UNCOMPRESSED = 200 * MB
MAX_ENTRIES = 10_000
MAX_RATIO = 200
MAX_DEPTH = 3
# Entries (and whole archives) below this real size are exempt from the ratio check: small XML parts
# legitimately compress far better than 200:1, and they cost nothing.
RATIO_GRACE = MB
_CHUNK = 1024 * 1024  # decompressed bytes per step
_INPUT_CHUNK = 64 * 1024  # compressed bytes fed per step

WORD_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
WORD_MACRO_MAIN = "application/vnd.ms-word.document.macroEnabled.main+xml"
EXCEL_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
EXCEL_MACRO_MAIN = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
POWERPOINT_MAIN = "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"
POWERPOINT_MACRO_MAIN = "application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml"
_OOXML_MAIN_PARTS = {
    WORD_MAIN: DOCX,
    WORD_MACRO_MAIN: DOCM,
    EXCEL_MAIN: XLSX,
    EXCEL_MACRO_MAIN: XLSM,
    POWERPOINT_MAIN: PPTX,
    POWERPOINT_MACRO_MAIN: PPTM,
}
_ODF_TYPES = {ODT, ODS}
_CONTENT_TYPES_NS = "{http://schemas.openxmlformats.org/package/2006/content-types}"
_MAIL_HEADERS = {
    "from", "to", "cc", "subject", "date", "message-id", "received", "return-path", "mime-version",
    "reply-to", "sender", "delivered-to", "content-type", "in-reply-to", "references",
}
_HEADER_LINE = re.compile(rb"^([!-9;-~]+):")


def refine_mime(mime: str, data: bytes, filename: str = "") -> str:
    """The precise type of a ZIP/OLE container or a mail libmagic took for plain text; else `mime`."""
    if data.startswith(ZIP_MAGIC):
        return _zip_type(data) or mime
    if data.startswith(OLE_MAGIC):
        return _ole_type(data) or mime
    # libmagic calls a mail text/plain or, with an HTML part, text/html unless it starts with From/Received.
    if mime.startswith("text/") and _looks_like_mail(data, PurePath(filename).suffix.lower()):
        return EML
    return mime


@dataclass(frozen=True)
class ArchiveLimits:
    """The `[archives]` limits in bytes; `ArchiveLimits.of(None)` gives the defaults."""

    max_entries: int = MAX_ENTRIES
    max_uncompressed: int = MAX_UNCOMPRESSED
    max_ratio: int = MAX_RATIO
    max_depth: int = MAX_DEPTH

    @classmethod
    def of(cls, settings: Settings | None) -> ArchiveLimits:
        if settings is None:
            return cls()
        return cls(
            max_entries=settings.limit("archives", "max_entries"),
            max_uncompressed=settings.limit("archives", "max_uncompressed_mb") * MB,
            max_ratio=settings.limit("archives", "max_ratio"),
            max_depth=settings.limit("archives", "max_depth"),
        )


def central_entry_count(data: bytes) -> int:
    """An upper bound of a zip's entries: central directory headers in the bytes before the end record.

    Counted without building any object, so a central directory with millions of entries (which
    `zipfile` would turn into millions of `ZipInfo`s) is refused at the cost of one byte scan.
    """
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if end < 0:
        end = len(data)
    start = 0
    if end + 22 <= len(data):
        size = struct.unpack_from("<I", data, end + 12)[0]
        if size != 0xFFFFFFFF and size <= end:
            start = end - size
    return data.count(b"PK\x01\x02", start, end)


def _zip_type(data: bytes) -> str | None:
    if central_entry_count(data) > MAX_ENTRIES:
        return None  # not opened here; the `application/zip` extractor refuses it with the reason
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "mimetype" in names and archive.getinfo("mimetype").file_size <= 200:
                declared = archive.read("mimetype").decode("ascii", "replace").strip()
                if declared in _ODF_TYPES:
                    return declared
            if "[Content_Types].xml" in names and archive.getinfo("[Content_Types].xml").file_size <= 1024 * 1024:
                root = ElementTree.fromstring(archive.read("[Content_Types].xml"))
                for override in root.iter(f"{_CONTENT_TYPES_NS}Override"):
                    found = _OOXML_MAIN_PARTS.get(override.get("ContentType", ""))
                    if found:
                        return found
    except Exception:  # a broken container is judged by its extractor, not here
        return None
    return None


def ole_directory_entries(data: bytes, cap: int) -> int:
    """Directory entries of an OLE/CFB container, counted by walking the directory's sector chain in
    the FAT without building any object; stops counting above `cap` (and on a loop or a bad chain).

    olefile and the MSG reader build an object per directory entry, so a directory of millions of
    entries (a few hundred MB of file) would cost gigabytes before any other check could run.
    """
    if len(data) < 512 or not data.startswith(OLE_MAGIC):
        return 0
    shift = struct.unpack_from("<H", data, 0x1E)[0]
    if shift not in (9, 12):
        return 0
    sector_size = 1 << shift
    per_fat_sector = sector_size // 4
    fat_count, first_dir = struct.unpack_from("<II", data, 0x2C)
    first_difat, difat_count = struct.unpack_from("<II", data, 0x44)
    fat_sectors = list(struct.unpack_from("<109I", data, 0x4C))
    difat = first_difat
    for _ in range(min(difat_count, len(data) // sector_size)):  # DIFAT chain beyond the header
        offset = (difat + 1) * sector_size
        if difat >= 0xFFFFFFFA or offset + sector_size > len(data):
            break
        fat_sectors.extend(struct.unpack_from(f"<{per_fat_sector - 1}I", data, offset))
        difat = struct.unpack_from("<I", data, offset + sector_size - 4)[0]
    fat_sectors = fat_sectors[:fat_count]
    entries, sector = 0, first_dir
    while sector < 0xFFFFFFFA:
        entries += sector_size // 128
        if entries > cap:
            return entries
        index, slot = divmod(sector, per_fat_sector)
        if index >= len(fat_sectors) or (fat_sectors[index] + 2) * sector_size > len(data):
            break
        sector = struct.unpack_from("<I", data, (fat_sectors[index] + 1) * sector_size + slot * 4)[0]
    return entries


def ole_stream_names(data: bytes) -> set[str] | None:
    """Top-level entry names of an OLE/CFB container, or None when it cannot be read (or its directory
    has more than 4 × MAX_ENTRIES entries)."""
    if ole_directory_entries(data, 4 * MAX_ENTRIES) > 4 * MAX_ENTRIES:
        return None
    try:
        with olefile.OleFileIO(io.BytesIO(data)) as ole:
            return {"/".join(path) for path in ole.listdir(streams=True, storages=True)}
    except Exception:  # olefile raises assorted errors on garbage
        return None


def _ole_type(data: bytes) -> str | None:
    names = ole_stream_names(data)
    if names is None:
        return None
    if "EncryptedPackage" in names:
        return ENCRYPTED_OFFICE
    if "__properties_version1.0" in names and any(name.startswith("__substg1.0_") for name in names):
        return MSG
    return None


def _looks_like_mail(data: bytes, suffix: str) -> bool:
    """A header block (RFC 5322) at the start with From plus another mail header, or two with `.eml`."""
    lines = data[:32768].splitlines()
    if lines and lines[0].startswith(b"From "):  # mbox envelope line
        lines = lines[1:]
    names: set[str] = set()
    for index, line in enumerate(lines):
        if not line.strip():
            break
        if line[:1] in (b" ", b"\t") and index > 0:
            continue
        match = _HEADER_LINE.match(line)
        if match is None:
            return False
        names.add(match.group(1).decode("ascii").lower())
    known = names & _MAIL_HEADERS
    return ("from" in known and len(known) >= 2) or (suffix == ".eml" and len(known) >= 2)


def is_encrypted_ooxml(data: bytes) -> bool:
    if not data.startswith(OLE_MAGIC):
        return False
    names = ole_stream_names(data)
    return names is not None and "EncryptedPackage" in names


def encrypted_error() -> IngestError:
    return IngestError(
        "Das Dokument ist passwortgeschützt (verschlüsselt) und kann nicht gelesen werden. "
        "Bitte eine Fassung ohne Kennwort hochladen.",
        code="encrypted_document",
    )


def corrupt_error(kind: str, detail: object) -> IngestError:
    return IngestError(f"Die {kind} ist beschädigt oder unvollständig ({detail}).", code="corrupt_document")


def too_many_entries(kind: str, count: int, limits: ArchiveLimits) -> IngestError:
    return IngestError(
        f"Die {kind} enthält {count} Teile (höchstens {limits.max_entries}); sie wird nicht entpackt.",
        code="too_large",
    )


def _too_large(kind: str, size: int, limits: ArchiveLimits, claimed: bool = False) -> IngestError:
    amount = f"{size // MB} MB" if claimed else f"mehr als {limits.max_uncompressed // MB} MB"
    return IngestError(
        f"Die {kind} würde entpackt {amount} groß (höchstens {limits.max_uncompressed // MB} MB); "
        "sie wird nicht entpackt.",
        code="too_large",
    )


def _bomb(kind: str, what: str, ratio: float, limits: ArchiveLimits) -> IngestError:
    return IngestError(
        f"Die {kind} ist verdächtig stark komprimiert ({what} {ratio:.0f}:1, höchstens {limits.max_ratio}:1) "
        "und wird als Zip-Bombe abgelehnt.",
        code="archive_bomb",
    )


def depth_error(kind: str, depth: int, limits: ArchiveLimits) -> IngestError:
    return IngestError(
        f"Die {kind} ist {depth}-fach verschachtelt (höchstens {limits.max_depth} Ebenen); "
        "sie wird nicht weiter geöffnet.",
        code="archive_bomb",
    )


def _ratio_exceeded(real: int, compressed: int, limits: ArchiveLimits) -> bool:
    return real > RATIO_GRACE and real > limits.max_ratio * max(compressed, 1)


def open_zip(
    data: bytes, kind: str, settings: Settings | None = None, *, depth: int = 0
) -> zipfile.ZipFile:
    """Open an office zip, refusing encrypted, corrupt, oversized and bomb-like ones with an IngestError.

    Before anything is returned every entry has been inflated once, in chunks and without keeping the
    bytes, so the limits hold for the real content whatever the headers say; `read_entry` afterwards
    reads entries whose real size is known. `depth` is how deep this container sits in others.
    """
    limits = ArchiveLimits.of(settings)
    if depth > limits.max_depth:
        raise depth_error(kind, depth, limits)
    if is_encrypted_ooxml(data):
        raise encrypted_error()
    count = central_entry_count(data)
    if count > limits.max_entries:
        raise too_many_entries(kind, count, limits)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error) as exc:
        raise corrupt_error(kind, exc) from exc
    try:
        _check_declared(archive, kind, limits)
        if any(entry.flag_bits & 0x1 for entry in archive.infolist()):
            raise encrypted_error()
        _check_real(archive, data, kind, limits)
    except BaseException:
        archive.close()
        raise
    return archive


def _check_declared(archive: zipfile.ZipFile, kind: str, limits: ArchiveLimits) -> None:
    """Cheap refusals on what the headers claim (a liar is caught by `_check_real`)."""
    entries = archive.infolist()
    if len(entries) > limits.max_entries:
        raise too_many_entries(kind, len(entries), limits)
    total = sum(entry.file_size for entry in entries)
    if total > limits.max_uncompressed:
        raise _too_large(kind, total, limits, claimed=True)
    for entry in entries:
        if _ratio_exceeded(entry.file_size, entry.compress_size, limits):
            raise _bomb(kind, entry.filename[:80], entry.file_size / max(entry.compress_size, 1), limits)
    compressed = sum(entry.compress_size for entry in entries)
    if _ratio_exceeded(total, compressed, limits):
        raise _bomb(kind, "insgesamt", total / max(compressed, 1), limits)


def _check_real(archive: zipfile.ZipFile, data: bytes, kind: str, limits: ArchiveLimits) -> None:
    """Inflate every entry once, counting the real bytes; abort as soon as a limit or a header lie shows."""
    total = compressed_total = 0
    for entry in archive.infolist():
        real = crc = 0
        compressed_total += entry.compress_size
        for chunk in _entry_chunks(archive, data, entry, kind):
            real += len(chunk)
            total += len(chunk)
            if real > entry.file_size:
                raise corrupt_error(kind, f"{entry.filename[:80]} ist entpackt größer als angegeben")
            if total > limits.max_uncompressed:
                raise _too_large(kind, total, limits)
            if _ratio_exceeded(real, entry.compress_size, limits):
                raise _bomb(kind, entry.filename[:80], real / max(entry.compress_size, 1), limits)
            if _ratio_exceeded(total, compressed_total, limits):
                raise _bomb(kind, "insgesamt", total / max(compressed_total, 1), limits)
            crc = zlib.crc32(chunk, crc)
        if real != entry.file_size:
            raise corrupt_error(kind, f"{entry.filename[:80]} ist entpackt kleiner als angegeben")
        if crc != entry.CRC:
            raise corrupt_error(kind, f"Prüfsumme von {entry.filename[:80]} falsch")


def _entry_chunks(archive: zipfile.ZipFile, data: bytes, entry: zipfile.ZipInfo, kind: str) -> Iterator[bytes]:
    """The real decompressed bytes of one entry in chunks of at most `_CHUNK`, whatever its header says.

    Stored and deflated entries (all an office file uses) are inflated from the raw bytes, so nothing
    stops at the declared size; other methods go through `zipfile`, which stops there and checks the CRC.
    """
    if entry.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        try:
            with archive.open(entry) as stream:
                while chunk := stream.read(_CHUNK):
                    yield chunk
        except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, NotImplementedError,
                RuntimeError, LookupError) as exc:
            raise corrupt_error(kind, exc) from exc
        return
    offset = entry.header_offset
    if offset < 0 or offset + 30 > len(data) or data[offset:offset + 4] != ZIP_MAGIC:
        raise corrupt_error(kind, f"Kopf von {entry.filename[:80]} fehlt")
    name_length, extra_length = struct.unpack_from("<HH", data, offset + 26)
    start = offset + 30 + name_length + extra_length
    end = start + entry.compress_size
    if end > len(data):
        raise corrupt_error(kind, f"{entry.filename[:80]} ist abgeschnitten")
    raw = memoryview(data)[start:end]
    if entry.compress_type == zipfile.ZIP_STORED:
        for position in range(0, len(raw), _CHUNK):
            yield bytes(raw[position:position + _CHUNK])
        return
    inflater = zlib.decompressobj(-15)
    try:
        for position in range(0, len(raw), _INPUT_CHUNK):
            pending = raw[position:position + _INPUT_CHUNK]
            while True:
                chunk = inflater.decompress(pending, _CHUNK)
                if chunk:
                    yield chunk
                pending = inflater.unconsumed_tail
                if inflater.eof or (not pending and len(chunk) < _CHUNK):
                    break
            if inflater.eof:
                break
    except zlib.error as exc:
        raise corrupt_error(kind, f"{entry.filename[:80]}: {exc}") from exc
    if not inflater.eof and entry.file_size:
        raise corrupt_error(kind, f"{entry.filename[:80]} ist unvollständig")


def read_entry(archive: zipfile.ZipFile, name: str, kind: str) -> bytes:
    """One entry's bytes; its real size was checked by `open_zip`, a bad CRC or stream is `corrupt_document`."""
    try:
        return archive.read(name)
    except KeyError as exc:
        raise corrupt_error(kind, f"{name} fehlt") from exc
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise corrupt_error(kind, exc) from exc
