"""OpenSearch-only features: compound-word parts, invoice-number fragments, facets, bulk
loading, zero-downtime reindexing and error mapping — against a real OpenSearch."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import date

import pytest

from dms.errors import BackendUnavailable
from dms.search import IndexEntry, SearchQuery

pytestmark = pytest.mark.servers


@pytest.fixture
def backend() -> str:
    """Only the server variant of the contract `index` fixture."""
    return "server"


def entry(doc_id: str, text: str, **kw) -> IndexEntry:
    defaults = {
        "customer_number": "10001", "title": f"Dokument {doc_id}", "document_class": "Rechnung",
        "folder": "04 Rechnungen", "date": date(2026, 1, 15),
    }
    return IndexEntry(id=doc_id, text=text, **{**defaults, **kw})


def ids(index, text: str, **kw) -> set[str]:
    return {h.id for h in index.search(SearchQuery(text=text, **kw)).hits}


@pytest.fixture
def compounds(index):
    index.bulk_index([
        entry("inv", "Bitte geben Sie die Rechnungsnummer RG2024000123 bei Zahlung an."),
        entry("lease", "Der Mietvertrag für die Wohnung beginnt am 1. März.", document_class="Vertrag"),
        entry("trust", "Wir danken für Ihr Vertrauen.", document_class="Korrespondenz"),
        entry("ref", "Ihr Zeichen RE-2026-0042 vom Januar", date=date(2025, 2, 1)),
    ])
    return index


def test_parts_of_compound_words(compounds) -> None:
    assert ids(compounds, "nummer") == {"inv"}
    assert ids(compounds, "vertrag") == {"lease"}
    assert ids(compounds, "Wohnung Miet") == {"lease"}


def test_abbreviated_compound_by_ngram_overlap(compounds) -> None:
    assert ids(compounds, "Rechnungsnr") == {"inv"}
    assert ids(compounds, "Mietvertrg") == {"lease"}
    assert "trust" not in ids(compounds, "Vertrag")


def test_exact_matches_rank_above_part_matches(compounds) -> None:
    compounds.index(entry("plain", "Ihre Nummer bei uns"))
    hits = compounds.search(SearchQuery(text="Nummer")).hits
    assert [h.id for h in hits] == ["plain", "inv"]


def test_part_match_is_highlighted(compounds) -> None:
    (hit,) = compounds.search(SearchQuery(text="nummer")).hits
    assert any("<mark>Rechnungsnummer</mark>" in h for h in hit.highlights)


def test_invoice_number_fragments(compounds) -> None:
    assert ids(compounds, "000123") == {"inv"}
    assert ids(compounds, "RG2024") == {"inv"}
    assert ids(compounds, "2026-0042") == {"ref"}
    assert ids(compounds, "0042") == {"ref"}
    assert ids(compounds, "-0042") == {"inv", "lease", "trust"}


def test_facets_count_the_matches(compounds) -> None:
    facets = compounds.facets(SearchQuery())
    assert facets["class"] == [("Rechnung", 2), ("Korrespondenz", 1), ("Vertrag", 1)]
    assert facets["year"] == [("2026", 3), ("2025", 1)]
    assert facets["customer"] == [("10001", 4)]
    filtered = compounds.facets(SearchQuery(text="vertrag", document_class="Vertrag"))
    assert filtered["class"] == [("Vertrag", 1)] and filtered["tags"] == []


def test_tags_and_field_values_are_searchable_and_faceted(index) -> None:
    index.index(entry("a", "Text", tags=["wichtig", "steuer"], fields={"iban": "DE02120300000000202051", "n": 3,
                                                                     "a.b": {"x": 1}}))
    index.index(entry("b", "Text", tags=["wichtig"]))
    assert ids(index, "DE02120300000000202051") == {"a"}
    assert ids(index, "", tag="steuer") == {"a"}
    assert index.facets(SearchQuery())["tags"] == [("wichtig", 2), ("steuer", 1)]


def test_bulk_index_counts_and_is_searchable(index) -> None:
    assert index.bulk_index(entry(f"b{n}", f"Lieferschein {n}") for n in range(120)) == 120
    assert index.count() == 120
    assert index.search(SearchQuery(text="Lieferschein")).total == 120


def test_reindex_swap_keeps_the_alias_answering(compounds) -> None:
    before = compounds.search(SearchQuery(limit=50))
    (old_index,) = compounds.concrete_indices()
    seen: list[set[str]] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def search_while_swapping() -> None:
        while not done.is_set():
            try:
                seen.append({h.id for h in compounds.search(SearchQuery(limit=50)).hits})
            except BaseException as exc:  # collected and asserted below
                errors.append(exc)
            time.sleep(0.02)

    def slow_entries() -> Iterator[IndexEntry]:
        for doc in ("inv", "lease", "trust", "ref"):
            time.sleep(0.2)
            yield entry(doc, f"neu geladen {doc}")

    reader = threading.Thread(target=search_while_swapping)
    reader.start()
    try:
        new_index = compounds.reindex_swap(slow_entries())
    finally:
        done.set()
        reader.join()
    expected = {h.id for h in before.hits}
    assert not errors
    assert len(seen) > 5 and all(s == expected for s in seen)
    assert {h.id for h in compounds.search(SearchQuery(limit=50)).hits} == expected
    assert ids(compounds, "geladen") == expected
    assert compounds.concrete_indices() == [new_index] and new_index != old_index
    assert not compounds._client.indices.exists(index=old_index)


def test_clear_swaps_in_an_empty_index(compounds) -> None:
    compounds.clear()
    assert compounds.count() == 0
    compounds.index(entry("again", "wieder da"))
    assert ids(compounds, "wieder") == {"again"}


def test_drop_removes_alias_and_indices(server_env) -> None:
    from dms.search.opensearch import OpenSearchIndex
    from tests.server_env import unique

    ix = OpenSearchIndex(server_env["DMS_OPENSEARCH_URL"], alias=unique("drop").lower())
    ix.ensure_index()
    ix.ensure_index()  # idempotent
    (name,) = ix.concrete_indices()
    ix.drop()
    assert ix.concrete_indices() == []
    assert not ix._client.indices.exists(index=name)
    with pytest.raises(BackendUnavailable):
        ix.ping()


def test_unreachable_server_is_backend_unavailable() -> None:
    from dms.search.opensearch import OpenSearchIndex
    from tests.servers import free_port

    ix = OpenSearchIndex(f"http://127.0.0.1:{free_port()}", alias="nowhere")
    with pytest.raises(BackendUnavailable):
        ix.ping()
    with pytest.raises(BackendUnavailable):
        ix.search(SearchQuery(text="x"))
    with pytest.raises(BackendUnavailable):
        ix.index(entry("x", "y"))
