"""The JSON sidecars that let the catalog be rebuilt from the object store alone.

Their format is our own and versioned (`"format": 1`), independent of the API's JSON, so a
change to the API can never break `dms rebuild-catalog`. Readers accept every format up to
`FORMAT`; sidecars written before the field existed (no `format`) have the same keys as format 1.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from dms.domain import MASTER_DATA_FIELDS, Customer, Document, DocumentStatus, Source, Version
from dms.errors import DmsError
from dms.storage import ObjectStore, keys

FORMAT = 1
JSON = "application/json"


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _datetime(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


# --- serializers -----------------------------------------------------------------------------


def customer_record(customer: Customer) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "id": customer.id,
        "number": customer.number,
        "name": customer.name,
        "kind": str(customer.kind),
        "status": str(customer.status),
        "tags": list(customer.tags),
        "folders": list(customer.folders),
        "created_at": _iso(customer.created_at),
        "emails": list(customer.emails),  # added in format 1 without a bump (older readers ignore it)
        # master data (issue 14), likewise added without a bump
        **{name: _jsonable(getattr(customer, name)) for name in MASTER_DATA_FIELDS},
    }


def _version_summary(version: Version) -> dict[str, Any]:
    return {
        "number": version.number,
        "sha256": version.sha256,
        "size": version.size,
        "mime_type": version.mime_type,
        "filename": version.filename,
        "original_filename": version.original_filename,
        "created_at": _iso(version.created_at),
        "created_by": version.created_by,
        "comment": version.comment,
        "attempts": version.attempts,
    }


def version_record(document_id: str, version: Version) -> dict[str, Any]:
    """The version's meta.json; `attempts` as of the write (on receipt and after the text was extracted)."""
    return {"format": FORMAT, "document_id": document_id} | _version_summary(version) | {
        "storage_key": version.storage_key,
        "text_key": version.text_key,
        "derivative_key": version.derivative_key,
    }


def document_record(document: Document) -> dict[str, Any]:
    latest = document.latest
    return {
        "format": FORMAT,
        "id": document.id,
        "customer_number": document.customer_number,
        "folder": document.folder,
        "class": document.document_class,
        "title": document.title,
        "source": str(document.source),
        "status": str(document.status),
        "status_reason": document.status_reason,
        "tags": list(document.tags),
        "fields": _jsonable(document.fields),
        "classification": _jsonable(document.classification),
        "document_date": _iso(document.document_date),
        "created_at": _iso(document.created_at),
        "updated_at": _iso(document.updated_at),
        "latest_version": _version_summary(latest) if latest else None,
        # Added in format 1 without a bump (older readers ignore unknown keys): what a sender
        # (e.g. an ERP) said about the document.
        "external_id": document.external_id,
        "external_source": document.external_source,
        "given_fields": _jsonable(document.given_fields),
        "given_date": _iso(document.given_date),
        "trashed_at": _iso(document.trashed_at),  # in the trash since (issue #12): a rebuild keeps it there
        "restricted": document.restricted,  # GDPR Art. 17 (issue #12): a rebuild keeps it hidden
    }


def write_customer(store: ObjectStore, customer: Customer) -> None:
    store.put(keys.customer_key(customer.id), keys.dump(customer_record(customer)), content_type=JSON)


def write_version(store: ObjectStore, document_id: str, version: Version) -> None:
    record = version_record(document_id, version)
    store.put(keys.version_meta_key(document_id, version.number), keys.dump(record), content_type=JSON)


def write_document(store: ObjectStore, document: Document) -> None:
    store.put(keys.document_key(document.id), keys.dump(document_record(document)), content_type=JSON)


# --- readers ---------------------------------------------------------------------------------


def load(data: bytes) -> dict[str, Any]:
    """A sidecar's JSON; a format newer than this release understands is refused."""
    record = keys.load(data)
    found = record.get("format", 0)
    if not isinstance(found, int) or found > FORMAT:
        raise DmsError(f"Sidecar-Format {found!r} ist unbekannt (bekannt bis {FORMAT}).", code="sidecar_format")
    return record


def read_customer(record: dict[str, Any]) -> Customer:
    return Customer(
        id=record["id"],
        number=record["number"],
        name=record["name"],
        kind=record.get("kind") or "legal",
        status=record.get("status") or "Kunde",
        tags=list(record.get("tags") or []),
        folders=list(record.get("folders") or []),
        created_at=_datetime(record.get("created_at")),
        emails=list(record.get("emails") or []),
        salutation=record.get("salutation"),
        title=record.get("title"),
        first_name=record.get("first_name"),
        last_name=record.get("last_name"),
        birth_date=_date(record.get("birth_date")),
        legal_form=record.get("legal_form"),
        register_court=record.get("register_court"),
        register_number=record.get("register_number"),
        vat_id=record.get("vat_id"),
        external_number=record.get("external_number"),
        branch=record.get("branch"),
        groups=list(record.get("groups") or []),
        addresses=[dict(a) for a in record.get("addresses") or []],
        contacts=[dict(c) for c in record.get("contacts") or []],
        bank_accounts=[dict(b) for b in record.get("bank_accounts") or []],
        consents=[dict(c) for c in record.get("consents") or []],
        communication=dict(record.get("communication") or {}),
        attributes=dict(record.get("attributes") or {}),
    )


def master_data(customer: Customer) -> dict[str, Any]:
    """The master data fields of a customer as `CustomerRepository.create` takes them (a rebuild)."""
    return {name: getattr(customer, name) for name in MASTER_DATA_FIELDS}


def read_version(meta: dict[str, Any], document_id: str, number: int, **defaults: str | None) -> Version:
    """A version from its meta.json; `defaults` fill `mime_type`, `text_key`, `derivative_key` it lacks."""
    return Version(
        number=number,
        sha256=meta["sha256"],
        size=int(meta["size"]),
        mime_type=meta.get("mime_type") or defaults.get("mime_type"),
        filename=meta["filename"],
        created_at=_datetime(meta["created_at"]),  # type: ignore[arg-type]
        created_by=meta.get("created_by") or "unbekannt",
        comment=meta.get("comment"),
        storage_key=meta.get("storage_key") or keys.original_key(document_id, number),
        text_key=meta.get("text_key") or defaults.get("text_key"),
        derivative_key=meta.get("derivative_key") or defaults.get("derivative_key"),
        # Newer keys; sidecars written by older releases lack them.
        original_filename=meta.get("original_filename"),
        attempts=int(meta.get("attempts") or 0),
    )


def read_document(record: dict[str, Any], document_id: str, versions: list[Version], title: str) -> Document:
    """A document from its sidecar with its versions; `title` when the sidecar has none."""
    return Document(
        id=record.get("id") or document_id,
        customer_number=record.get("customer_number"),
        folder=record.get("folder"),
        document_class=record.get("class"),
        title=record.get("title") or title,
        source=record.get("source") or Source.UPLOAD,
        status=record.get("status") or DocumentStatus.RECEIVED,
        status_reason=record.get("status_reason"),
        tags=list(record.get("tags") or []),
        fields=dict(record.get("fields") or {}),
        classification=dict(record.get("classification") or {}),
        document_date=_date(record.get("document_date")),
        created_at=_datetime(record.get("created_at")),
        updated_at=_datetime(record.get("updated_at")),
        versions=versions,
        external_id=record.get("external_id"),
        external_source=record.get("external_source"),
        given_fields=dict(record.get("given_fields") or {}),
        given_date=_date(record.get("given_date")),
        trashed_at=_datetime(record.get("trashed_at")),
        restricted=bool(record.get("restricted", False)),
    )
