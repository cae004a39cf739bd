"""Domain records passed between layers. Plain dataclasses: no ORM, no web types."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any


class CustomerKind(StrEnum):
    NATURAL = "natural"
    LEGAL = "legal"


class CustomerStatus(StrEnum):
    PROSPECT = "Interessent"
    CUSTOMER = "Kunde"
    FORMER = "ehemaliger Kunde"


class DocumentStatus(StrEnum):
    RECEIVED = "received"
    PROCESSING = "processing"
    FILED = "filed"
    NEEDS_REVIEW = "needs_review"
    FAILED = "failed"


class Source(StrEnum):
    UPLOAD = "upload"
    EMAIL = "email"
    ERP = "erp"
    API = "api"
    HOTFOLDER = "hotfolder"  # `dms watch` (dms/watch.py)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


@dataclass
class Customer:
    id: str
    number: str
    name: str
    kind: str = CustomerKind.LEGAL
    status: str = CustomerStatus.CUSTOMER
    tags: list[str] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    created_at: datetime | None = None
    # Known mail addresses (lower case): mail from them to the general address is routed here.
    emails: list[str] = field(default_factory=list)
    # Retention (issue #12): a legal hold covers all its documents; GDPR erasure state
    # (None | "restricted" | "erased") and when erasure was requested.
    legal_hold: bool = False
    legal_hold_reason: str | None = None
    erasure_state: str | None = None
    erasure_requested_at: datetime | None = None
    # Master data (issue 14). Natural persons: salutation (Herr|Frau|Divers), title, first and last
    # name, birth date (`name` is their display name). Legal persons: legal form, register court
    # and number, VAT id. Both: an external number (older system, ERP), branch, groups, and lists
    # of dicts as dms/customer_input.py validates them: addresses ({kind, street, postal_code,
    # city, country, addition, normalized}), contacts in priority order ({name, role, phones,
    # email, availability, relation, emergency}), bank_accounts ({iban, bic, holder, label}),
    # consents ({purpose, granted, date, source}); communication ({preferred_channel, language,
    # no_advertising}) and custom attributes ({key: value}).
    salutation: str | None = None
    title: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    birth_date: date | None = None
    legal_form: str | None = None
    register_court: str | None = None
    register_number: str | None = None
    vat_id: str | None = None
    external_number: str | None = None
    branch: str | None = None
    groups: list[str] = field(default_factory=list)
    addresses: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    bank_accounts: list[dict[str, Any]] = field(default_factory=list)
    consents: list[dict[str, Any]] = field(default_factory=list)
    communication: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    # Catalog state (incremented by every update), not part of the record: not compared, not shown.
    row_version: int = field(default=1, compare=False)

    def master_data(self) -> dict[str, Any]:
        """The master data of issue 14 that is set (JSON values), for the ETag."""
        return {name: _jsonable(getattr(self, name)) for name in MASTER_DATA_FIELDS if getattr(self, name)}

    @property
    def etag(self) -> str:
        """A strong HTTP entity tag of this state of the customer (changes with every update)."""
        state = [self.id, self.number, self.name, str(self.kind), str(self.status), sorted(self.tags),
                 list(self.folders), self.row_version]
        if self.emails:  # only when set: the ETags of customers without addresses stay as they were
            state.append(list(self.emails))
        master = self.master_data()
        if master:  # likewise: customers without master data keep their ETags
            state.append(master)
        digest = hashlib.sha256(json.dumps(state, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()
        return f'"{digest[:32]}"'

    def to_dict(self) -> dict[str, Any]:
        data = _jsonable(asdict(self))
        data.pop("row_version")
        return data


MASTER_DATA_FIELDS = (
    "salutation", "title", "first_name", "last_name", "birth_date", "legal_form", "register_court",
    "register_number", "vat_id", "external_number", "branch", "groups", "addresses", "contacts",
    "bank_accounts", "consents", "communication", "attributes",
)


@dataclass
class Version:
    number: int
    sha256: str
    size: int
    mime_type: str | None
    filename: str
    created_at: datetime
    created_by: str
    comment: str | None = None
    storage_key: str = ""
    text_key: str | None = None
    derivative_key: str | None = None
    # The file name exactly as it was sent (`filename` is the sanitised one); None for old versions.
    original_filename: str | None = None
    # Ingest attempts started for this version (counted before the stages run, see
    # ingest/pipeline.py). Operational state, not part of the record: not compared.
    attempts: int = field(default=0, compare=False)

    def to_dict(self) -> dict[str, Any]:
        data = _jsonable(asdict(self))
        data.pop("storage_key")
        data.pop("text_key")
        data.pop("derivative_key")
        return data


@dataclass
class Document:
    id: str
    customer_number: str | None
    folder: str | None
    document_class: str | None
    title: str
    source: str
    status: str
    status_reason: str | None = None
    tags: list[str] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)
    classification: dict[str, Any] = field(default_factory=dict)
    document_date: date | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    versions: list[Version] = field(default_factory=list)
    # The sender's own id of the document (an ERP's document number) and who sent it (principal name).
    external_id: str | None = None
    external_source: str | None = None
    # Metadata the sender gave; `fields`/`document_date` hold them merged with what the pipeline found.
    given_fields: dict[str, Any] = field(default_factory=dict)
    given_date: date | None = None
    # Position in the order the catalog received documents (cursor pagination); catalog state.
    seq: int | None = field(default=None, compare=False)
    # Retention (issue #12): the latest retain-until over its archived versions (None: not archived
    # under a lock): catalog state derived from the archive's rows (a catalog rebuilt from the
    # sidecars has none until the catch-up archives again), so not compared; legal hold, GDPR
    # Art. 17 restriction, in the trash since.
    archived_until: datetime | None = field(default=None, compare=False)
    legal_hold: bool = False
    legal_hold_reason: str | None = None
    restricted: bool = False
    trashed_at: datetime | None = None

    @property
    def latest(self) -> Version | None:
        return max(self.versions, key=lambda v: v.number) if self.versions else None

    def version(self, number: int | None) -> Version | None:
        if number is None:
            return self.latest
        return next((v for v in self.versions if v.number == number), None)

    def to_dict(self, *, with_versions: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "customer_number": self.customer_number,
            "folder": self.folder,
            "class": self.document_class,
            "title": self.title,
            "source": self.source,
            "status": self.status,
            "status_reason": self.status_reason,
            "tags": list(self.tags),
            "fields": _jsonable(self.fields),
            "classification": _jsonable(self.classification),
            "document_date": _jsonable(self.document_date),
            "created_at": _jsonable(self.created_at),
            "updated_at": _jsonable(self.updated_at),
            "external_id": self.external_id,
            "external_source": self.external_source,
            "given": {"fields": _jsonable(self.given_fields), "document_date": _jsonable(self.given_date)},
            "archived_until": _jsonable(self.archived_until),
            "legal_hold": self.legal_hold,
            "restricted": self.restricted,
            "trashed_at": _jsonable(self.trashed_at),
        }
        latest = self.latest
        data["latest_version"] = latest.to_dict() if latest else None
        if with_versions:
            data["versions"] = [v.to_dict() for v in sorted(self.versions, key=lambda v: v.number)]
        return data


@dataclass(frozen=True)
class ArchivedObject:
    """One object in the WORM archive (a catalog `archive_objects` row).

    kind: "original", "sidecar" (the version's meta.json), "derivative" (searchable PDF), "text"
    (extracted text), or "expired": a marker that nothing was archived because the version's
    retention had already ended when it was filed (`retain_until` is that past date, no key).
    """

    id: int
    document_id: str
    version: int
    kind: str
    key: str
    version_id: str | None
    sha256: str
    size: int
    retain_until: datetime | None
    mode: str | None
    legal_hold: bool = False
    created_at: datetime | None = None

    @property
    def stored(self) -> bool:
        """Whether an object exists in the archive for this row (not an "expired" marker)."""
        return self.version_id is not None

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass
class DocumentEvent:
    at: datetime
    stage: str
    status: str
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))
