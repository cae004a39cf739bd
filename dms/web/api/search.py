"""Full-text search with filters."""

from __future__ import annotations

from datetime import date

from flask import jsonify, request

from dms.errors import ValidationError
from dms.search import SearchQuery
from dms.web.api import api_bp, services
from dms.web.auth import require


def _date_arg(name: str) -> date | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise ValidationError(f"{name} muss ein Datum JJJJ-MM-TT sein.", field=name) from exc


def _int_arg(name: str, default: int, upper: int) -> int:
    try:
        return max(0, min(int(request.args.get(name, default)), upper))
    except ValueError as exc:
        raise ValidationError(f"{name} muss eine Zahl sein.", field=name) from exc


@api_bp.get("/search")
def search():
    actor = require("documents:read")
    query = SearchQuery(
        text=request.args.get("q", ""),
        customer=request.args.get("customer") or None,
        document_class=request.args.get("class") or None,
        folder=request.args.get("folder") or None,
        tag=request.args.get("tag") or None,
        date_from=_date_arg("from"),
        date_to=_date_arg("to"),
        limit=_int_arg("limit", 20, 200) or 20,
        offset=_int_arg("offset", 0, 100_000),
    )
    svc = services()
    result = svc.index.search(query)
    if request.args.get("facets", "").lower() in ("1", "true", "yes"):
        result.facets = svc.index.facets(query)
    svc.catalog.audit(actor.name, "search", "search", None, q=query.text, customer=query.customer)
    return jsonify(result.to_dict())
