"""The API's request and response shapes as pydantic models, for the OpenAPI document only.

The views keep parsing with `dms.web.params`, `dms.web.body` and `dms.validation` (one place for
input rules); these models describe the same rules (lengths and ranges are the constants those
modules use) and the JSON that the domain's `to_dict` methods produce. Response models allow
fields they do not name (clients ignore unknown fields); request bodies do not (the API refuses
unknown fields with a 400).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.json_schema import SkipJsonSchema

from dms import validation as v
from dms.app.intake import CREATED, NEW_VERSION, UNCHANGED
from dms.catalog.customers import NUMBER_RE
from dms.domain import DocumentStatus, Source

# text that is not empty once control and bidi characters and surrounding white space are removed
VISIBLE = r"[^\s\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u061c]"
Name = Annotated[str, Field(min_length=1, max_length=v.MAX_NAME, pattern=VISIBLE)]
Tag = Annotated[str | None, Field(max_length=v.MAX_TAG)]
TagArray = Annotated[list[Tag], Field(max_length=v.MAX_TAGS,
                                      description="Keywords; duplicates, empty and null entries are dropped.")]
TagList = Annotated[str, Field(
    pattern=f"^[^,]{{0,{v.MAX_TAG}}}(,[^,]{{0,{v.MAX_TAG}}}){{0,{v.MAX_TAGS - 1}}}$",
    description=f"Comma-separated keywords (or the field repeated); each at most {v.MAX_TAG} characters, at most "
    f"{v.MAX_TAGS}.",
)]
Tags = Annotated[TagArray | TagList, Field(description="Keywords (an array, or one comma-separated text); "
                                       "duplicates are dropped.")]
Email = Annotated[str, Field(max_length=v.MAX_EMAIL, pattern=v.EMAIL_PATTERN)]
Emails = Annotated[list[Email], Field(
    max_length=v.MAX_EMAILS, description="Mail addresses of the customer (stored in lower case, duplicates dropped); "
    "mail from them to the general address is filed into this customer file.",
)]
CustomerNumber = Annotated[
    str, Field(pattern=NUMBER_RE.pattern, max_length=v.MAX_NUMBER, description="Customer number (Kundennummer).")
]
# an optional field that must not be null when it is sent (the API answers null with a 400)
Omitted = SkipJsonSchema[None]
# Values the running server's configuration decides; `document.py` replaces the marker with an `enum`
# (`document_classes`, `folders`) or a bound (`max_batch_items`) read from its settings (or with a `$ref`
# to one of EXTRA_SCHEMAS, which pydantic cannot refer to itself: `fields`).
CHOICES = "x-choices"
NumberInput = Annotated[
    CustomerNumber | Annotated[int, Field(ge=0, le=10**v.MAX_NUMBER - 1)],
    Field(description="Customer number; an integer is taken as written."),
]


class Response(BaseModel):
    """A JSON object the API sends; it may carry fields not named here."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Request(BaseModel):
    """A JSON object the API accepts; any other field is a 400."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --- errors -----------------------------------------------------------------------------------


class ErrorDetail(Response):
    """`code` and `message`, and members that depend on the error (any other member may follow)."""

    code: str = Field(description="Stable machine-readable code, e.g. `invalid_request`, `customer_not_found`.")
    message: str = Field(description="What went wrong, in German, quoting at most a short prefix of the input.")
    field: str | Omitted = Field(None, description="The request field or parameter at fault, when there is one.")
    fields: dict[str, str] | Omitted = Field(
        None, description="422 `invalid_metadata`/`invalid_manifest`: one message per bad field (by its name)."
    )
    limit: int | Omitted = Field(None, description="400 of a search over a limit: the limit (`query_too_long`, …).")
    document_id: str | Omitted = Field(None, description="409 `duplicate`: the document that has these bytes.")
    version: int | Omitted = Field(None, description="409 `duplicate`: its version with these bytes.")
    missing_permission: str | Omitted = Field(None, description="403: the permission the credential lacks.")
    roles_with_permission: list[str] | Omitted = Field(None, description="403: the roles that have it.")


class Error(Response):
    """Every error response: `{"error": {"code", "message", …}}`."""

    error: ErrorDetail


# --- customers: dms/web/openapi/customer_models.py (issue 14) ----------------------------------


# --- documents --------------------------------------------------------------------------------


class Version(Response):
    number: int = Field(ge=1)
    sha256: str = Field(pattern="^[0-9a-f]{64}$")
    size: int = Field(ge=0)
    mime_type: str | None = Field(description="The type detected from the content; null until detected.")
    filename: str = Field(description="The stored (sanitised) file name.")
    created_at: datetime
    created_by: str
    comment: str | None = None
    original_filename: str | None = Field(None, description="The name as sent, when it differs from `filename`.")
    attempts: int = Field(0, ge=0, description="Ingest attempts started for this version.")


class Event(Response):
    at: datetime
    stage: str
    status: str
    message: str | None = None


class Links(Response):
    self: str
    content: str
    preview: str
    versions: str


class Given(Response):
    """The metadata as the sender gave it (before the pipeline added what it read)."""

    fields: dict[str, Any]
    document_date: date | None


class Document(Response):
    id: str
    customer_number: str | None
    folder: str | None
    document_class: str | None = Field(alias="class")
    title: str
    source: str = Field(description=f"Where it came from: {', '.join(Source)}.")
    status: DocumentStatus
    status_reason: str | None = Field(description="Why it needs review or failed.")
    tags: list[str]
    fields: dict[str, Any] = Field(description="Key fields read from the content (invoice number, date, total, …).")
    classification: dict[str, Any] = Field(description="Why it was classified and filed as it was.")
    document_date: date | None = Field(description="The sender's `document_date` if it gave one, else the one read.")
    created_at: datetime | None
    updated_at: datetime | None
    external_id: str | None = Field(description="The sender's own id of the document (e.g. an ERP's number).")
    external_source: str | None = Field(description="Who sent `external_id` (the principal: `token:<name>`, a user).")
    given: Given
    latest_version: Version | None
    archived_until: datetime | None = Field(
        None, description="Retained in the WORM archive until (the latest retain-until of its archived versions); "
        "null: not archived under a lock."
    )
    legal_hold: bool = Field(False, description="Under its own legal hold (a customer's hold covers every "
                            "document of the customer too).")
    restricted: bool = Field(False, description="GDPR Art. 17 restriction (shown to admins and auditors only).")
    trashed_at: datetime | None = Field(None, description="In the trash since (deleted, purged later).")


class Related(Response):
    """A document linked to this one."""

    id: str
    kind: str = Field(description="`attachment` (of this mail) or `mail` (this attachment came with).")
    title: str | None
    customer_number: str | None
    folder: str | None


class DocumentStatusReply(Response):
    id: str
    status: Literal["received", "processing", "filed", "needs_review", "failed"]
    status_reason: str | None = Field(None, description="Why it needs review or failed (German).")
    version: int | None = Field(None, description="The latest version's number.")


class DocumentDetail(Document):
    versions: list[Version]
    events: list[Event] = Field(description="Pipeline stages and status changes, oldest first.")
    links: Links
    related: list[Related] = Field(description="Linked documents (a mail and its attachments), in link order.")


class DocumentWithVersions(Document):
    versions: list[Version]


class DocumentList(Response):
    documents: list[Document]
    next_cursor: str | None = Field(
        description="Pass as `cursor` (with the same filters) for the documents after this page; null on the last "
        "page of `order=newest` (with `order=oldest` always set, to fetch later what arrived since)."
    )
    has_more: bool = Field(description="Whether more documents matched when this page was read.")


Outcome = Literal[CREATED, NEW_VERSION, UNCHANGED]


class UploadAccepted(Response):
    """A new version of a document (`POST /documents/{id}/versions`)."""

    id: str
    status: DocumentStatus
    version: int = Field(ge=1)
    links: Links


class UploadReceipt(UploadAccepted):
    """What an upload did: `created` a document, added a `new_version` to the sender's document with this
    `external_id`, or found those bytes there already (`unchanged`, 200)."""

    outcome: Outcome
    external_id: str | None


class BatchItemAccepted(Response):
    index: int = Field(ge=0, description="Position of the file in the request.")
    filename: str | None
    status: Literal[200, 202] = Field(description="What `POST /documents` would have answered for this file.")
    id: str
    version: int = Field(ge=1)
    outcome: Outcome
    document_status: DocumentStatus
    external_id: str | None
    links: Links


class BatchItemFailed(Response):
    index: int = Field(ge=0, description="Position of the file in the request.")
    filename: str | None
    status: int = Field(ge=400, le=599, description="What `POST /documents` would have answered for this file.")
    error: ErrorDetail


class BatchResult(Response):
    results: list[BatchItemAccepted | BatchItemFailed] = Field(description="One per file, in request order.")
    accepted: int = Field(ge=0, description="Items answered 200 or 202.")
    failed: int = Field(ge=0)


class FileFolder(Response):
    name: str
    documents: list[Document]


def _fields_schemas() -> dict[str, dict[str, Any]]:
    """`fields`: a JSON object of at most MAX_FIELDS keys whose values nest at most MAX_FIELDS_DEPTH levels
    (dms.validation.fields_field); named schemas, added to `components.schemas` by document.py."""
    schemas: dict[str, dict[str, Any]] = {"FieldScalar": {"type": ["string", "number", "boolean", "null"]}}
    inner = "FieldScalar"
    for level in range(v.MAX_FIELDS_DEPTH - 1, 0, -1):  # the values inside the deepest container are scalars
        ref = {"$ref": f"{SCHEMAS}{inner}"}
        schemas[f"FieldValue{level}"] = {"anyOf": [
            {"$ref": f"{SCHEMAS}FieldScalar"}, {"type": "array", "items": ref},
            {"type": "object", "additionalProperties": ref},
        ]}
        inner = f"FieldValue{level}"
    # the reserved names stay in the description: a `not` here trips schemathesis 4.32's coverage phase
    names = {"minLength": 1, "maxLength": v.MAX_FIELD_KEY, "pattern": VISIBLE}
    schemas["Fields"] = {
        "type": "object", "maxProperties": v.MAX_FIELDS, "propertyNames": names,
        "additionalProperties": {"$ref": f"{SCHEMAS}{inner}"},
        "description": f"Key fields of the sender (invoice number, amounts, cost centre, …): a JSON object of at "
        f"most {v.MAX_FIELDS} keys (1–{v.MAX_FIELD_KEY} characters; {', '.join(sorted(v.RESERVED_FIELDS))} is "
        f"reserved), values nested at most {v.MAX_FIELDS_DEPTH} levels, at most {v.MAX_FIELDS_BYTES // 1024} KB as "
        "JSON. The pipeline adds what it reads but never overrides these. In a form: the JSON text.",
    }
    return schemas


SCHEMAS = "#/components/schemas/"
EXTRA_SCHEMAS = _fields_schemas()  # schemas that are no model
Fields = Annotated[dict[str, Any], WithJsonSchema({CHOICES: "fields"})]  # a $ref to EXTRA_SCHEMAS["Fields"]
DocumentClass = Annotated[str, Field(max_length=64, description="A class of the configuration.",
                                     json_schema_extra={CHOICES: "document_classes"})]
Folder = Annotated[str, Field(max_length=200, description="A folder of the customer's file (the Aktenplan).",
                              json_schema_extra={CHOICES: "folders"})]
Title = Annotated[str, Field(max_length=v.MAX_TITLE)]
Comment = Annotated[str, Field(max_length=v.MAX_COMMENT, description="A comment on this version.")]
ExternalId = Annotated[str, Field(
    max_length=v.MAX_EXTERNAL_ID, description="The sender's own id of the document, unique per sender: a known id "
    "with the same bytes is answered 200 `unchanged`, with other bytes it becomes the next version (202 `new_version`)."
)]
DocumentDate = Annotated[date, Field(description="The document's date (`JJJJ-MM-TT`); wins over the one read from it.")]
NumberField = Annotated[str, Field(pattern=NUMBER_RE.pattern, max_length=v.MAX_NUMBER,
                                   description="Customer number (Kundennummer) of an existing customer.")]


class UploadMetadata(Request):
    """The `metadata` part of an upload (one entry of a batch `manifest`): the form fields as one JSON object.
    A field may not be sent both as a form field and here (422). `null` is the same as absent."""

    customer_number: NumberInput | None = None
    document_class: DocumentClass | None = None
    folder: Folder | None = None
    title: Title | None = None
    tags: Tags | None = None
    source: Source | None = Field(None, description="Default `api`.")
    comment: Comment | None = None
    external_id: ExternalId | None = None
    document_date: DocumentDate | None = None
    fields: Fields | Omitted = None


class VersionMetadata(Request):
    """The `metadata` part of a new version: the form fields as one JSON object (not both; 422)."""

    comment: Comment | None = None
    document_date: DocumentDate | None = None
    fields: Fields | Omitted = None


FILE = Field(
    description="The file (any type; the type is detected from the content).",
    json_schema_extra={"contentMediaType": "application/octet-stream"},
)


class Upload(BaseModel):
    """multipart/form-data of an upload. Metadata as form fields, or in one JSON part `metadata`, not the same
    field in both; malformed metadata is a 422 `invalid_metadata` naming each field in `fields`, an unknown
    customer, class or folder a 400. Other form fields are ignored."""

    model_config = ConfigDict(extra="allow")

    file: bytes = FILE
    customer_number: NumberField | Omitted = None
    document_class: DocumentClass | Omitted = None
    folder: Folder | Omitted = None
    title: Title | Omitted = None
    tags: TagList | Omitted = None
    source: Source | Omitted = Field(None, description="Default `api`.")
    comment: Comment | Omitted = None
    external_id: ExternalId | Omitted = None
    document_date: DocumentDate | Omitted = None
    fields: Fields | Omitted = None
    metadata: UploadMetadata | Omitted = Field(None, description="The metadata as one JSON part (`application/json`).")


class VersionUpload(BaseModel):
    """multipart/form-data of a new version: the file, and metadata as form fields or in one JSON part
    `metadata` (a new `document_date`/`fields` replaces what the sender said before). Other form fields are
    ignored; `external_id` is not allowed here (422)."""

    model_config = ConfigDict(extra="allow")

    file: bytes = FILE
    comment: Comment | Omitted = None
    document_date: DocumentDate | Omitted = None
    fields: Fields | Omitted = None
    metadata: VersionMetadata | Omitted = Field(None, description="The metadata as one JSON part (`application/json`).")


class BatchUpload(BaseModel):
    """multipart/form-data of a batch: `file` parts and one optional `manifest` part."""

    model_config = ConfigDict(extra="allow")

    file: list[bytes] = Field(
        min_length=1, description="The files, each as its own part named `file`; more than `api.max_batch_items` is a "
        "413 `too_many_items`; all together count against `ingest.max_upload_mb`.",
        json_schema_extra={CHOICES: "max_batch_items", "items": {"type": "string",
                                                                 "contentMediaType": "application/octet-stream"}},
    )
    manifest: list[Any] | Omitted = Field(
        None, description="A JSON array with one metadata object per file, in the same order (another length: 422 "
        "`invalid_manifest`); each entry as the `metadata` part of an upload (`UploadMetadata`). An entry that is "
        "not is refused in its item's result (422 `invalid_metadata`), the other files are still taken. Without a "
        "manifest the files carry no metadata.",
    )


class DocumentUpdate(Request):
    """Filing by hand. `class` and `document_class` are the same field."""

    customer_number: NumberInput | None = None
    document_class: DocumentClass | Literal[""] | None = Field(None, alias="class")
    document_class_alias: DocumentClass | Literal[""] | None = Field(None, alias="document_class")
    folder: Folder | Literal[""] | None = None
    title: str | Omitted = Field(None, min_length=1, max_length=v.MAX_TITLE, pattern=VISIBLE)
    tags: Tags | None = None


# --- query parameters (one model per endpoint; each field is one parameter) --------------------

Limit = Annotated[int, Field(ge=1, le=1000, description="At most this many.")]
Offset = Annotated[int, Field(ge=0, le=1_000_000, description="Skip this many.")]
Flag = Annotated[bool, Field(description="`1`/`true` or `0`/`false`.")]
