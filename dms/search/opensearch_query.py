"""Translate a ParsedQuery and SearchQuery into the OpenSearch query DSL.

Same semantics as the embedded engine: positive clauses are AND'ed, each matching the title,
the text or the tags/field values; `-word` clauses exclude; prefixes match unstemmed words.
On top, a term also matches as a part of a compound word (`nummer` in `Rechnungsnummer`) and,
for longer words, by n-gram overlap (`Rechnungsnr` → `Rechnungsnummer`); those matches score lower.
Exclusions stay exact, as in the embedded engine.
"""

from __future__ import annotations

import re
from typing import Any

from dms.search.base import BY_DATE, SearchQuery
from dms.search.limits import result_window
from dms.search.query import Clause, ParsedQuery

FIELD_BOOSTS = {"title": 3.0, "text": 1.0, "extra": 0.5}
PART_BOOST = 0.3  # `nummer` found inside `Rechnungsnummer`
FUZZY_BOOST = 0.1  # `Rechnungsnr` found by n-gram overlap with `Rechnungsnummer`
FUZZY_MIN_LENGTH = 8
FUZZY_MIN_MATCH = "75%"
FACET_FIELDS = {"customer": "customer_number", "class": "document_class", "folder": "folder", "tags": "tags"}
FACET_SIZE = 50
MARK_OPEN, MARK_CLOSE = "<mark>", "</mark>"
HIGHLIGHT_ORDER = ("text", "text.parts", "title", "title.parts")
HIGHLIGHT_MAX_CHARS = 1_000_000

_WORD_CHARS = re.compile(r"\w", re.UNICODE)


def _fields(suffix: str = "") -> list[str]:
    return [f"{name}{suffix}^{boost:g}" for name, boost in FIELD_BOOSTS.items()]


def _exact(clause: Clause) -> dict[str, Any]:
    """The clause as the embedded engine understands it (stems; folded prefixes)."""
    if clause.kind == "prefix":
        should = [
            {"prefix": {f"{name}.folded": {"value": clause.stems[0], "boost": boost}}}
            for name, boost in FIELD_BOOSTS.items()
        ]
        return {"bool": {"should": should, "minimum_should_match": 1}}
    text = " ".join(clause.words)
    kind = "phrase" if clause.kind == "phrase" else "best_fields"
    body: dict[str, Any] = {"query": text, "fields": _fields(), "type": kind}
    if kind == "best_fields":
        body["operator"] = "and"
    return {"multi_match": body}


def _word_length(word: str) -> int:
    return len(_WORD_CHARS.findall(word))


def clause_query(clause: Clause, *, parts: bool = True) -> dict[str, Any]:
    """One clause; with `parts`, terms also match inside compound words."""
    exact = _exact(clause)
    if not parts or clause.kind != "term":
        return exact
    word = clause.words[0]
    should: list[dict[str, Any]] = [
        exact,
        {"multi_match": {"query": word, "fields": _fields(".parts"), "operator": "and", "boost": PART_BOOST}},
    ]
    if _word_length(word) >= FUZZY_MIN_LENGTH:
        overlap = {
            "multi_match": {
                "query": word, "fields": [f"{name}.parts" for name in FIELD_BOOSTS], "analyzer": "dms_grams",
                "minimum_should_match": FUZZY_MIN_MATCH,
            },
        }
        should.append({"constant_score": {"filter": overlap, "boost": FUZZY_BOOST}})
    return {"bool": {"should": should, "minimum_should_match": 1}}


def filters(query: SearchQuery) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if not query.include_restricted:  # entries indexed before the field existed count as unrestricted
        out.append({"bool": {"must_not": [{"term": {"restricted": True}}]}})
    if query.customer:
        out.append({"term": {"customer_number": str(query.customer)}})
    if query.customers is not None:  # branch scoping: these customers' documents, or no customer's
        out.append({"bool": {"should": [
            {"terms": {"customer_number": list(query.customers)}},
            {"bool": {"must_not": [{"exists": {"field": "customer_number"}}]}},
        ], "minimum_should_match": 1}})
    if query.document_class:
        out.append({"term": {"document_class": query.document_class}})
    if query.folder:
        out.append({"term": {"folder": query.folder}})
    if query.tag:
        out.append({"term": {"tags": query.tag}})
    if query.date_from or query.date_to:
        bounds = {}
        if query.date_from:
            bounds["gte"] = query.date_from.isoformat()
        if query.date_to:
            bounds["lte"] = query.date_to.isoformat()
        out.append({"range": {"date": bounds}})
    return out


