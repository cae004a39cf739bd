"""Stage: make the latest version findable."""

from __future__ import annotations

from dms.search.entries import entry_for
from dms.services import Services
from ingest.context import IngestContext


def index_document(ctx: IngestContext, services: Services) -> None:
    if not ctx.is_latest:
        return
    document = services.catalog.get_document(ctx.document_id)
    services.index.index(entry_for(document, ctx.text, version=ctx.version, filename=ctx.filename, status=ctx.status))
