"""The one object every ingest stage reads and writes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any


@dataclass
class PageText:
    number: int
    text: str
    method: str  # "text_layer" | "ocr" | "none"


@dataclass
class IngestContext:
    document_id: str
    version: int
    filename: str
    storage_key: str
    source: str = "upload"
    given_customer: str | None = None
    given_class: str | None = None
    given_folder: str | None = None
    given_title: str | None = None
    # Metadata the sender gave (an ERP's fields and document date): classification adds to the
    # fields but never drops or overrides these, and a given date wins over the one read.
    given_fields: dict[str, Any] = field(default_factory=dict)
    given_date: date | None = None
    # Why the sender could not name a customer (e.g. the mail gateway's routing reason): part of
    # the review reason when the document ends without a customer.
    given_review_note: str | None = None
    # What the uploader said, as stored at upload (`classification["given"]`); written back with
    # the classification so that a second run of the same version still knows it.
    given: dict[str, Any] = field(default_factory=dict)
    sha256: str = ""
    size: int = 0
    mime_type: str | None = None
    pages: list[PageText] = field(default_factory=list)
    text: str = ""
    customer_number: str | None = None
    document_class: str | None = None
    folder: str | None = None
    title: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    classification: dict[str, Any] = field(default_factory=dict)
    document_date: date | None = None
    status: str | None = None
    status_reason: str | None = None
    warnings: list[str] = field(default_factory=list)
    # Why a clerk must look at the document although it was read (e.g. a page or time budget ran
    # out); non-empty makes the filing stage end it `needs_review` with these reasons.
    review_reasons: list[str] = field(default_factory=list)
    derivatives: dict[str, str] = field(default_factory=dict)
    is_latest: bool = True
    # Scratch folder of this attempt (OCR pages, conversions); removed when the attempt ends.
    workdir: str | None = None
    # Which attempt this is (counted durably before the stages run).
    attempt: int = 1
    # When reading must stop (time.monotonic() deadline of the per-document time budget).
    deadline: float | None = None
    # E-invoice data (fields, syntax, origin) when the document is or carries one.
    einvoice: dict[str, Any] | None = None
    einvoice_xml: bytes | None = field(default=None, repr=False, compare=False)
    rendition_html: str | None = field(default=None, repr=False, compare=False)
    # Searchable PDF of a scan (page images + invisible text), the version's preview.
    searchable_pdf: bytes | None = field(default=None, repr=False, compare=False)
    # PDF rendering of an office file (LibreOffice, optional), the version's preview.
    preview_pdf: bytes | None = field(default=None, repr=False, compare=False)
    # The original bytes; loaded by the first stage, never serialised.
    data: bytes = field(default=b"", repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable view (without the bytes), for task payloads and debugging."""
        data = asdict(self)
        for transient in ("data", "einvoice_xml", "rendition_html", "searchable_pdf", "preview_pdf"):
            data.pop(transient)
        for name in ("document_date", "given_date"):
            if getattr(self, name):
                data[name] = getattr(self, name).isoformat()
        return data

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)
