"""MIME type → extractor. An extractor fills `ctx.pages` from `ctx.data`."""

from __future__ import annotations

from collections.abc import Callable

from dms.config import Settings
from ingest.context import IngestContext
from ingest.extractors.einvoice import XML_TYPES, extract_xml_invoice
from ingest.extractors.images import extract_image
from ingest.extractors.pdf import extract_pdf
from ingest.extractors.plain import extract_plain

Extractor = Callable[[IngestContext, Settings], None]

_REGISTRY: dict[str, Extractor] = {
    "application/pdf": extract_pdf,
    "image/png": extract_image,
    "image/jpeg": extract_image,
    "image/tiff": extract_image,
    "text/plain": extract_plain,
    **{mime: extract_xml_invoice for mime in XML_TYPES},
}


def register(mime_type: str, extractor: Extractor) -> None:
    _REGISTRY[mime_type] = extractor


def extractor_for(mime_type: str) -> Extractor | None:
    return _REGISTRY.get(mime_type)


def supported_types() -> list[str]:
    return sorted(_REGISTRY)
