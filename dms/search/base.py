"""The search index interface and its records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

RELEVANCE, BY_DATE = "relevance", "date"
SORTS = (RELEVANCE, BY_DATE)  # `date`: newest document date first (undated last), then by relevance


@dataclass
class IndexEntry:
    id: str
    customer_number: str | None
    title: str
    document_class: str | None
    folder: str | None
    text: str
    tags: list[str] = field(default_factory=list)
    date: date | None = None
    version: int = 1
    filename: str = ""
    status: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    restricted: bool = False  # GDPR Art. 17: found only by queries with include_restricted


@dataclass
class SearchQuery:
    text: str = ""
    customer: str | None = None
    document_class: str | None = None
    folder: str | None = None
    tag: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    limit: int = 20
    offset: int = 0
    sort: str = RELEVANCE  # one of SORTS; without search words both list newest first
    include_restricted: bool = False  # restricted documents (GDPR Art. 17) only for admins and auditors
    # branch scoping: only documents of these customers or of none (the Posteingang); None: all
    customers: tuple[str, ...] | None = None


@dataclass
class SearchHit:
    id: str
    customer_number: str | None
    title: str
    document_class: str | None
    folder: str | None
    score: float
    highlights: list[str]
    date: date | None = None
    version: int | None = None  # the indexed (latest) version

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "customer_number": self.customer_number,
            "title": self.title,
            "class": self.document_class,
            "folder": self.folder,
            "date": self.date.isoformat() if self.date else None,
            "score": round(self.score, 6),
            "highlights": self.highlights,
            "version": self.version,
        }


@dataclass
class SearchResult:
    total: int
    hits: list[SearchHit]
    facets: dict[str, list[tuple[str, int]]] | None = None

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"total": self.total, "hits": [h.to_dict() for h in self.hits]}
        if self.facets is not None:
            body["facets"] = {
                name: [{"value": value, "count": count} for value, count in values]
                for name, values in self.facets.items()
            }
        return body


class SearchIndex(Protocol):
    def index(self, entry: IndexEntry) -> None: ...

    def delete(self, document_id: str) -> None: ...

    def search(self, query: SearchQuery) -> SearchResult: ...

    def facets(self, query: SearchQuery) -> dict[str, list[tuple[str, int]]]:
        """(value, count) per facet: customer, class, folder, year (newest first), tags."""
        ...

    def clear(self) -> None: ...

    def count(self) -> int: ...

    def ping(self) -> None: ...
