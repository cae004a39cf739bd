"""The search page `/suche`: the query with the documented syntax, filters as facet links, sort by
relevance or date, paging. Runs the same use case as `GET /api/v1/search`, within the same
per-process search slots; the highlights come HTML-escaped from the search layer (with `<mark>`)."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from flask import request

from dms.app.principal import CUSTOMERS_READ
from dms.errors import SearchTimeout, ServiceBusy, ValidationError
from dms.search import SearchQuery
from dms.search.base import BY_DATE, RELEVANCE
from dms.search.limits import MAX_RESULT_WINDOW
from dms.validation import MAX_NAME, MAX_NUMBER, MAX_TAG
from dms.web.api.search import guarded_search
from dms.web.ui import ui_bp
from dms.web.ui.helpers import can, int_param, page, paging, principal, services, text_param

PER_PAGE = 20
FACETS_SHOWN = 15
SORTS = {"relevanz": RELEVANCE, "datum": BY_DATE}
# page parameter -> (facet of the search layer, heading); in the order shown
FILTERS = {
    "kunde": ("customer", "Kunde"),
    "klasse": ("class", "Klasse"),
    "ordner": ("folder", "Ordner"),
    "jahr": ("year", "Jahr"),
    "tag": ("tags", "Schlagwort"),
}
MAX_LENGTHS = {"kunde": MAX_NUMBER, "klasse": MAX_NAME, "ordner": MAX_NAME, "jahr": 4, "tag": MAX_TAG}


def url_with(**changes: str | None) -> str:
    """`/suche` with the current parameters, some changed (None removes one); back to page 1."""
    args = {key: value for key, value in request.args.items() if key not in ("seite", "partial")}
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = value
    query = urlencode({key: value for key, value in args.items() if value != ""})
    return "/suche" + (f"?{query}" if query else "")


def _year(text: str) -> int | None:
    return int(text) if len(text) == 4 and text.isascii() and text.isdigit() and text != "0000" else None


class CustomerNames:
    """Customer names for numbers, looked up once per page (none without customers:read)."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}
        self._allowed = can(CUSTOMERS_READ)

    def __call__(self, number: Any) -> str:
        number = str(number or "")
        if not number or not self._allowed:
            return ""
        if number not in self._names:
            customer = services().catalog.customers.find(number)
            self._names[number] = customer.name if customer is not None else ""
        return self._names[number]


def _query(text: str, filters: dict[str, str], sort: str, offset: int) -> SearchQuery:
    year = _year(filters["jahr"])
    return SearchQuery(
        text=text,
        customer=filters["kunde"] or None,
        document_class=filters["klasse"] or None,
        folder=filters["ordner"] or None,
        tag=filters["tag"] or None,
        date_from=date(year, 1, 1) if year else None,
        date_to=date(year, 12, 31) if year else None,
        limit=PER_PAGE,
        offset=offset,
        sort=SORTS[sort],
    )


@ui_bp.get("/suche")
def search_page():
    text = request.args.get("q") or ""  # as sent: the use case checks its length before cleaning it
    filters = {name: text_param(name, max_length=MAX_LENGTHS[name]) for name in FILTERS}
    if filters["jahr"] and _year(filters["jahr"]) is None:
        filters["jahr"] = ""
    sort = request.args.get("sortierung") if request.args.get("sortierung") in SORTS else "relevanz"
    number = int_param("seite", 1, minimum=1, maximum=MAX_RESULT_WINDOW // PER_PAGE)
    context: dict[str, Any] = {
        "q": text[:1000], "filters": filters, "sort": sort, "result": None, "error": None, "pager": None,
        "facet_groups": [], "url_with": url_with, "customer_name": CustomerNames(), "FILTERS": FILTERS,
    }
    if not text.strip() and not any(filters.values()):
        return page("ui/search.html", **context)
    try:
        result = guarded_search(principal(), _query(text, filters, sort, (number - 1) * PER_PAGE), facets=True)
    except (ValidationError, SearchTimeout, ServiceBusy) as exc:
        context["error"] = exc.message
        return page("ui/search.html", **context), exc.http_status
    context["result"] = result
    context["pager"] = paging(number, PER_PAGE, total=min(result.total, MAX_RESULT_WINDOW))
    facets = result.facets or {}
    context["facet_groups"] = [
        (param, title, facets.get(facet, [])[:FACETS_SHOWN]) for param, (facet, title) in FILTERS.items()
    ]
    return page("ui/search.html", **context)
