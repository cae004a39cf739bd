"""Index settings, mapping and document shape for the OpenSearch backend.

Analysis mirrors dms.search.analysis: words are split like Python's `\\w+`, lower-cased,
German-normalised, stemmed (Snowball German) and folded to ASCII.  Every text field has two
subfields: `folded` (unstemmed, for `rech*` prefixes) and `parts` (3–15 character n-grams of
the folded words, for parts of compound words and fragments of invoice numbers).
"""

from __future__ import annotations

import json
import time
from typing import Any

from dms.search.base import IndexEntry

NGRAM_MIN, NGRAM_MAX = 3, 15
TEXT_FIELDS = ("title", "text", "extra")  # `extra`: tags and field values, searchable like the text

_WORDS = r"[^\p{L}\p{N}_]+"  # splits like Python's re `\w+` (letters, digits, underscore)

# Writes wait for the next refresh (`refresh="wait_for"`): a short interval keeps time to
# searchable and per-document write latency low (the default is 1 s).
REFRESH_INTERVAL = "200ms"

SETTINGS: dict[str, Any] = {
    "number_of_shards": 1,
    "refresh_interval": REFRESH_INTERVAL,
    "auto_expand_replicas": "0-1",
    "max_ngram_diff": NGRAM_MAX - NGRAM_MIN,
    "analysis": {
        "tokenizer": {
            "dms_words": {"type": "pattern", "pattern": _WORDS},
            # Query side of the n-gram overlap match: grams at distinct positions, so that
            # minimum_should_match counts grams (the token filter stacks them on one position).
            "dms_grams": {
                "type": "ngram", "min_gram": NGRAM_MIN, "max_gram": NGRAM_MAX,
                "token_chars": ["letter", "digit", "custom"], "custom_token_chars": "_",
            },
        },
        "filter": {
            "dms_german_stem": {"type": "stemmer", "language": "german"},
            "dms_parts": {"type": "ngram", "min_gram": NGRAM_MIN, "max_gram": NGRAM_MAX, "preserve_original": True},
        },
        "analyzer": {
            "dms_german": {
                "type": "custom",
                "tokenizer": "dms_words",
                "filter": ["lowercase", "german_normalization", "dms_german_stem", "asciifolding"],
            },
            "dms_folded": {"type": "custom", "tokenizer": "dms_words", "filter": ["lowercase", "asciifolding"]},
            "dms_parts": {
                "type": "custom",
                "tokenizer": "dms_words",
                "filter": ["lowercase", "asciifolding", "dms_parts"],
            },
            "dms_grams": {"type": "custom", "tokenizer": "dms_grams", "filter": ["lowercase", "asciifolding"]},
        },
    },
}


def _text_field(*, offsets: bool = False) -> dict[str, Any]:
    field: dict[str, Any] = {
        "type": "text",
        "analyzer": "dms_german",
        "fields": {
            "folded": {"type": "text", "analyzer": "dms_folded"},
            "parts": {"type": "text", "analyzer": "dms_parts", "search_analyzer": "dms_folded"},
        },
    }
    if offsets:  # the unified highlighter reads offsets from the postings instead of re-analysing
        field["index_options"] = "offsets"
    return field


MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "date_detection": False,
    "numeric_detection": False,
    "dynamic_templates": [
        {"fields_as_keywords": {"path_match": "fields.*", "mapping": {"type": "keyword", "ignore_above": 1024}}},
    ],
    "properties": {
        "id": {"type": "keyword"},
        "customer_number": {"type": "keyword"},
        "document_class": {"type": "keyword"},
        "folder": {"type": "keyword"},
        "tags": {"type": "keyword"},
        "status": {"type": "keyword"},
        "filename": {"type": "keyword"},
        "title": _text_field(offsets=True),
        "text": _text_field(offsets=True),
        "extra": _text_field(),
        "date": {"type": "date"},
        "version": {"type": "integer"},
        "seq": {"type": "long"},  # insertion order: tie-breaker like the embedded rowid
        "restricted": {"type": "boolean"},  # GDPR Art. 17 (issue #12)
        "fields": {"type": "object", "dynamic": True},
    },
}


# fields added after indices were first created: `ensure_index` adds them to an existing index
NEW_FIELDS: dict[str, Any] = {"restricted": MAPPINGS["properties"]["restricted"]}


def index_body() -> dict[str, Any]:
    return {"settings": SETTINGS, "mappings": MAPPINGS}


def _keyword_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=str, sort_keys=True)
    return str(value)


def to_document(entry: IndexEntry) -> dict[str, Any]:
    """The indexed document for one entry (field values become keyword strings, dots in keys `_`)."""
    fields = {str(k).replace(".", "_"): _keyword_value(v) for k, v in entry.fields.items() if v is not None}
    return {
        "id": entry.id,
        "customer_number": entry.customer_number,
        "title": entry.title,
        "document_class": entry.document_class,
        "folder": entry.folder,
        "text": entry.text,
        "extra": " ".join([*entry.tags, *fields.values()]),
        "tags": sorted(entry.tags),
        "date": entry.date.isoformat() if entry.date else None,
        "version": entry.version,
        "filename": entry.filename,
        "status": entry.status,
        "fields": fields,
        "seq": time.time_ns(),
        "restricted": bool(entry.restricted),
    }
