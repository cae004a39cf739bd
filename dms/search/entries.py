"""What of a document goes into the search index."""

from __future__ import annotations

from dms.domain import Document
from dms.search.base import IndexEntry


def entry_for(document: Document, text: str, *, version: int, filename: str, status: str | None = None) -> IndexEntry:
    """The index entry of a document's latest version; dated by the document date, else its arrival."""
    return IndexEntry(
        id=document.id,
        customer_number=document.customer_number,
        title=document.title,
        document_class=document.document_class,
        folder=document.folder,
        text=text,
        tags=document.tags,
        date=document.document_date or (document.created_at.date() if document.created_at else None),
        version=version,
        filename=filename,
        status=status or document.status,
        fields={k: v for k, v in document.fields.items() if isinstance(v, str)},
        restricted=document.restricted,
    )
