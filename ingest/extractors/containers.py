"""Container formats: tell office/mail types apart by looking inside, and open zips safely.

libmagic names ZIP and OLE (CFB) containers only when their first bytes say enough; `refine_mime`
looks at the entries (`mimetype`, `[Content_Types].xml`, OLE stream names, mail headers) to
name the precise type. The file name never decides on its own.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from pathlib import PurePath

import olefile
from defusedxml import ElementTree

from dms.errors import IngestError

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ODT = "application/vnd.oasis.opendocument.text"
ODS = "application/vnd.oasis.opendocument.spreadsheet"
EML = "message/rfc822"
MSG = "application/vnd.ms-outlook"
# What libmagic says for an OLE container holding an encrypted OOXML package ("CDFV2 Encrypted").
ENCRYPTED_OFFICE = "application/encrypted"

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
MAX_UNCOMPRESSED = 200 * 1024 * 1024
MAX_ENTRIES = 10_000

_OOXML_MAIN_PARTS = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": DOCX,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": XLSX,
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


def _zip_type(data: bytes) -> str | None:
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


def ole_stream_names(data: bytes) -> set[str] | None:
    """Top-level entry names of an OLE/CFB container, or None when it cannot be read."""
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


def open_zip(data: bytes, kind: str) -> zipfile.ZipFile:
    """Open an office zip, refusing encrypted, corrupt and oversized (zip bomb) ones with an IngestError."""
    if is_encrypted_ooxml(data):
        raise encrypted_error()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise corrupt_error(kind, exc) from exc
    entries = archive.infolist()
    if len(entries) > MAX_ENTRIES:
        archive.close()
        raise IngestError(
            f"Die {kind} enthält {len(entries)} Teile (höchstens {MAX_ENTRIES}); sie wird nicht entpackt.",
            code="too_large",
        )
    total = sum(entry.file_size for entry in entries)
    if total > MAX_UNCOMPRESSED:
        archive.close()
        raise IngestError(
            f"Die {kind} würde entpackt {total // (1024 * 1024)} MB groß "
            f"(höchstens {MAX_UNCOMPRESSED // (1024 * 1024)} MB); sie wird nicht entpackt.",
            code="too_large",
        )
    if any(entry.flag_bits & 0x1 for entry in entries):
        archive.close()
        raise encrypted_error()
    return archive


def read_entry(archive: zipfile.ZipFile, name: str, kind: str) -> bytes:
    """One entry's bytes; its size was capped by `open_zip`, a bad CRC or stream is `corrupt_document`."""
    try:
        return archive.read(name)
    except KeyError as exc:
        raise corrupt_error(kind, f"{name} fehlt") from exc
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise corrupt_error(kind, exc) from exc
