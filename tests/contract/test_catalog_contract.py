"""The catalog contract, run against SQLite (embedded) and a fresh PostgreSQL database (server)."""

from __future__ import annotations

import hashlib
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime

import pytest

from dms.catalog import Catalog
from dms.domain import Document, DocumentStatus, Version
from dms.errors import Conflict, NotFound, ValidationError

FOLDERS = ["01 Stammdaten", "04 Rechnungen", "99 Eingang"]


def _customer(catalog: Catalog, name: str = "Muster GmbH", **kw):
    return catalog.create_customer(name, folders=FOLDERS, **kw)


def _version(number: int = 1, content: str | None = None) -> Version:
    data = (content or uuid.uuid4().hex).encode()
    return Version(
        number=number,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        mime_type="application/pdf",
        filename=f"scan-{number}.pdf",
        created_at=datetime.now(UTC),
        created_by="tester",
        storage_key=f"documents/x/v{number}",
    )


def _document(catalog: Catalog, customer_number: str | None = None, *, content: str | None = None, **kw) -> Document:
    draft = Document(
        id=str(uuid.uuid4()),
        customer_number=customer_number,
        folder=kw.pop("folder", None),
        document_class=None,
        title=kw.pop("title", "Rechnung"),
        source="upload",
        status=kw.pop("status", DocumentStatus.RECEIVED),
        **kw,
    )
    return catalog.create_document(draft, _version(1, content))


# --- customers ------------------------------------------------------------------------------


def test_customer_numbers_are_suggested_from_the_highest_numeric_one(catalog: Catalog) -> None:
    assert catalog.next_customer_number(first=10001) == "10001"
    first = _customer(catalog, "Erste GmbH", first_number=10001)
    assert first.number == "10001"
    _customer(catalog, "Freie Nummer AG", number="K-7")  # not numeric: ignored for suggestions
    _customer(catalog, "Sprung KG", number="10050")
    assert catalog.next_customer_number(first=10001) == "10051"
    assert _customer(catalog, "Danach GmbH").number == "10051"


def test_an_explicit_customer_number_is_unique(catalog: Catalog) -> None:
    _customer(catalog, number="20001")
    with pytest.raises(Conflict) as err:
        _customer(catalog, "Andere GmbH", number="20001")
    assert err.value.code == "customer_exists"
    assert [c.name for c in catalog.list_customers()] == ["Muster GmbH"]


def test_concurrent_customers_get_distinct_numbers(catalog: Catalog) -> None:
    with ThreadPoolExecutor(4) as pool:
        created = list(pool.map(lambda i: _customer(catalog, f"Parallel {i} GmbH"), range(8)))
    numbers = [c.number for c in created]
    assert len(set(numbers)) == 8


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "  "}, "name"),
        ({"kind": "robot"}, "kind"),
        ({"status": "VIP"}, "status"),
        ({"number": "ab cd"}, "number"),
        ({"number": "-1"}, "number"),
    ],
)
def test_customer_input_is_validated(catalog: Catalog, kwargs: dict, field: str) -> None:
    args = {"name": "Muster GmbH", **kwargs}
    with pytest.raises(ValidationError) as err:
        catalog.create_customer(args.pop("name"), folders=FOLDERS, **args)
    assert err.value.details.get("field") == field
    assert catalog.list_customers() == []


def test_customers_are_found_listed_and_updated(catalog: Catalog) -> None:
    customer = _customer(catalog, "Bäckerei Müller", tags=["b", "a", "b"])
    _customer(catalog, "Schlosserei Schmidt")
    assert customer.tags == ["a", "b"] and customer.folders == FOLDERS
    assert catalog.get_customer(customer.number) == customer
    assert catalog.find_customer("404") is None
    assert [c.number for c in catalog.find_customers_by_name(" bäckerei MÜLLER")] == [customer.number]
    assert [c.name for c in catalog.list_customers("müller")] == ["Bäckerei Müller"]
    assert [c.name for c in catalog.list_customers(limit=1, offset=1)] == ["Schlosserei Schmidt"]
    updated = catalog.update_customer(customer.number, status="ehemaliger Kunde", tags=["z", "z"])
    assert (updated.status, updated.tags) == ("ehemaliger Kunde", ["z"])
    with pytest.raises(ValidationError):
        catalog.update_customer(customer.number, folders=[])
    with pytest.raises(NotFound):
        catalog.update_customer("404", name="x")


