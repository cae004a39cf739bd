"""Links between documents: a mail and its attachments, each direction its own row and kind.

`link` is idempotent (unique per document, related document and kind; a concurrent or repeated
link finds the row there and leaves it); `related` lists the links of a document in the order
they were made, with what a client shows of each related document.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dms.catalog.engine import Database, utcnow
from dms.catalog.models import CustomerRow, DocumentRelationRow, DocumentRow

ATTACHMENT = "attachment"  # mail -> one of its attachments
MAIL = "mail"  # attachment -> the mail it came with


class Relations:
    def __init__(self, db: Database) -> None:
        self.db = db

    def link(self, document_id: str, related_id: str, kind: str, reverse_kind: str) -> None:
        """`document_id` -kind-> `related_id` and back with `reverse_kind`; links that exist stay."""
        if document_id == related_id:
            raise ValueError("a document cannot be related to itself")
        for source, target, name in ((document_id, related_id, kind), (related_id, document_id, reverse_kind)):
            if self._exists(source, target, name):
                continue
            try:
                with self.db.session() as s:
                    s.add(DocumentRelationRow(document_id=source, related_id=target, kind=name, created_at=utcnow()))
            except IntegrityError:  # linked concurrently: the link exists, which is all we want
                pass

    def _exists(self, document_id: str, related_id: str, kind: str) -> bool:
        with self.db.session() as s:
            return s.scalar(
                select(DocumentRelationRow.id).where(
                    DocumentRelationRow.document_id == document_id,
                    DocumentRelationRow.related_id == related_id,
                    DocumentRelationRow.kind == kind,
                )
            ) is not None

    def related(self, document_id: str) -> list[dict[str, Any]]:
        """[{id, kind, title, customer_number, folder, restricted, trashed}] in link order; title etc.
        None if the related document is not in the catalog (any more)."""
        stmt = (
            select(DocumentRelationRow.related_id, DocumentRelationRow.kind, DocumentRow.title,
                   CustomerRow.number, DocumentRow.folder, DocumentRow.restricted, DocumentRow.trashed_at)
            .outerjoin(DocumentRow, DocumentRow.id == DocumentRelationRow.related_id)
            .outerjoin(CustomerRow, CustomerRow.id == DocumentRow.customer_id)
            .where(DocumentRelationRow.document_id == document_id)
            .order_by(DocumentRelationRow.id)
        )
        with self.db.session() as s:
            return [
                {"id": related_id, "kind": kind, "title": title, "customer_number": number, "folder": folder,
                 "restricted": bool(restricted), "trashed": trashed_at is not None}
                for related_id, kind, title, number, folder, restricted, trashed_at in s.execute(stmt)
            ]
