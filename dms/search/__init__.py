"""Full-text search backends: embedded SQLite FTS5 or OpenSearch."""

from dms.search.base import IndexEntry, SearchHit, SearchIndex, SearchQuery, SearchResult
from dms.search.embedded import EmbeddedSearchIndex
from dms.search.limits import SearchLimits

__all__ = [
    "EmbeddedSearchIndex", "IndexEntry", "SearchHit", "SearchIndex", "SearchLimits", "SearchQuery", "SearchResult",
]
