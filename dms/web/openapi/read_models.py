"""OpenAPI models of reading: search (hits, facets), system (health, configuration) and the query
parameters of the listing, download and search endpoints (one model per endpoint; each field is one
parameter). Split from dms/web/openapi/models.py, whose shared types they use."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from dms import validation as v
from dms.app.documents import ORDERS
from dms.domain import DocumentStatus
from dms.search.limits import MAX_RESULT_WINDOW
from dms.web.openapi.models import Flag, Limit, Offset, Response

# --- search -----------------------------------------------------------------------------------


class SearchHit(Response):
    id: str
    customer_number: str | None
    title: str
    document_class: str | None = Field(alias="class")
    folder: str | None
    date: date | None
    score: float
    highlights: list[str] = Field(description="HTML-escaped text snippets with <mark> around the matches.")
    version: int | None = Field(None, description="The version that is indexed (the latest).")


class FacetCount(Response):
    value: str | int
    count: int = Field(ge=0)


class SearchResult(Response):
    total: int = Field(ge=0)
    hits: list[SearchHit]
    facets: dict[str, list[FacetCount]] | None = Field(
        None, description="With `facets=1`: counts per customer, class, folder, year and tag."
    )


# --- system -----------------------------------------------------------------------------------


class Health(Response):
    status: Literal["ok", "degraded"]
    version: str
    backends: dict[str, str] = Field(description="`ok` or `error: …` per configured backend.")


class Config(Response):
    folders: list[str] = Field(description="The Aktenplan: folders of a new customer file.")
    inbox: str = Field(description="Where documents without a known customer or class go.")
    classes: dict[str, str] = Field(description="The folder of each document class.")



# --- query parameters -------------------------------------------------------------------------


class DocumentQuery(BaseModel):
    customer: str | None = Field(None, max_length=v.MAX_NUMBER, description="Customer number.")
    status: DocumentStatus | None = Field(None, description="e.g. `needs_review`: the review inbox.")
    folder: str | None = Field(None, max_length=200)
    document_class: str | None = Field(None, alias="class", max_length=64, description="Document class.")
    external_id: str | None = Field(None, max_length=v.MAX_EXTERNAL_ID,
                                    description="The sender's id of the document (of any sender).")
    updated_since: date | datetime | None = Field(
        None, description="Changed at or after: an ISO date (midnight UTC) or date-time (UTC without a zone)."
    )
    order: Literal[ORDERS] | None = Field(  # type: ignore[valid-type]
        None, description="The order the catalog received them: `newest` first (default) or `oldest` first."
    )
    cursor: str | None = Field(
        None, max_length=500, description="`next_cursor` of the page before (opaque; anything else is a 400). It "
        "keeps its `order`; pass the same filters again."
    )
    limit: Limit = 100
    offset: Offset = 0


class VersionQuery(BaseModel):
    version: int | None = Field(None, ge=1, le=1_000_000, description="A version number; default the latest.")
    download: Flag = False


class SearchQuery(BaseModel):
    q: str | None = Field(
        None, description="Words (AND, every inflection), `\"a phrase\"`, `prefix*`, `-excluded`; limits in "
        "the `[search]` configuration (characters, terms, prefixes)."
    )
    customer: str | None = Field(None, max_length=v.MAX_NUMBER)
    document_class: str | None = Field(None, alias="class", max_length=v.MAX_NAME)
    folder: str | None = Field(None, max_length=v.MAX_NAME)
    tag: str | None = Field(None, max_length=v.MAX_TAG)
    date_from: date | None = Field(None, alias="from", description="Document date from (ISO date).")
    date_to: date | None = Field(None, alias="to", description="Document date up to (ISO date).")
    limit: int = Field(20, ge=1, le=200)
    offset: int = Field(0, ge=0, le=MAX_RESULT_WINDOW)
    sort: Literal["relevance", "date"] | None = Field(
        None, description="`relevance` (default; without words: newest first) or `date`: newest document date first."
    )
    facets: Flag = False
