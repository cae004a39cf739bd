"""E-invoices in the pipeline: bare XML (XRechnung CII/UBL) and XML embedded in ZUGFeRD/Factur-X PDFs."""

from __future__ import annotations

from dms.config import Settings
from dms.errors import IngestError, UnsupportedType
from ingest.context import IngestContext, PageText
from ingest.einvoice import (
    InvoiceData,
    detect_invoice_syntax,
    extract_invoice_xml_from_pdf,
    parse_invoice_xml,
    render_invoice_html,
)

XML_TYPES = ("text/xml", "application/xml")
RENDITION = "rendition.html"


def max_xml_bytes(settings: Settings | None) -> int | None:
    """`[ingest] max_xml_mb` in bytes; None (the module default) without settings."""
    return settings.limit("ingest", "max_xml_mb") * 1024 * 1024 if settings is not None else None


def _remember(ctx: IngestContext, invoice: InvoiceData, xml: bytes, origin: str) -> None:
    ctx.einvoice = {"syntax": invoice.syntax, "profile": invoice.profile, "origin": origin, **invoice.to_fields()}
    ctx.einvoice_xml = xml
    if origin == "xml":  # a ZUGFeRD/Factur-X PDF is its own readable form
        ctx.rendition_html = render_invoice_html(invoice, xml)


def extract_xml_invoice(ctx: IngestContext, settings: Settings) -> None:
    """A bare XML file must be an e-invoice; its text is a German summary, plus a readable rendition."""
    if detect_invoice_syntax(ctx.data) is None:
        raise UnsupportedType(
            "XML-Dateien werden nur als E-Rechnung (XRechnung/ZUGFeRD, CII oder UBL) angenommen; "
            "diese Datei ist keine.",
            code="not_an_invoice",
        )
    invoice = parse_invoice_xml(ctx.data, max_xml_bytes(settings))
    _remember(ctx, invoice, ctx.data, "xml")
    ctx.pages = [PageText(1, invoice.search_text(), "einvoice")]


def read_embedded_invoice(ctx: IngestContext, settings: Settings | None = None) -> None:
    """ZUGFeRD/Factur-X: the PDF carries the invoice as XML; a broken one is a warning, not a failure."""
    limit = max_xml_bytes(settings)
    xml = extract_invoice_xml_from_pdf(ctx.data, limit)
    if xml is None:
        return
    try:
        invoice = parse_invoice_xml(xml, limit)
    except IngestError as exc:
        ctx.warn(f"Eingebettete E-Rechnung nicht lesbar: {exc.message}")
        return
    _remember(ctx, invoice, xml, "pdf-attachment")
    ctx.pages.append(PageText(len(ctx.pages) + 1, invoice.search_text(), "einvoice"))
