"""Entry point: safe parse of e-invoice XML bytes into InvoiceData."""

from __future__ import annotations

from dms.errors import IngestError

from .cii import parse_cii
from .detect import classify_root
from .model import InvoiceData
from .ubl import parse_ubl
from .xmlsafe import local_name, namespace, parse_xml


def parse_invoice_xml(data: bytes, max_bytes: int | None = None) -> InvoiceData:
    """Parse CII (ZUGFeRD 1/2, Factur-X, XRechnung) or UBL invoice XML of at most `max_bytes`
    (default MAX_XML_BYTES; the pipeline passes `[ingest] max_xml_mb`).

    Raises IngestError with code "too_large", "malformed_xml", "unsafe_xml" or "not_an_invoice".
    """
    root = parse_xml(data, max_bytes)
    syntax = classify_root(namespace(root.tag), local_name(root.tag))
    if syntax == "CII":
        return parse_cii(root)
    if syntax == "UBL":
        return parse_ubl(root)
    shown = root.tag if isinstance(root.tag, str) else "?"
    raise IngestError(
        f"XML root element {shown[:200]} is not a CII or UBL e-invoice", code="not_an_invoice"
    )
