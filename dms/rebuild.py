"""Disaster recovery: the catalog from the sidecars in the object store, the search index from the catalog.

The object store is the system of record (see dms/storage/keys.py for the layout), so an empty
catalog plus the store is enough to get every customer, document and version back.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import PurePath
from typing import Any

from dms import sidecars
from dms.app.documents import reindex_document
from dms.app.notes import restore_notes
from dms.app.services import Services
from dms.catalog import Catalog
from dms.catalog.customer_aliases import restore_alias
from dms.domain import Document, DocumentStatus, Source, Version
from dms.errors import BackendUnavailable, Conflict, DmsError, NotFound
from dms.search import IndexEntry
from dms.storage import ObjectStore, keys

log = logging.getLogger(__name__)

Progress = Callable[[int], None]
CUSTOMER_KEY = re.compile(r"^customers/([^/]+)\.json$")
VERSION_KEY = re.compile(r"^documents/([^/]+)/v(\d+)/([^/]+)$")
DOCUMENT_FILE = "document.json"
VERSION_FILES = {"original", "meta.json", "text.txt"}


@dataclass
class _DocumentKeys:
    """What the store holds for one document id: whether it has a sidecar, and the files per version."""

    has_sidecar: bool = False
    versions: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))


def _scan_documents(store: ObjectStore) -> dict[str, _DocumentKeys]:
    found: dict[str, _DocumentKeys] = defaultdict(_DocumentKeys)
    for key in store.list_keys("documents/"):
        if key.endswith("/" + DOCUMENT_FILE) and key.count("/") == 2:
            found[key.split("/")[1]].has_sidecar = True
        elif m := VERSION_KEY.match(key):
            found[m.group(1)].versions[int(m.group(2))].add(m.group(3))
    return found


def planned_items(store: ObjectStore) -> int:
    """How many items `rebuild_catalog` will report to `progress` (customers + documents)."""
    customers = sum(1 for k in store.list_keys("customers/") if CUSTOMER_KEY.match(k))
    return customers + len(_scan_documents(store))


def _version(store: ObjectStore, document_id: str, number: int, files: set[str], latest: dict[str, Any]) -> Version:
    meta = sidecars.load(store.get(keys.version_meta_key(document_id, number)))
    derivatives = sorted(files - VERSION_FILES)
    mime_type = meta.get("mime_type")
    if latest.get("number") == number:
        mime_type = mime_type or latest.get("mime_type")  # the document sidecar is rewritten after the ingest
    elif not mime_type and "original" in files and meta.get("size"):
        # the version sidecar is written on receipt, before the type is known
        from ingest.stages.detect import sniff

        mime_type = sniff(store.get(keys.original_key(document_id, number)))
    return sidecars.read_version(
        meta, document_id, number,
        mime_type=mime_type,
        text_key=keys.text_key(document_id, number) if "text.txt" in files else None,
        derivative_key=keys.derivative_key(document_id, number, derivatives[0]) if derivatives else None,
    )


def _document(store: ObjectStore, document_id: str, found: _DocumentKeys) -> Document:
    data = sidecars.load(store.get(keys.document_key(document_id))) if found.has_sidecar else {}
    latest = data.get("latest_version") or {}
    versions = [
        _version(store, document_id, number, files, latest)
        for number, files in sorted(found.versions.items())
        if "meta.json" in files
    ]
    if not versions:
        raise DmsError(f"Dokument {document_id} hat keine Version im Speicher.", code="no_versions")
    if not data:
        # Stored but never recorded (a crash right after the upload): back as received, so the ingest runs again.
        log.warning("document %s has versions but no sidecar; restored as received", document_id)
        first = versions[0]
        return Document(
            id=document_id, customer_number=None, folder=None, document_class=None,
            title=PurePath(first.filename).stem, source=Source.UPLOAD, status=DocumentStatus.RECEIVED,
            created_at=first.created_at, updated_at=versions[-1].created_at, versions=versions,
        )
    return sidecars.read_document(data, document_id, versions, title=PurePath(versions[0].filename).stem)


def _restore_customers(store: ObjectStore, catalog: Catalog, counts: dict[str, int], step: Progress) -> None:
    for key in store.list_keys("customers/"):
        if not CUSTOMER_KEY.match(key):
            continue
        try:
            record = sidecars.load(store.get(key))
            if restore_alias(catalog, record):  # a merged customer: its number is an alias again (issue #14)
                step(1)
                continue
            customer = sidecars.read_customer(record)
            catalog.customers.create(
                customer.name,
                folders=customer.folders,
                number=customer.number,
                kind=customer.kind,
                status=customer.status,
                tags=customer.tags,
                emails=customer.emails,
                customer_id=customer.id,
                created_at=customer.created_at,
                statuses=(customer.status,),  # restored as it was, whatever the configuration lists now
                **sidecars.master_data(customer),
            )
            counts["customers"] += 1
        except (DmsError, KeyError, ValueError) as exc:
            log.warning("customer sidecar %s skipped: %s", key, exc)
            counts["skipped"] += 1
        step(1)


def rebuild_catalog(store: ObjectStore, catalog: Catalog, progress: Progress | None = None) -> dict[str, int]:
    """Fill an empty catalog from the sidecars; returns counts (customers, documents, versions, skipped)."""
    if catalog.customers.query(limit=1) or catalog.documents.all_ids():
        raise Conflict("Der Katalog ist nicht leer; wiederhergestellt wird nur in einen leeren Katalog.",
                       code="catalog_not_empty")
    step = progress or (lambda _n: None)
    counts = {"customers": 0, "documents": 0, "versions": 0, "skipped": 0}
    _restore_customers(store, catalog, counts, step)
    for document_id, found in sorted(_scan_documents(store).items()):
        try:
            document = _document(store, document_id, found)
            try:
                catalog.documents.restore(document)
            except NotFound:  # its customer's sidecar is gone: keep the document, in the inbox for review
                document.status_reason = f"Kunde {document.customer_number} fehlt im Speicher. Bitte zuordnen."
                document.customer_number, document.status = None, DocumentStatus.NEEDS_REVIEW
                catalog.documents.restore(document)
            counts["documents"] += 1
            counts["versions"] += len(document.versions)
        except (DmsError, KeyError, ValueError) as exc:
            log.warning("document %s skipped: %s", document_id, exc)
            counts["skipped"] += 1
        step(1)
    counts["notes"] = restore_notes(store, catalog)
    return counts


class _Collector:
    """Stands in for the index so `reindex_document` hands over its entry instead of writing it."""

    def __init__(self) -> None:
        self.entry: IndexEntry | None = None

    def index(self, entry: IndexEntry) -> None:
        self.entry = entry

    def delete(self, document_id: str) -> None:
        self.entry = None


def _entries(services: Services, progress: Progress | None, counted: list[int]) -> Iterator[IndexEntry]:
    collector = _Collector()
    shadow = replace(services, index=collector)  # type: ignore[arg-type]
    for document_id in services.catalog.documents.all_ids():
        collector.entry = None
        try:
            reindex_document(shadow, document_id)
        except DmsError as exc:
            if isinstance(exc, BackendUnavailable):
                raise
            log.warning("document %s not indexed: %s", document_id, exc)
        if collector.entry is not None:
            counted.append(1)
            yield collector.entry
        if progress:
            progress(1)


def reindex(services: Services, progress: Progress | None = None) -> int:
    """Rebuild the search index from the catalog and the stored text (no OCR); returns documents indexed.

    An index that can swap (OpenSearch) is loaded in bulk into a new index and switched over at once;
    otherwise it is emptied and filled entry by entry.
    """
    counted: list[int] = []
    entries = _entries(services, progress, counted)
    swap = getattr(services.index, "reindex_swap", None)
    if swap is not None:
        swap(entries)
    else:
        services.index.clear()
        for entry in entries:
            services.index.index(entry)
    return len(counted)
