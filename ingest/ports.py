"""What the ingest pipeline needs of the application: backends behind Protocols, nothing else.

`dms.app.services.Services` fits `IngestServices`; ingest never imports the application layer
(`dms.app`, `dms.web`, `dms.cli`), so the application can depend on ingest and not the other way
round (see tests/test_layers.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from dms.config import Settings
from dms.domain import ArchivedObject, Customer, Document, Version
from dms.search.base import SearchIndex
from dms.storage.base import ArchiveStore, ObjectStore


class CustomerLookup(Protocol):
    def find(self, number: str) -> Customer | None: ...

    def find_by_name(self, name: str) -> list[Customer]: ...


class DocumentRecords(Protocol):
    def get(self, document_id: str) -> Document: ...

    def update(self, document_id: str, *, customer_number: Any = ..., **changes: Any) -> Document: ...

    def update_version(self, document_id: str, number: int, **changes: Any) -> Version: ...

    def set_status(self, document_id: str, status: str, *, stage: str, reason: str | None = None) -> None: ...

    def start_attempt(self, document_id: str, number: int) -> int: ...

    def give_back_attempt(self, document_id: str, number: int) -> int: ...

    def reset_attempts(self, document_id: str, number: int) -> None: ...

    def add_event(self, document_id: str, *, stage: str, status: str, message: str | None = None) -> None: ...


class StatusOutbox(Protocol):
    """Ending a document: the final status and its webhook events in one transaction (dms/catalog/outbox.py)."""

    def set_final_status(
        self, document_id: str, version: int, status: str, *, stage: str, reason: str | None = None
    ) -> int: ...


class ArchiveRecords(Protocol):
    """What the WORM archive holds (dms/catalog/archive.py), for the archive stage (issue #12)."""

    def add(
        self, document_id: str, version: int, kind: str, key: str, version_id: str | None, sha256: str, size: int,
        retain_until: datetime | None, mode: str | None, *, legal_hold: bool = False,
    ) -> ArchivedObject: ...

    def find(self, document_id: str, version: int, kind: str) -> ArchivedObject | None: ...

    def for_document(self, document_id: str) -> list[ArchivedObject]: ...

    def update_retention(self, id: int, retain_until: datetime) -> ArchivedObject: ...  # noqa: A002

    def discard(self, id: int) -> None: ...  # noqa: A002


class CatalogPort(Protocol):
    @property
    def customers(self) -> CustomerLookup: ...

    @property
    def documents(self) -> DocumentRecords: ...

    @property
    def outbox(self) -> StatusOutbox: ...

    @property
    def archive(self) -> ArchiveRecords: ...


class IngestServices(Protocol):
    """The backends a stage works with (the catalog's repositories, the store, the index)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def store(self) -> ObjectStore: ...

    @property
    def catalog(self) -> CatalogPort: ...

    @property
    def index(self) -> SearchIndex: ...

    @property
    def archive(self) -> ArchiveStore | None: ...