def build_query(parsed: ParsedQuery, query: SearchQuery) -> dict[str, Any]:
    must = [clause_query(c) for c in parsed.positive] or [{"match_all": {}}]
    must_not = [clause_query(c, parts=False) for c in parsed.negative]
    return {"bool": {"must": must, "must_not": must_not, "filter": filters(query)}}


def _highlight_query(parsed: ParsedQuery, field: str) -> dict[str, Any] | None:
    """What to mark in `field`: stems/prefixes in the stemmed field, whole terms in `.parts`."""
    should: list[dict[str, Any]] = []
    for clause in parsed.positive:
        if field.endswith(".parts"):
            if clause.kind == "term":
                should.append({"match": {field: {"query": clause.words[0], "operator": "and"}}})
        elif clause.kind == "prefix":
            should.append({"prefix": {field: {"value": clause.stems[0]}}})
        elif clause.kind == "phrase":
            should.append({"match_phrase": {field: " ".join(clause.words)}})
        else:
            should.append({"match": {field: {"query": clause.words[0], "operator": "and"}}})
    return {"bool": {"should": should, "minimum_should_match": 1}} if should else None


def highlight_request(parsed: ParsedQuery) -> dict[str, Any] | None:
    fields: dict[str, Any] = {}
    for field in HIGHLIGHT_ORDER:
        hq = _highlight_query(parsed, field)
        if hq:
            fields[field] = {"highlight_query": hq}
    if not fields:
        return None
    return {
        "type": "unified",
        "encoder": "html",
        "pre_tags": [MARK_OPEN],
        "post_tags": [MARK_CLOSE],
        "number_of_fragments": 3,
        "fragment_size": 120,
        "no_match_size": 0,
        "require_field_match": True,
        "max_analyzer_offset": HIGHLIGHT_MAX_CHARS,
        "fields": fields,
    }


def pick_highlights(highlight: dict[str, list[str]] | None) -> list[str]:
    """Snippets from the first field that has any, in HIGHLIGHT_ORDER; whitespace collapsed."""
    for field in HIGHLIGHT_ORDER:
        snippets = (highlight or {}).get(field)
        if snippets:
            # Lucene's HTML encoder also escapes "/", Python's html.escape (embedded engine) does not.
            return [" ".join(s.replace("&#x2F;", "/").split()) for s in snippets]
    return []


def search_body(parsed: ParsedQuery, query: SearchQuery) -> dict[str, Any]:
    recency = [{"date": {"order": "desc", "missing": "_last"}}, {"seq": {"order": "desc"}}]
    offset, size = result_window(query.offset, query.limit)  # from + size within max_result_window
    body: dict[str, Any] = {
        "query": build_query(parsed, query),
        "from": offset,
        "size": size,
        "track_total_hits": True,
        "_source": ["id", "customer_number", "title", "document_class", "folder", "date", "version"],
    }
    if parsed.positive:
        # `date`: newest document date first (undated last), then by relevance, as the embedded engine
        body["sort"] = [recency[0], "_score", recency[1]] if query.sort == BY_DATE else ["_score", *recency]
        body["track_scores"] = True
        highlight = highlight_request(parsed)
        if highlight:
            body["highlight"] = highlight
    else:
        body["sort"] = recency
    return body


def facets_body(parsed: ParsedQuery, query: SearchQuery) -> dict[str, Any]:
    order = [{"_count": "desc"}, {"_key": "asc"}]
    aggs: dict[str, Any] = {
        name: {"terms": {"field": field, "size": FACET_SIZE, "order": order}} for name, field in FACET_FIELDS.items()
    }
    aggs["year"] = {
        "date_histogram": {
            "field": "date", "calendar_interval": "year", "format": "yyyy", "min_doc_count": 1,
            "order": {"_key": "desc"},
        },
    }
    return {"query": build_query(parsed, query), "size": 0, "track_total_hits": True, "aggs": aggs}


def parse_facets(aggregations: dict[str, Any]) -> dict[str, list[tuple[str, int]]]:
    out: dict[str, list[tuple[str, int]]] = {}
    for name in [*FACET_FIELDS, "year"]:
        buckets = aggregations.get(name, {}).get("buckets", [])
        out[name] = [(str(b.get("key_as_string", b["key"])), int(b["doc_count"])) for b in buckets]
    return out
