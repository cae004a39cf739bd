"""Mapping between ORM rows and domain records."""

from __future__ import annotations

from datetime import UTC, datetime

from dms.catalog.models import CustomerRow, DocumentRow, VersionRow
from dms.domain import Customer, Document, Version


def aware(value: datetime | None) -> datetime | None:
    """SQLite drops the timezone; every stored time is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def customer_from_row(row: CustomerRow) -> Customer:
    return Customer(
        id=row.id,
        number=row.number,
        name=row.name,
        kind=row.kind,
        status=row.status,
        tags=list(row.tags or []),
        folders=list(row.folders or []),
        created_at=aware(row.created_at),
        emails=list(row.emails or []),
        legal_hold=bool(row.legal_hold),
        legal_hold_reason=row.legal_hold_reason,
        erasure_state=row.erasure_state,
        erasure_requested_at=aware(row.erasure_requested_at),
        salutation=row.salutation,
        title=row.title,
        first_name=row.first_name,
        last_name=row.last_name,
        birth_date=row.birth_date,
        legal_form=row.legal_form,
        register_court=row.register_court,
        register_number=row.register_number,
        vat_id=row.vat_id,
        external_number=row.external_number,
        branch=row.branch,
        groups=list(row.groups or []),
        addresses=[dict(a) for a in row.addresses or []],
        contacts=[dict(c) for c in row.contacts or []],
        bank_accounts=[dict(b) for b in row.bank_accounts or []],
        consents=[dict(c) for c in row.consents or []],
        communication=dict(row.communication or {}),
        attributes=dict(row.attributes or {}),
        row_version=row.row_version or 1,
    )


def version_from_row(row: VersionRow) -> Version:
    return Version(
        number=row.number,
        sha256=row.sha256,
        size=row.size,
        mime_type=row.mime_type,
        filename=row.filename,
        created_at=aware(row.created_at),  # type: ignore[arg-type]
        created_by=row.created_by,
        comment=row.comment,
        storage_key=row.storage_key,
        text_key=row.text_key,
        derivative_key=row.derivative_key,
        original_filename=row.original_filename,
        attempts=row.attempts or 0,
    )


def version_to_row(version: Version) -> VersionRow:
    return VersionRow(
        number=version.number,
        sha256=version.sha256,
        size=version.size,
        mime_type=version.mime_type,
        filename=version.filename,
        created_at=version.created_at,
        created_by=version.created_by,
        comment=version.comment,
        storage_key=version.storage_key,
        text_key=version.text_key,
        derivative_key=version.derivative_key,
        original_filename=version.original_filename,
        attempts=version.attempts,
    )


def document_from_row(row: DocumentRow) -> Document:
    return Document(
        id=row.id,
        customer_number=row.customer.number if row.customer else None,
        folder=row.folder,
        document_class=row.document_class,
        title=row.title,
        source=row.source,
        status=row.status,
        status_reason=row.status_reason,
        tags=list(row.tags or []),
        fields=dict(row.fields or {}),
        classification=dict(row.classification or {}),
        document_date=row.document_date,
        created_at=aware(row.created_at),
        updated_at=aware(row.updated_at),
        versions=[version_from_row(v) for v in row.versions],
        external_id=row.external_id,
        external_source=row.external_source,
        given_fields=dict(row.given_fields or {}),
        given_date=row.given_date,
        seq=row.seq,
        archived_until=aware(row.archived_until),
        legal_hold=bool(row.legal_hold),
        legal_hold_reason=row.legal_hold_reason,
        restricted=bool(row.restricted),
        trashed_at=aware(row.trashed_at),
    )


def document_to_row(document: Document, customer_id: str | None, now: datetime) -> DocumentRow:
    """A new row for `document` with all its versions; missing times become `now`."""
    row = DocumentRow(
        id=document.id,
        customer_id=customer_id,
        folder=document.folder,
        document_class=document.document_class,
        title=document.title,
        source=document.source,
        status=document.status,
        status_reason=document.status_reason,
        tags=list(document.tags),
        fields=dict(document.fields),
        classification=dict(document.classification),
        document_date=document.document_date,
        created_at=document.created_at or now,
        updated_at=document.updated_at or document.created_at or now,
        external_id=document.external_id,
        external_source=document.external_source,
        given_fields=dict(document.given_fields) or None,
        given_date=document.given_date,
        archived_until=document.archived_until,
        legal_hold=document.legal_hold,
        legal_hold_reason=document.legal_hold_reason,
        restricted=document.restricted,
        trashed_at=document.trashed_at,
    )
    for version in sorted(document.versions, key=lambda v: v.number):
        row.versions.append(version_to_row(version))
    return row
