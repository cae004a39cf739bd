"""MIME type → extractor. An extractor fills `ctx.pages` from `ctx.data`."""

from __future__ import annotations

from collections.abc import Callable

from dms.config import Settings
from ingest.context import IngestContext
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
    ZIP,
)
from ingest.extractors.einvoice import XML_TYPES, extract_xml_invoice
from ingest.extractors.images import extract_image
from ingest.extractors.mail import extract_eml, extract_outlook_msg
from ingest.extractors.office import (
    extract_docx,
    extract_odf,
    extract_pptx,
    extract_xlsx,
    refuse_encrypted_office,
    refuse_zip,
)
from ingest.extractors.office_preview import render_office_preview
from ingest.extractors.pdf import extract_pdf
from ingest.extractors.plain import extract_plain

Extractor = Callable[[IngestContext, Settings], None]


def with_office_preview(extractor: Extractor) -> Extractor:
    """Office files also get a PDF preview where LibreOffice is installed (optional)."""

    def extract(ctx: IngestContext, settings: Settings) -> None:
        extractor(ctx, settings)
        ctx.preview_pdf = render_office_preview(ctx, memory_mb=settings.limit("ingest", "child_memory_mb"))

    extract.__name__ = extractor.__name__
    return extract


_REGISTRY: dict[str, Extractor] = {
    "application/pdf": extract_pdf,
    "image/png": extract_image,
    "image/jpeg": extract_image,
    "image/tiff": extract_image,
    "text/plain": extract_plain,
    **{mime: extract_xml_invoice for mime in XML_TYPES},
    DOCX: with_office_preview(extract_docx),
    XLSX: with_office_preview(extract_xlsx),
    PPTX: with_office_preview(extract_pptx),
    # macro-enabled: text only, macros never run (no preview: LibreOffice never gets them)
    DOCM: extract_docx,
    XLSM: extract_xlsx,
    PPTM: extract_pptx,
    ODT: with_office_preview(extract_odf),
    ODS: with_office_preview(extract_odf),
    EML: extract_eml,
    MSG: extract_outlook_msg,
    ENCRYPTED_OFFICE: refuse_encrypted_office,
    ZIP: refuse_zip,  # only to name zip bombs as such; every zip ends unsupported
}
# Registered only to refuse with a precise reason; not offered as supported.
_REFUSALS = {ENCRYPTED_OFFICE, ZIP}


def register(mime_type: str, extractor: Extractor) -> None:
    _REGISTRY[mime_type] = extractor


def extractor_for(mime_type: str) -> Extractor | None:
    return _REGISTRY.get(mime_type)


def supported_types() -> list[str]:
    return sorted(m for m in _REGISTRY if m not in _REFUSALS)
