"""Property tests of the query language and its limits: whatever text arrives (unicode,
quotes, stars, minus signs, huge inputs), parsing and the limit check either succeed or raise
ValidationError, quickly, and both engines accept every parsed query."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dms.errors import ValidationError
from dms.search import EmbeddedSearchIndex, IndexEntry, SearchQuery
from dms.search.embedded import match_expression
from dms.search.limits import SearchLimits
from dms.search.opensearch_query import facets_body, search_body
from dms.search.query import ParsedQuery, parse_query

LIMITS = SearchLimits()
# Characters that mean something to the query language or to FTS5, plus letters that fold,
# combining marks, digits, and a few from other scripts.
SPECIAL = '"*-  \t\n()^:+{}.,;\'\\/_~ßÄöüéﬁ½²İ\u0301\u200b\u202eЯ中👍'
query_text = st.text(
    alphabet=st.one_of(st.sampled_from(list(SPECIAL)), st.characters(codec="utf-8"), st.sampled_from("abcxyz")),
    max_size=120,
)
words = st.sampled_from(
    ["Rechnung", "rech*", "-Mahnung", '"Lieferung Zitronenfalter"', "a*", "*", "-", '"', "RE-2024*", "-ab*"]
)
query_of_words = st.lists(words, max_size=40).map(" ".join)


def parse_or_refuse(text: str, limits: SearchLimits | None = LIMITS) -> ParsedQuery | None:
    started = time.monotonic()
    try:
        parsed = parse_query(text, limits)
    except ValidationError as exc:
        assert exc.http_status == 400 and exc.code in {
            "query_too_long", "too_many_terms", "too_many_prefix_terms", "prefix_too_short",
        }
        assert exc.message
        parsed = None
    assert time.monotonic() - started < 2
    return parsed


def check_within_limits(parsed: ParsedQuery) -> None:
    assert parsed.term_count <= LIMITS.max_terms
    assert parsed.prefix_count <= LIMITS.max_prefix_terms
    for clause in parsed.clauses:
        assert clause.stems and all(clause.stems)
        if clause.kind == "prefix":
            assert len(clause.stems[0]) >= 1


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedSearchIndex:
    ix = EmbeddedSearchIndex(Path(tmp_path_factory.mktemp("qprop")) / "search.db")
    ix.index(IndexEntry(id="a", customer_number="10001", title="Rechnung", document_class="Rechnung",
                        folder="04 Rechnungen", text="Lieferung Zitronenfalter Straße ½ ﬁnal İstanbul"))
    return ix


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(query_text, query_of_words))
def test_any_text_parses_or_is_refused_and_every_engine_accepts_it(index: EmbeddedSearchIndex, text: str) -> None:
    parsed = parse_or_refuse(text)
    if parsed is None:
        return
    check_within_limits(parsed)
    # embedded: the MATCH expression is valid FTS5 and the whole search runs (facets too)
    expr = match_expression(parsed)
    if expr is not None:
        index._conn().execute("SELECT count(*) FROM fts WHERE fts MATCH ?", (expr,)).fetchone()
    index.search(SearchQuery(text=text))
    index.facets(SearchQuery(text=text))
    # OpenSearch: the builders produce request bodies
    assert isinstance(search_body(parsed, SearchQuery(text=text)), dict)
    assert isinstance(facets_body(parsed, SearchQuery(text=text)), dict)


@settings(max_examples=30, deadline=None)
@given(unit=st.sampled_from(["ab* ", "x ", '"a b" ', "-y ", "*", "\u0301", '"', "ä" * 50]),
       repeat=st.integers(min_value=1, max_value=200_000))
def test_huge_inputs_are_refused_fast_or_parsed(unit: str, repeat: int) -> None:
    text = unit * repeat
    started = time.monotonic()
    parsed = parse_or_refuse(text)
    assert time.monotonic() - started < 0.5
    if len(text) > LIMITS.max_query_chars:
        assert parsed is None
    # without limits (tools) huge texts still parse in linear time, never raise
    if len(text) <= 200_000:
        started = time.monotonic()
        parse_query(text, None)
        assert time.monotonic() - started < 5


def test_limits_are_named_in_the_message() -> None:
    with pytest.raises(ValidationError) as err:
        parse_query("x" * 1200, LIMITS)
    assert err.value.code == "query_too_long"
    assert err.value.message == "Die Suchanfrage hat 1200 Zeichen; erlaubt sind höchstens 500."
    with pytest.raises(ValidationError) as err:
        parse_query(" ".join(f"ab{i}*" for i in range(6)), LIMITS)
    assert err.value.code == "too_many_prefix_terms" and "höchstens 5" in err.value.message
    with pytest.raises(ValidationError) as err:
        parse_query(" ".join(f"wort{i}" for i in range(33)), LIMITS)
    assert err.value.code == "too_many_terms" and "33" in err.value.message and "höchstens 32" in err.value.message
    with pytest.raises(ValidationError) as err:
        parse_query('"' + " ".join(f"w{i}" for i in range(33)) + '"', LIMITS)
    assert err.value.code == "too_many_terms"
    with pytest.raises(ValidationError) as err:
        parse_query("Rechnung a*", LIMITS)
    assert err.value.code == "prefix_too_short" and "mindestens 2" in err.value.message
    # at the limits: accepted
    assert parse_query(" ".join(f"ab{i}*" for i in range(5)), LIMITS).prefix_count == 5
    assert parse_query(" ".join(f"wort{i}" for i in range(32)), LIMITS).term_count == 32
    assert parse_query("x" * 500, LIMITS).term_count == 1


def test_prefix_with_quote_characters_stays_valid_fts5(index: EmbeddedSearchIndex) -> None:
    for text in ['ab"*', 'zi"*', '-ab"* rech*', "x½*", "ﬁn*", "ab_*"]:
        parsed = parse_query(text, LIMITS)
        index._conn().execute("SELECT count(*) FROM fts WHERE fts MATCH ?", (match_expression(parsed),)).fetchone()
    assert [h.id for h in index.search(SearchQuery(text="ﬁn*")).hits] == ["a"]
