"""Stage: extract text with the extractor registered for the MIME type; keep it as a derivative."""

from __future__ import annotations

from dms.errors import IngestError
from dms.services import Services
from dms.storage import keys
from ingest.context import IngestContext
from ingest.extractors import extractor_for


def extract_text(ctx: IngestContext, services: Services) -> None:
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
    services.catalog.update_version(ctx.document_id, ctx.version, text_key=text_key)
