"""Older entry points to receiving and reading documents, kept for tests and tools.

New code calls the use cases in `dms.app.intake` and `dms.app.documents` with a principal;
these wrappers act as the local administrator (or as `actor`) the way the old functions did.
"""

from __future__ import annotations

from typing import Any

from dms.app import documents as _documents
from dms.app import intake as _intake
from dms.app.principal import ADMIN, Principal
from dms.app.services import Services
from dms.app.tasks import INGEST_TASK
from dms.domain import Document, Version

Upload = _intake.Upload
clean_filename = _intake.clean_filename
reindex_document = _documents.reindex_document
LOCAL = Principal("local", frozenset({ADMIN}))

__all__ = [
    "INGEST_TASK", "Upload", "clean_filename", "read_content", "read_preview", "receive_document",
    "receive_version", "refile", "reindex_document",
]


def receive_document(services: Services, upload: Upload) -> Document:
    return _intake.receive_document(services, LOCAL, upload)


def receive_version(services: Services, document_id: str, upload: Upload) -> tuple[Document, Version]:
    return _intake.add_version(services, LOCAL, document_id, upload)


def read_content(services: Services, document_id: str, number: int | None = None) -> tuple[Version, bytes]:
    return _documents.read_content(services, LOCAL, document_id, number)


def read_preview(services: Services, document_id: str, number: int | None = None) -> tuple[Version, bytes, str]:
    return _documents.read_preview(services, LOCAL, document_id, number)


def refile(services: Services, document_id: str, changes: dict[str, Any], actor: str) -> Document:
    return _documents.refile(services, Principal(actor, frozenset({ADMIN})), document_id, changes)
