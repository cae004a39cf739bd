"""Stage: make the latest version findable."""

from __future__ import annotations

from dms.search import IndexEntry
from dms.services import Services
from ingest.context import IngestContext


def index_document(ctx: IngestContext, services: Services) -> None:
    if not ctx.is_latest:
        return
    document = services.catalog.get_document(ctx.document_id)
    services.index.index(
        IndexEntry(
            id=document.id,
            customer_number=document.customer_number,
            title=document.title,
            document_class=document.document_class,
            folder=document.folder,
            text=ctx.text,
            tags=document.tags,
            date=document.document_date or (document.created_at.date() if document.created_at else None),
            version=ctx.version,
            filename=ctx.filename,
            status=ctx.status or document.status,
            fields={k: v for k, v in document.fields.items() if isinstance(v, str)},
        )
    )
