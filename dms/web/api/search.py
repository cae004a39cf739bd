"""Full-text search with filters.

A search costs more than any other request, so it is bounded here and in the engines: the
query's size (checked before anything is done with it; the engines check again, with the
same function), its run time (the engines) and the searches running at once in this process
(`[search] max_concurrent`; one more gets 503 `busy` with `Retry-After`, so the other web
threads stay free for `/health`, uploads and downloads).
"""

from __future__ import annotations

from flask import current_app, jsonify, make_response, request

from dms.app.principal import DOCUMENTS_READ, Principal
from dms.app.search import search as search_documents
from dms.errors import ServiceBusy
from dms.search import SearchQuery, SearchResult
from dms.search.base import RELEVANCE, SORTS
from dms.search.limits import MAX_RESULT_WINDOW, SearchLimits, SearchSlots
from dms.search.query import check_length
from dms.validation import MAX_NAME, MAX_NUMBER, MAX_TAG
from dms.web.api import api_bp, services
from dms.web.auth import require
from dms.web.errors import error_response
from dms.web.openapi import operation
from dms.web.openapi import read_models as rm
from dms.web.params import bool_arg, choice_arg, date_arg, int_arg, str_arg

MAX_LIMIT = 200
_GUARD = "dms.search_guard"


def _guard() -> tuple[SearchLimits, SearchSlots]:
    """The limits and the per-process search slots, made once per app."""
    guard = current_app.extensions.get(_GUARD)
    if guard is None:
        limits = SearchLimits.from_settings(services().settings)
        guard = current_app.extensions.setdefault(_GUARD, (limits, SearchSlots(limits.max_concurrent)))
    return guard


def guarded_search(principal: Principal, query: SearchQuery, *, facets: bool = False) -> SearchResult:
    """A search within this process's search slots (the API and the web client's search page);
    all slots taken: ServiceBusy (503 `busy`)."""
    _limits, slots = _guard()
    with slots.hold():
        return search_documents(services(), principal, query, facets=facets)


@api_bp.get("/search")
@operation("Full-text search with filters", permission=DOCUMENTS_READ, query=rm.SearchQuery, reply=rm.SearchResult,
           tag="search")
def search():
    principal = require(DOCUMENTS_READ)
    limits, slots = _guard()
    raw = request.args.get("q") or ""
    check_length(raw, limits)  # before the parameters: a 100 KB query costs nothing more than this
    query = SearchQuery(
        text=raw,  # cleaned by the use case
        customer=str_arg("customer", max_length=MAX_NUMBER),
        document_class=str_arg("class", max_length=MAX_NAME),
        folder=str_arg("folder", max_length=MAX_NAME),
        tag=str_arg("tag", max_length=MAX_TAG),
        date_from=date_arg("from"),
        date_to=date_arg("to"),
        limit=int_arg("limit", 20, minimum=1, maximum=MAX_LIMIT),
        offset=int_arg("offset", 0, minimum=0, maximum=MAX_RESULT_WINDOW),
        sort=choice_arg("sort", list(SORTS)) or RELEVANCE,
    )
    with_facets = bool_arg("facets")
    try:
        result = guarded_search(principal, query, facets=with_facets)
    except ServiceBusy as exc:
        body, status = error_response(exc.http_status, exc.code, exc.message, **exc.details)
        response = make_response(body, status)
        response.headers["Retry-After"] = str(slots.retry_after)
        return response
    return jsonify(result.to_dict())
