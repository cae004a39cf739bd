"""Catalog and search index rebuilt from the object store alone (embedded backends).

The same scenario runs against MinIO, PostgreSQL and OpenSearch in tests/contract/test_rebuild_contract.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dms import sidecars
from dms.catalog import Catalog
from dms.config import Settings
from dms.documents import Upload, receive_document, receive_version, refile
from dms.domain import Customer
from dms.errors import Conflict
from dms.rebuild import planned_items, rebuild_catalog, reindex
from dms.search import EmbeddedSearchIndex, SearchQuery
from dms.services import Services, build_services
from dms.storage import ObjectStore, keys
from ingest.pipeline import process_version
from tests.docgen import make_pdf

QUERIES = ("Zitronenfalter", "Wartungsvertrag", "Drachenbauer", "Honigmelonen", "Schmetterlingshaus")


def _customer(services: Services, name: str) -> Customer:
    customer = services.catalog.create_customer(
        name, folders=services.settings.folder_template, tags=["rebuild"],
        first_number=services.settings.first_customer_number,
    )
    sidecars.write_customer(services.store, customer)
    return customer


def _ingest(services: Services, data: bytes, filename: str, **upload: object) -> str:
    document = receive_document(services, Upload(data, filename, **upload))  # type: ignore[arg-type]
    process_version(services, document.id, 1)
    return document.id


def fill(services: Services) -> list[str]:
    """Customers and documents in every state (filed, versioned, refiled, inbox, failed); their ids."""
    first = _customer(services, "Zitronen Handel GmbH")
    second = _customer(services, "Kesselflicker KG")
    invoice = _ingest(services, make_pdf([
        "Muster Handel GmbH - Rechnung",
        "Rechnungsnummer: RE-2026-0815   Rechnungsdatum: 12.03.2026",
        "Wir berechnen Ihnen die Lieferung Zitronenfalter wie vereinbart.",
        "Gesamtbetrag: 1.190,00 EUR",
    ]), "rechnung.pdf", customer_number=first.number)
    contract = _ingest(services, make_pdf(["Wartungsvertrag Heizungsanlage", "Laufzeit zwölf Monate"]),
                       "vertrag.pdf", customer_number=second.number, tags=("wartung",))
    receive_version(services, contract, Upload(
        make_pdf(["Wartungsvertrag Heizungsanlage", "Laufzeit 24 Monate, Vertragspartner Drachenbauer"]),
        "vertrag-v2.pdf", comment="Verlängert"))
    process_version(services, contract, 2)
    inbox = _ingest(services, make_pdf(["Angebot Nr. 55", "Wir bieten Ihnen Honigmelonen an"]), "angebot.pdf")
    refiled = _ingest(services, make_pdf(["Unterlagen zum Schmetterlingshaus in Potsdam"]), "unterlagen.pdf")
    refile(services, refiled, {"customer_number": first.number, "title": "Schmetterlingshaus"}, "tester")
    failed = _ingest(services, b"", "leer.pdf", customer_number=second.number)
    return [invoice, contract, inbox, refiled, failed]


def _hits(index: object, query: str) -> set[str]:
    return {h.id for h in index.search(SearchQuery(text=query)).hits}  # type: ignore[attr-defined]


def snapshot(services: Services, document_ids: list[str]) -> dict[str, Any]:
    return {
        "customers": services.catalog.list_customers(),
        "documents": {d: services.catalog.get_document(d) for d in document_ids},
        "hits": {q: _hits(services.index, q) for q in QUERIES},
    }


def rebuild_and_compare(before: dict[str, Any], store: ObjectStore, settings: Settings, catalog: Catalog,
                        index: object) -> dict[str, int]:
    """Rebuild from `store` alone into an empty catalog and index; assert it matches `before`."""
    steps: list[int] = []
    counts = rebuild_catalog(store, catalog, progress=steps.append)
    assert len(steps) == sum(steps) == planned_items(store)
    target = Services(settings, store=store, catalog=catalog, index=index)  # type: ignore[arg-type]
    assert reindex(target) == 4  # all but the failed one have text

    assert catalog.list_customers() == before["customers"]
    assert sorted(catalog.all_document_ids()) == sorted(before["documents"])
    for document_id, document in before["documents"].items():
        restored = catalog.get_document(document_id)
        assert restored == document, document_id
        assert [(v.storage_key, v.text_key, v.mime_type) for v in restored.versions] == [
            (v.storage_key, v.text_key, v.mime_type) for v in document.versions
        ]
        assert catalog.events(document_id)[-1].stage == "restore"
    assert {q: _hits(index, q) for q in QUERIES} == before["hits"]
    return counts


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({"DMS_DATA_DIR": str(tmp_path / "data")})


def test_rebuild_restores_catalog_and_search_from_the_store(settings: Settings, tmp_path: Path) -> None:
    source = build_services(settings, with_queue=False)
    document_ids = fill(source)
    before = snapshot(source, document_ids)
    assert {d.status for d in before["documents"].values()} == {"filed", "needs_review", "failed"}
    assert before["hits"]["Zitronenfalter"] == {document_ids[0]}
    source.close()  # catalog and index are thrown away; only the store is used from here on

    catalog = Catalog(f"sqlite:///{tmp_path / 'rebuilt.db'}")
    catalog.create_schema()
    index = EmbeddedSearchIndex(tmp_path / "rebuilt-search.db")
    counts = rebuild_and_compare(before, source.store, settings, catalog, index)
    assert counts == {"customers": 2, "documents": 5, "versions": 6, "skipped": 0, "notes": 0}
    catalog.close()


def test_rebuild_refuses_a_catalog_that_is_not_empty(services: Services) -> None:
    _customer(services, "Schon da GmbH")
    with pytest.raises(Conflict) as refused:
        rebuild_catalog(services.store, services.catalog)
    assert refused.value.code == "catalog_not_empty"


def test_rebuild_keeps_documents_whose_sidecars_are_incomplete(services: Services, tmp_path: Path) -> None:
    customer = _customer(services, "Vergesslich AG")
    filed = _ingest(services, make_pdf(["Rechnung", "Wir berechnen Zitronenfalter"]), "r.pdf",
                    customer_number=customer.number)
    unrecorded = _ingest(services, make_pdf(["Honigmelonen ohne Sidecar"]), "ohne.pdf")
    # Only the bytes are left: no customer sidecar for one, no document sidecar for the other.
    store_root = services.settings.data_dir / "objects"
    for key in (keys.customer_key(customer.id), keys.document_key(unrecorded)):
        for path in (store_root / (key + ".obj")).iterdir():
            path.unlink()
        (store_root / (key + ".obj")).rmdir()

    catalog = Catalog(f"sqlite:///{tmp_path / 'rebuilt.db'}")
    catalog.create_schema()
    counts = rebuild_catalog(services.store, catalog)
    assert counts == {"customers": 0, "documents": 2, "versions": 2, "skipped": 0, "notes": 0}
    orphan = catalog.get_document(filed)
    assert (orphan.customer_number, orphan.status) == (None, "needs_review")
    assert customer.number in (orphan.status_reason or "")
    recovered = catalog.get_document(unrecorded)
    assert (recovered.status, recovered.title) == ("received", "ohne")
    assert recovered.versions[0].mime_type == "application/pdf" and recovered.versions[0].text_key
    assert catalog.pending_document_ids() == [unrecorded]  # the ingest runs again on the next start
    catalog.close()
