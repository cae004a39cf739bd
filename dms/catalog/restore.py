"""Insert a document with all its versions exactly as given (ids, numbers, times): for a catalog rebuild."""

from __future__ import annotations

from sqlalchemy import select

from dms.catalog.catalog import Catalog, utcnow
from dms.catalog.convert import document_to_row
from dms.catalog.models import CustomerRow, DocumentEventRow, DocumentRow
from dms.domain import Document
from dms.errors import Conflict, NotFound


def restore_document(catalog: Catalog, document: Document) -> None:
    """Insert `document` and its versions as-is; nothing is recomputed and no number is checked against others."""
    with catalog.session() as s:
        if s.get(DocumentRow, document.id) is not None:
            raise Conflict(f"Dokument {document.id} ist bereits im Katalog.", code="document_exists")
        customer_id = None
        if document.customer_number is not None:
            customer_id = s.scalar(select(CustomerRow.id).where(CustomerRow.number == str(document.customer_number)))
            if customer_id is None:
                raise NotFound(f"Kunde {document.customer_number} existiert nicht.", code="customer_not_found")
        now = utcnow()
        row = document_to_row(document, customer_id, now)
        s.add(row)
        s.flush()
        s.add(
            DocumentEventRow(
                document_id=document.id, at=now, stage="restore", status=document.status,
                message="Aus den Sidecars im Objektspeicher wiederhergestellt.",
            )
        )
