"""Use case: full-text search with filters (and facets), bounded by the `[search]` limits."""

from __future__ import annotations

from dataclasses import replace

from dms.app.audit import record
from dms.app.branches import visible_numbers
from dms.app.documents import sees_restricted
from dms.app.principal import DOCUMENTS_READ, Principal, require
from dms.app.services import Services
from dms.errors import ValidationError
from dms.search import SearchQuery, SearchResult
from dms.search.base import RELEVANCE, SORTS
from dms.search.limits import SearchLimits
from dms.search.query import check_length
from dms.validation import clean_text


def search(services: Services, principal: Principal, query: SearchQuery, *, facets: bool = False) -> SearchResult:
    """Hits for `query` (its text as sent: its length is checked before it is cleaned); `facets`
    adds counts per customer, class, folder, year and tag; `query.sort` is `relevance` (default) or
    `date` (newest document date first). The engines enforce the time limit."""
    require(principal, DOCUMENTS_READ)
    if query.sort not in SORTS:
        raise ValidationError(f"sort muss einer von {', '.join(SORTS)} sein.", field="sort")
    check_length(query.text, SearchLimits.from_settings(services.settings))
    query = replace(query, text=clean_text(query.text), include_restricted=sees_restricted(principal),
                    customers=visible_numbers(services, principal))
    result = services.index.search(query)
    if facets:
        result.facets = services.index.facets(query)
    record(services, principal, "search", "search", None, customer_number=query.customer, q=query.text,
           filters={k: v for k, v in (("class", query.document_class), ("folder", query.folder), ("tag", query.tag),
                                      ("from", query.date_from), ("to", query.date_to)) if v is not None},
           hits=result.total, **({"sort": query.sort} if query.sort != RELEVANCE else {}))
    return result