# --- documents ------------------------------------------------------------------------------


def test_a_document_is_created_with_version_one_and_an_event(catalog: Catalog) -> None:
    customer = _customer(catalog)
    fields = {"invoice_number": "RE-1", "Größe": {"nested": [1, "ä"]}}
    doc = _document(catalog, customer.number, fields=fields, document_date=date(2026, 3, 12), tags=["x"])
    again = catalog.get_document(doc.id)
    assert again == doc
    assert (again.customer_number, again.status, again.fields) == (customer.number, "received", fields)
    assert again.document_date == date(2026, 3, 12)
    assert [v.number for v in again.versions] == [1]
    assert again.created_at is not None and again.created_at.tzinfo is not None
    assert [(e.stage, e.status) for e in catalog.events(doc.id)] == [("store_original", "received")]
    with pytest.raises(NotFound):
        catalog.get_document(str(uuid.uuid4()))
    with pytest.raises(NotFound):
        _document(catalog, "no-such-customer")


def test_versions_are_numbered_without_gaps(catalog: Catalog) -> None:
    doc = _document(catalog)
    catalog.add_version(doc.id, _version(2))
    for wrong in (2, 4):
        with pytest.raises(Conflict) as err:
            catalog.add_version(doc.id, _version(wrong))
        assert err.value.code == "version_conflict"
    with pytest.raises(NotFound):
        catalog.add_version(str(uuid.uuid4()), _version(1))
    assert [v.number for v in catalog.get_document(doc.id).versions] == [1, 2]
    assert catalog.latest_version(doc.id).number == 2
    catalog.update_version(doc.id, 2, text_key="text/2", mime_type="text/plain", filename="ignored")
    latest = catalog.latest_version(doc.id)
    assert (latest.text_key, latest.mime_type, latest.filename) == ("text/2", "text/plain", "scan-2.pdf")
    with pytest.raises(NotFound):
        catalog.update_version(doc.id, 3, text_key="x")


def test_find_duplicate_is_scoped_to_the_customer(catalog: Catalog) -> None:
    a, b = _customer(catalog, "A GmbH"), _customer(catalog, "B GmbH")
    doc = _document(catalog, a.number, content="same bytes")
    sha = doc.versions[0].sha256
    assert catalog.find_duplicate(sha, a.number) == (doc.id, 1)
    assert catalog.find_duplicate(sha, b.number) is None
    assert catalog.find_duplicate(sha, None) == (doc.id, 1)
    assert catalog.find_duplicate("0" * 64, None) is None
    other = _document(catalog, b.number, content="same bytes")  # another customer may hold the same file
    assert catalog.find_duplicate(sha, b.number) == (other.id, 1)


def test_set_status_records_every_step(catalog: Catalog) -> None:
    doc = _document(catalog)
    catalog.set_status(doc.id, DocumentStatus.PROCESSING, stage="extract_text")
    catalog.set_status(doc.id, DocumentStatus.FAILED, stage="classify_document", reason="kaputt [x]")
    failed = catalog.get_document(doc.id)
    assert (failed.status, failed.status_reason) == ("failed", "kaputt [x]")
    catalog.set_status(doc.id, DocumentStatus.FILED, stage="done")
    assert catalog.get_document(doc.id).status_reason is None
    events = [(e.stage, e.status, e.message) for e in catalog.events(doc.id)]
    assert events == [
        ("store_original", "received", None),
        ("extract_text", "processing", None),
        ("classify_document", "failed", "kaputt [x]"),
        ("done", "filed", None),
    ]
    with pytest.raises(NotFound):
        catalog.set_status(str(uuid.uuid4()), DocumentStatus.FILED, stage="done")


