"""Stage: extract text with the extractor registered for the MIME type; keep it as a derivative."""

from __future__ import annotations

from dms import sidecars
from dms.errors import IngestError
from dms.storage import keys
from ingest.context import IngestContext
from ingest.extractors import extractor_for
from ingest.ports import IngestServices


def extract_text(ctx: IngestContext, services: IngestServices) -> None:
    extractor = extractor_for(ctx.mime_type or "")
    if extractor is None:
        raise IngestError(f"Kein Leser für {ctx.mime_type}.", code="unsupported_type")
    extractor(ctx, services.settings)
    ctx.text = "\n\f\n".join(page.text.strip() for page in ctx.pages).strip()
    if not ctx.text:
        ctx.warn("Kein Text erkannt.")
    text_key = keys.text_key(ctx.document_id, ctx.version)
    services.store.put(text_key, ctx.text.encode("utf-8"), content_type="text/plain; charset=utf-8")
    ctx.derivatives["text"] = text_key
    changes: dict[str, str] = {"text_key": text_key}
    if ctx.einvoice_xml is not None and ctx.einvoice and ctx.einvoice.get("origin") == "pdf-attachment":
        xml_key = keys.derivative_key(ctx.document_id, ctx.version, "einvoice.xml")
        services.store.put(xml_key, ctx.einvoice_xml, content_type="application/xml")
        ctx.derivatives["einvoice_xml"] = xml_key
    if ctx.searchable_pdf is not None:
        searchable_key = keys.derivative_key(ctx.document_id, ctx.version, "searchable.pdf")
        services.store.put(searchable_key, ctx.searchable_pdf, content_type="application/pdf")
        ctx.derivatives["preview"] = changes["derivative_key"] = searchable_key
    if ctx.preview_pdf is not None:
        pdf_key = keys.derivative_key(ctx.document_id, ctx.version, "preview.pdf")
        services.store.put(pdf_key, ctx.preview_pdf, content_type="application/pdf")
        ctx.derivatives["preview"] = changes["derivative_key"] = pdf_key
    if ctx.rendition_html is not None:
        preview_key = keys.derivative_key(ctx.document_id, ctx.version, "rendition.html")
        services.store.put(preview_key, ctx.rendition_html.encode("utf-8"), content_type="text/html; charset=utf-8")
        ctx.derivatives["preview"] = changes["derivative_key"] = preview_key
    version = services.catalog.documents.update_version(ctx.document_id, ctx.version, **changes)
    sidecars.write_version(services.store, ctx.document_id, version)
