"""Search contract: the embedded index and OpenSearch answer the same queries the same way."""

from __future__ import annotations

from datetime import date

import pytest

from dms.search import IndexEntry, SearchQuery


def entry(doc_id: str, text: str, **kw) -> IndexEntry:
    defaults = {
        "customer_number": "10001", "title": f"Dokument {doc_id}", "document_class": "Rechnung",
        "folder": "04 Rechnungen", "date": date(2026, 1, 15),
    }
    return IndexEntry(id=doc_id, text=text, **{**defaults, **kw})


@pytest.fixture
def filled(index):
    index.index(entry("inv", "Wir stellen Ihnen die Rechnungen für Zitronenfalter aus. Rechnungsnummer RE-2026-0042"))
    index.index(entry("letter", "Sehr geehrte Damen und Herren, die Prüfung der Häuser ist abgeschlossen.",
                      customer_number="10002", document_class="Korrespondenz", folder="02 Korrespondenz",
                      date=date(2025, 6, 1), tags=["wichtig"]))
    index.index(entry("offer", "Angebot für die Wartung der Häuser im Frühjahr", document_class="Angebot",
                      folder="03 Angebote & Aufträge", date=date(2024, 3, 3)))
    return index


def ids(result) -> set[str]:
    return {h.id for h in result.hits}


def test_stemming_finds_inflected_forms(filled) -> None:
    for query in ("Rechnung", "rechnungen", "RECHNUNG"):
        assert "inv" in ids(filled.search(SearchQuery(text=query))), query
    assert ids(filled.search(SearchQuery(text="Haus"))) == {"letter", "offer"}
    assert ids(filled.search(SearchQuery(text="Häusern"))) == {"letter", "offer"}


def test_terms_are_anded(filled) -> None:
    assert ids(filled.search(SearchQuery(text="Häuser Prüfung"))) == {"letter"}
    assert ids(filled.search(SearchQuery(text="Häuser Zitronenfalter"))) == set()


def test_phrase(filled) -> None:
    assert ids(filled.search(SearchQuery(text='"Damen und Herren"'))) == {"letter"}
    assert ids(filled.search(SearchQuery(text='"Herren und Damen"'))) == set()


def test_prefix(filled) -> None:
    assert ids(filled.search(SearchQuery(text="zitronen*"))) == {"inv"}
    assert ids(filled.search(SearchQuery(text="Rechnungsn*"))) == {"inv"}


def test_exclusion(filled) -> None:
    assert ids(filled.search(SearchQuery(text="Häuser -Wartung"))) == {"letter"}


def test_highlights_mark_the_matched_words(filled) -> None:
    hit = filled.search(SearchQuery(text="Zitronenfalter")).hits[0]
    assert hit.id == "inv"
    assert any("<mark>Zitronenfalter</mark>" in h for h in hit.highlights)
    hit = filled.search(SearchQuery(text="rechnung")).hits[0]
    assert any("<mark>Rechnungen</mark>" in h for h in hit.highlights)


def test_highlights_escape_html(index) -> None:
    index.index(entry("xss", "Bemerkung <script>alert(1)</script> Quittung"))
    hit = index.search(SearchQuery(text="Quittung")).hits[0]
    joined = " ".join(hit.highlights)
    assert "<script>" not in joined and "&lt;script&gt;" in joined


def test_filters(filled) -> None:
    assert ids(filled.search(SearchQuery(text="Häuser", customer="10002"))) == {"letter"}
    assert ids(filled.search(SearchQuery(text="Häuser", document_class="Angebot"))) == {"offer"}
    assert ids(filled.search(SearchQuery(text="Häuser", folder="02 Korrespondenz"))) == {"letter"}
    assert ids(filled.search(SearchQuery(tag="wichtig"))) == {"letter"}
    assert ids(filled.search(SearchQuery(date_from=date(2025, 1, 1)))) == {"inv", "letter"}
    assert ids(filled.search(SearchQuery(date_to=date(2025, 1, 1)))) == {"offer"}
    assert ids(filled.search(SearchQuery(date_from=date(2025, 1, 1), date_to=date(2025, 12, 31)))) == {"letter"}


def test_empty_query_lists_everything_newest_first(filled) -> None:
    result = filled.search(SearchQuery())
    assert result.total == 3
    assert [h.id for h in result.hits] == ["inv", "letter", "offer"]


