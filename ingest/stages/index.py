"""Stage: make the latest version findable."""

from __future__ import annotations

from dms.search.entries import entry_for
from ingest.context import IngestContext
from ingest.ports import IngestServices


def index_document(ctx: IngestContext, services: IngestServices) -> None:
    if not ctx.is_latest:
        return
    document = services.catalog.documents.get(ctx.document_id)
    services.index.index(entry_for(document, ctx.text, version=ctx.version, filename=ctx.filename, status=ctx.status))
