"""Find the embedded invoice XML in ZUGFeRD / Factur-X / XRechnung hybrid PDFs (PDF/A-3 attachments)."""

from __future__ import annotations

import io
import logging
import zlib
from collections.abc import Iterator

import pikepdf

from .detect import detect_invoice_syntax
from .xmlsafe import MAX_XML_BYTES

log = logging.getLogger(__name__)

# Preferred attachment names, newest standard first (ZUGFeRD 1 is "ZUGFeRD-invoice.xml", 2.0 lower case).
KNOWN_NAMES = ("factur-x.xml", "xrechnung.xml", "zugferd-invoice.xml", "order-x.xml")
_XML_SUBTYPES = ("text/xml", "application/xml")


def extract_invoice_xml_from_pdf(pdf: bytes, max_bytes: int | None = None) -> bytes | None:
    """The embedded e-invoice XML, or None (no attachment, not an invoice, encrypted or corrupt PDF).

    Attachments larger than `max_bytes` (default MAX_XML_BYTES, in the pipeline `[ingest] max_xml_mb`)
    are skipped, decoded or not.
    """
    limit = MAX_XML_BYTES if max_bytes is None else max_bytes
    try:
        with pikepdf.open(io.BytesIO(pdf)) as doc:
            return _extract(doc, limit)
    except pikepdf.PasswordError:
        log.info("PDF is password protected; no e-invoice extraction")
    except Exception as exc:  # noqa: BLE001 - corrupt PDFs must not break ingest
        log.info("PDF attachment scan failed: %s", exc)
    return None


def _extract(doc: pikepdf.Pdf, limit: int) -> bytes | None:
    known: list[tuple[tuple[int, bool], bytes]] = []
    others: list[bytes] = []
    seen: set[tuple[int, int]] = set()
    for name, filespec in _filespecs(doc):
        key = filespec.objgen
        if key != (0, 0):
            if key in seen:
                continue
            seen.add(key)
        lowered = name.lower().rsplit("/", 1)[-1]
        is_known = lowered in KNOWN_NAMES
        if not (is_known or lowered.endswith(".xml") or _subtype(filespec) in _XML_SUBTYPES):
            continue
        data = _file_bytes(filespec, limit)
        if data is None:
            continue
        if is_known:
            # Newest standard first; among equal names prefer the ZUGFeRD 2 lower-case spelling.
            detected = detect_invoice_syntax(data) is not None
            rank = (KNOWN_NAMES.index(lowered) * 2 + (0 if detected else 1), name != lowered)
            known.append((rank, data))
        elif detect_invoice_syntax(data):
            others.append(data)
    if known:
        return min(known, key=lambda item: item[0])[1]
    return others[0] if others else None


def _filespecs(doc: pikepdf.Pdf) -> Iterator[tuple[str, pikepdf.Dictionary]]:
    """File specifications from /AF (associated files) and the EmbeddedFiles name tree."""
    associated = doc.Root.get("/AF")
    if isinstance(associated, pikepdf.Array):
        for spec in associated:
            if isinstance(spec, pikepdf.Dictionary):
                yield _spec_name(spec), spec
    for name, attached in doc.attachments.items():
        spec = attached.obj
        if isinstance(spec, pikepdf.Dictionary):
            yield str(name) or _spec_name(spec), spec


def _spec_name(spec: pikepdf.Dictionary) -> str:
    for key in ("/UF", "/F"):
        value = spec.get(key)
        if value is not None:
            return str(value)
    return ""


def _subtype(spec: pikepdf.Dictionary) -> str:
    stream = _stream(spec)
    subtype = stream.get("/Subtype") if stream is not None else None
    return str(subtype).lstrip("/").replace("#2f", "/").replace("#2F", "/").lower() if subtype else ""


def _stream(spec: pikepdf.Dictionary) -> pikepdf.Stream | None:
    embedded = spec.get("/EF")
    if not isinstance(embedded, pikepdf.Dictionary):
        return None
    for key in ("/UF", "/F"):
        stream = embedded.get(key)
        if isinstance(stream, pikepdf.Stream):
            return stream
    return None


def _file_bytes(spec: pikepdf.Dictionary, limit: int) -> bytes | None:
    """Decoded attachment, refusing anything that inflates beyond `limit` bytes (zip-bomb safe)."""
    stream = _stream(spec)
    if stream is None:
        return None
    try:
        raw = stream.read_raw_bytes()
        if len(raw) > limit:
            return None
        filters = stream.get("/Filter")
        if isinstance(filters, pikepdf.Array) and len(filters) == 1:
            filters = filters[0]
        if filters is None:
            return raw
        if filters == pikepdf.Name.FlateDecode and stream.get("/DecodeParms") is None:
            inflater = zlib.decompressobj()
            data = inflater.decompress(raw, limit + 1)
            return None if len(data) > limit or inflater.unconsumed_tail else data
        data = stream.read_bytes()
        return None if len(data) > limit else data
    except Exception as exc:  # noqa: BLE001
        log.info("unreadable PDF attachment: %s", exc)
        return None
