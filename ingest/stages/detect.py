"""Stage: detect the type by content (libmagic), whatever the file name says."""

from __future__ import annotations

from pathlib import PurePath

import magic

from dms.errors import IngestError, UnsupportedType
from ingest.context import IngestContext
from ingest.extractors import extractor_for, supported_types
from ingest.extractors.containers import (
    DOCM,
    DOCX,
    EML,
    ENCRYPTED_OFFICE,
    MSG,
    ODS,
    ODT,
    PPTM,
    PPTX,
    XLSM,
    XLSX,
    refine_mime,
)
from ingest.ports import IngestServices

# MIME types libmagic reports under other names.
ALIASES = {
    "application/x-pdf": "application/pdf",
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-png": "image/png",
}
# Extensions we expect for a MIME type, to warn about lying file names.
EXTENSIONS = {
    "application/pdf": {".pdf"},
    "image/png": {".png"},
    "image/jpeg": {".jpg", ".jpeg", ".jpe"},
    "image/tiff": {".tif", ".tiff"},
    "text/plain": {".txt", ".text", ".csv", ".log", ""},
    "text/xml": {".xml"},
    "application/xml": {".xml"},
    DOCX: {".docx"},
    XLSX: {".xlsx"},
    PPTX: {".pptx"},
    DOCM: {".docm"},
    XLSM: {".xlsm"},
    PPTM: {".pptm"},
    ODT: {".odt"},
    ODS: {".ods"},
    EML: {".eml"},
    MSG: {".msg"},
    ENCRYPTED_OFFICE: {".docx", ".xlsx", ".pptx", ".docm", ".xlsm", ".pptm"},
}


def sniff(data: bytes) -> str:
    mime = magic.from_buffer(data[:262144], mime=True)
    return ALIASES.get(mime, mime)


def detect_type(ctx: IngestContext, services: IngestServices) -> None:
    if not ctx.data:
        raise IngestError("Die Datei ist leer (0 Byte).", code="empty_file")
    # containers (zip, OLE, mail headers) are told apart by looking inside, never by the name alone
    mime = refine_mime(sniff(ctx.data), ctx.data, ctx.filename)
    ctx.mime_type = mime
    if extractor_for(mime) is None:
        raise UnsupportedType(
            f"Der Dateityp {mime} wird nicht unterstützt. Unterstützt: {', '.join(supported_types())}.",
            mime_type=mime,
        )
    suffix = PurePath(ctx.filename).suffix.lower()
    expected = EXTENSIONS.get(mime)
    if expected is not None and suffix not in expected:
        ctx.warn(f"Die Dateiendung {suffix or '(keine)'} passt nicht zum Inhalt ({mime}); behandelt als {mime}.")
    services.catalog.documents.update_version(ctx.document_id, ctx.version, mime_type=mime)
