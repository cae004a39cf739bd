"""Writes the JSON sidecars that let the catalog be rebuilt from the object store alone."""

from __future__ import annotations

from dms.domain import Customer, Document, Version
from dms.storage import ObjectStore, keys


def write_customer(store: ObjectStore, customer: Customer) -> None:
    store.put(keys.customer_key(customer.id), keys.dump(customer.to_dict()), content_type="application/json")


def write_version(store: ObjectStore, document_id: str, version: Version) -> None:
    """The version's meta.json. `original_filename` and `attempts` (as of the write: on receipt and
    after the text was extracted) are newer keys; `dms rebuild-catalog` reads sidecars without them."""
    meta = version.to_dict() | {
        "document_id": document_id,
        "original_filename": version.original_filename,
        "attempts": version.attempts,
        "storage_key": version.storage_key,
        "text_key": version.text_key,
        "derivative_key": version.derivative_key,
    }
    store.put(keys.version_meta_key(document_id, version.number), keys.dump(meta), content_type="application/json")


def write_document(store: ObjectStore, document: Document) -> None:
    store.put(
        keys.document_key(document.id),
        keys.dump(document.to_dict(with_versions=False)),
        content_type="application/json",
    )
