"""The sidecar format is our own and versioned; older sidecars (no `format`) are still read."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from dms import sidecars
from dms.domain import Customer, Document, Version
from dms.errors import DmsError
from dms.storage import keys

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
VERSION = Version(
    number=1, sha256="ab" * 32, size=3, mime_type="application/pdf", filename="r.pdf", created_at=NOW,
    created_by="anna", storage_key="documents/d/v1/original", text_key="documents/d/v1/text.txt",
    original_filename="../r.pdf", attempts=2,
)
DOCUMENT = Document(
    id="d", customer_number="10001", folder="03 Rechnungen", document_class="Rechnung", title="R 1",
    source="api", status="filed", tags=["a"], fields={"total": "1.00"}, classification={"class": "Rechnung"},
    document_date=date(2026, 2, 1), created_at=NOW, updated_at=NOW, versions=[VERSION],
)
CUSTOMER = Customer(id="c", number="10001", name="Muster GmbH", tags=["x"], folders=["01 A"], created_at=NOW)


def test_records_carry_the_format_and_read_back() -> None:
    customer = sidecars.customer_record(CUSTOMER)
    meta = sidecars.version_record("d", VERSION)
    document = sidecars.document_record(DOCUMENT)
    assert customer["format"] == meta["format"] == document["format"] == sidecars.FORMAT == 1
    assert sidecars.read_customer(sidecars.load(keys.dump(customer))) == CUSTOMER
    version = sidecars.read_version(sidecars.load(keys.dump(meta)), "d", 1)
    assert (version, version.storage_key, version.text_key, version.attempts) == (
        VERSION, VERSION.storage_key, VERSION.text_key, 2
    )
    assert sidecars.read_document(sidecars.load(keys.dump(document)), "d", [version], title="x") == DOCUMENT


def test_sidecars_written_before_the_format_field_are_read() -> None:
    legacy = CUSTOMER.to_dict()  # what older releases wrote: the API's JSON, no "format"
    assert "format" not in legacy
    assert sidecars.read_customer(sidecars.load(keys.dump(legacy))) == CUSTOMER
    old_document = DOCUMENT.to_dict(with_versions=False)
    assert sidecars.read_document(sidecars.load(keys.dump(old_document)), "d", [VERSION], title="x") == DOCUMENT


def test_a_newer_format_is_refused() -> None:
    with pytest.raises(DmsError) as caught:
        sidecars.load(keys.dump(sidecars.customer_record(CUSTOMER) | {"format": 2}))
    assert caught.value.code == "sidecar_format"
