"""The catalog facade: customer, document and audit repositories over one engine.

New code calls the repositories (`catalog.customers`, `catalog.documents`, `catalog.audit`,
`catalog.mail`, `catalog.relations`, `catalog.archive`); the delegating methods below keep older callers (rebuild,
tests, tools) working.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from dms.catalog.archive import ArchiveObjects
from dms.catalog.audit import AuditLog
from dms.catalog.customers import NUMBER_RE, CustomerRepository
from dms.catalog.deletions import DeletionRuns
from dms.catalog.documents import DOCUMENT_FIELDS, DocumentRepository
from dms.catalog.engine import Database, make_engine, utcnow
from dms.catalog.erasures import Erasures
from dms.catalog.idempotency import IdempotencyKeys
from dms.catalog.mail import MailMessages
from dms.catalog.outbox import OutboxRepository
from dms.catalog.relations import Relations
from dms.catalog.seals import AuditSeals
from dms.domain import Customer, CustomerKind, CustomerStatus, Document, DocumentEvent, Version

__all__ = ["DOCUMENT_FIELDS", "NUMBER_RE", "Catalog", "make_engine", "utcnow"]


class Catalog:
    def __init__(self, url: str) -> None:
        self.db = Database(url)
        self.url = url
        self.engine = self.db.engine
        self.customers = CustomerRepository(self.db)
        self.documents = DocumentRepository(self.db)
        self.audit = AuditLog(self.db)
        self.idempotency = IdempotencyKeys(self.db)  # Idempotency-Key answers (dms/web/idempotency.py)
        self.outbox = OutboxRepository(self.db)  # webhook events (dms/webhooks)
        self.mail = MailMessages(self.db)  # received mail (mail_gateway)
        self.relations = Relations(self.db)  # links between documents (a mail and its attachments)
        self.seals = AuditSeals(self.db)  # seals of the audit trail in the WORM archive
        self.archive = ArchiveObjects(self.db)  # what the WORM archive holds (retention, issue #12)
        self.deletions = DeletionRuns(self.db)  # deletion runs, the trash, purging rows (dms/app/deletion.py)
        self.erasures = Erasures(self.db)  # GDPR erasure requests and report reads (dms/app/gdpr.py)

    # --- infrastructure -------------------------------------------------------------------

    def create_schema(self) -> None:
        self.db.create_schema()

    def ping(self) -> None:
        self.db.ping()

    def close(self) -> None:
        self.db.close()

    def session(self) -> AbstractContextManager[Session]:
        return self.db.session()

    # --- delegating methods (older callers) -------------------------------------------------

    def next_customer_number(self, first: int = 10001) -> str:
        return self.customers.next_number(first)

    def create_customer(
        self,
        name: str,
        *,
        folders: list[str],
        number: str | None = None,
        kind: str = CustomerKind.LEGAL,
        status: str = CustomerStatus.CUSTOMER,
        tags: list[str] | None = None,
        first_number: int = 10001,
        customer_id: str | None = None,
        created_at: datetime | None = None,
    ) -> Customer:
        return self.customers.create(
            name, folders=folders, number=number, kind=kind, status=status, tags=tags,
            first_number=first_number, customer_id=customer_id, created_at=created_at,
        )

    def get_customer(self, number: str) -> Customer:
        return self.customers.get(number)

    def find_customer(self, number: str) -> Customer | None:
        return self.customers.find(number)

    def find_customers_by_name(self, name: str) -> list[Customer]:
        return self.customers.find_by_name(name)

    def list_customers(self, query: str | None = None, limit: int = 100, offset: int = 0) -> list[Customer]:
        return self.customers.query(query, limit=limit, offset=offset)

    def update_customer(self, number: str, **changes: Any) -> Customer:
        return self.customers.update(number, **changes)

    def create_document(self, doc: Document, version: Version) -> Document:
        return self.documents.create(doc, version)

    def add_version(self, document_id: str, version: Version) -> Version:
        return self.documents.add_version(document_id, version)

    def update_version(self, document_id: str, number: int, **changes: Any) -> Version:
        return self.documents.update_version(document_id, number, **changes)

    def start_attempt(self, document_id: str, number: int) -> int:
        return self.documents.start_attempt(document_id, number)

    def give_back_attempt(self, document_id: str, number: int) -> int:
        return self.documents.give_back_attempt(document_id, number)

    def reset_attempts(self, document_id: str, number: int) -> None:
        self.documents.reset_attempts(document_id, number)

    def get_document(self, document_id: str) -> Document:
        return self.documents.get(document_id)

    def update_document(self, document_id: str, *, customer_number: Any = ..., **changes: Any) -> Document:
        return self.documents.update(document_id, customer_number=customer_number, **changes)

    def set_status(self, document_id: str, status: str, *, stage: str, reason: str | None = None) -> None:
        self.documents.set_status(document_id, status, stage=stage, reason=reason)

    def events(self, document_id: str) -> list[DocumentEvent]:
        return self.documents.events(document_id)

    def find_duplicate(self, sha256: str, customer_number: str | None) -> tuple[str, int] | None:
        return self.documents.find_duplicate(sha256, customer_number)

    def list_documents(self, **filters: Any) -> list[Document]:
        return self.documents.query(**filters)

    def pending_document_ids(self) -> list[str]:
        return self.documents.pending_ids()

    def all_document_ids(self) -> list[str]:
        return self.documents.all_ids()

    def latest_version(self, document_id: str) -> Version:
        return self.documents.latest_version(document_id)

    def audit_entries(self, object_type: str, object_id: str) -> list[dict[str, Any]]:
        return self.audit.entries(object_type, object_id)