def test_update_document_moves_and_validates(catalog: Catalog) -> None:
    a, b = _customer(catalog, "A GmbH"), _customer(catalog, "B GmbH")
    doc = _document(catalog, a.number)
    moved = catalog.update_document(doc.id, customer_number=b.number, folder="04 Rechnungen", title="Neu")
    assert (moved.customer_number, moved.folder, moved.title) == (b.number, "04 Rechnungen", "Neu")
    assert moved.updated_at is not None and moved.updated_at >= doc.updated_at
    assert len(catalog.events(doc.id)) == 1  # no status change, no event
    catalog.update_document(doc.id, status="needs_review", status_reason="Bitte prüfen")
    assert catalog.events(doc.id)[-1].stage == "update"
    assert catalog.update_document(doc.id, customer_number=None).customer_number is None
    with pytest.raises(ValidationError):
        catalog.update_document(doc.id, versions=[])
    with pytest.raises(NotFound):
        catalog.update_document(doc.id, customer_number="404")
    with pytest.raises(NotFound):
        catalog.update_document(str(uuid.uuid4()), title="x")


def test_list_documents_filters(catalog: Catalog) -> None:
    a, b = _customer(catalog, "A GmbH"), _customer(catalog, "B GmbH")
    d1 = _document(catalog, a.number, folder="04 Rechnungen")
    d2 = _document(catalog, a.number, folder="99 Eingang")
    d3 = _document(catalog, b.number, folder="04 Rechnungen")
    catalog.set_status(d2.id, DocumentStatus.FILED, stage="done")
    ids = lambda docs: {d.id for d in docs}  # noqa: E731
    assert ids(catalog.list_documents()) == {d1.id, d2.id, d3.id}
    assert ids(catalog.list_documents(customer_number=a.number)) == {d1.id, d2.id}
    assert ids(catalog.list_documents(status="filed")) == {d2.id}
    assert ids(catalog.list_documents(folder="04 Rechnungen")) == {d1.id, d3.id}
    assert ids(catalog.list_documents(customer_number=a.number, folder="04 Rechnungen")) == {d1.id}
    assert len(catalog.list_documents(limit=2)) == 2
    assert ids(catalog.list_documents(limit=2)) | ids(catalog.list_documents(limit=2, offset=2)) == {
        d1.id, d2.id, d3.id
    }
    assert catalog.list_documents(customer_number="404") == []
    assert set(catalog.all_document_ids()) == {d1.id, d2.id, d3.id}


def test_pending_documents_are_received_or_processing(catalog: Catalog) -> None:
    received, processing, filed, failed = (_document(catalog) for _ in range(4))
    catalog.set_status(processing.id, DocumentStatus.PROCESSING, stage="extract_text")
    catalog.set_status(filed.id, DocumentStatus.FILED, stage="done")
    catalog.set_status(failed.id, DocumentStatus.FAILED, stage="done", reason="x")
    assert set(catalog.pending_document_ids()) == {received.id, processing.id}


def test_audit_entries_are_kept_in_order(catalog: Catalog) -> None:
    catalog.audit.record("anna", "document.read", "document", "d-1", version=1)
    catalog.audit.record("ben", "document.download", "document", "d-1")
    catalog.audit.record("anna", "document.read", "document", "d-2")
    entries = catalog.audit_entries("document", "d-1")
    assert [(e["actor"], e["action"], e["version"], e["details"]) for e in entries] == [
        ("anna", "document.read", 1, {}),
        ("ben", "document.download", None, {}),
    ]
    assert datetime.fromisoformat(entries[0]["at"]) <= datetime.fromisoformat(entries[1]["at"])
    assert catalog.audit_entries("customer", "d-1") == []


def test_ping_answers_and_reports_an_unreachable_catalog(catalog: Catalog, backend: str, tmp_path) -> None:
    assert catalog.ping() is None  # reachable: answers without raising
    from sqlalchemy.engine import make_url

    from dms.errors import BackendUnavailable
    from tests.live import free_port

    if backend == "embedded":
        unreachable = f"sqlite:///{tmp_path / 'no-such-folder' / 'catalog.db'}"
    else:
        unreachable = make_url(str(catalog.engine.url)).set(port=free_port()).render_as_string(hide_password=False)
    dead = Catalog(unreachable)
    try:
        with pytest.raises(BackendUnavailable):
            dead.ping()
    finally:
        dead.close()