def test_total_and_paging(index) -> None:
    for n in range(25):
        index.index(entry(f"d{n:02d}", f"Lieferschein Nummer {n} Gummibärchen"))
    first = index.search(SearchQuery(text="Gummibärchen", limit=10))
    second = index.search(SearchQuery(text="Gummibärchen", limit=10, offset=10))
    assert first.total == 25 and len(first.hits) == 10 and len(second.hits) == 10
    assert not ids(first) & ids(second)


def test_reindexing_replaces_and_delete_removes(filled) -> None:
    filled.index(entry("inv", "ganz neuer Inhalt Kokosnuss"))
    assert ids(filled.search(SearchQuery(text="Zitronenfalter"))) == set()
    assert ids(filled.search(SearchQuery(text="Kokosnuss"))) == {"inv"}
    assert filled.count() == 3
    filled.delete("inv")
    assert ids(filled.search(SearchQuery(text="Kokosnuss"))) == set()
    assert filled.count() == 2
    filled.clear()
    assert filled.count() == 0


def test_scores_rank_more_relevant_first(index) -> None:
    index.index(entry("once", "Ein Wort über Marzipan und viele andere Dinge des täglichen Lebens hier"))
    index.index(entry("often", "Marzipan Marzipan Marzipan", title="Marzipan"))
    hits = index.search(SearchQuery(text="Marzipan")).hits
    assert [h.id for h in hits] == ["often", "once"]
    assert hits[0].score > hits[1].score


def test_sort_by_date_lists_the_newest_document_date_first(index) -> None:
    index.index(entry("old-strong", "Marzipan Marzipan Marzipan", title="Marzipan", date=date(2023, 5, 1)))
    index.index(entry("new-weak", "Ein Wort über Marzipan und viele andere Dinge des Lebens", date=date(2026, 2, 1)))
    index.index(entry("undated", "Marzipan hier", date=None))
    index.index(entry("middle", "Marzipan dort", date=date(2024, 7, 7)))
    assert index.search(SearchQuery(text="Marzipan")).hits[0].id == "old-strong"  # relevance is the default
    by_date = index.search(SearchQuery(text="Marzipan", sort="date"))
    assert by_date.total == 4
    assert [h.id for h in by_date.hits] == ["new-weak", "middle", "old-strong", "undated"]  # undated last
    assert by_date.hits[0].highlights and by_date.hits[0].version == 1
    second_page = index.search(SearchQuery(text="Marzipan", sort="date", limit=2, offset=2))
    assert [h.id for h in second_page.hits] == ["old-strong", "undated"]
    everything = [h.id for h in index.search(SearchQuery()).hits]  # without words: newest first either way
    assert [h.id for h in index.search(SearchQuery(sort="date")).hits] == everything


def test_facets_count_the_matches(filled) -> None:
    facets = filled.facets(SearchQuery(text="Häuser"))
    assert facets["customer"] == [("10001", 1), ("10002", 1)]
    assert facets["class"] == [("Angebot", 1), ("Korrespondenz", 1)]
    assert facets["year"] == [("2025", 1), ("2024", 1)]
    assert facets["tags"] == [("wichtig", 1)]
    everything = filled.facets(SearchQuery())
    assert everything["customer"] == [("10001", 2), ("10002", 1)]
    assert dict(everything["folder"]) == {"04 Rechnungen": 1, "02 Korrespondenz": 1, "03 Angebote & Aufträge": 1}
    assert filled.facets(SearchQuery(text="Häuser", customer="10002"))["class"] == [("Korrespondenz", 1)]


def test_branch_scoping_limits_hits_and_facets_to_the_allowed_customers(filled) -> None:
    filled.index(entry("inbox", "Häuser ohne Kunden im Posteingang", customer_number=None))
    assert ids(filled.search(SearchQuery(text="Häuser", customers=("10002",)))) == {"letter", "inbox"}
    assert ids(filled.search(SearchQuery(text="Häuser", customers=()))) == {"inbox"}  # only the Posteingang
    assert ids(filled.search(SearchQuery(text="Häuser", customers=None))) == {"letter", "offer", "inbox"}
    assert filled.facets(SearchQuery(customers=("10001",)))["customer"] == [("10001", 2)]
    assert filled.search(SearchQuery(text="Häuser", customers=("10001",))).total == 2
