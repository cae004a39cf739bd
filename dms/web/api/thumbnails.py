"""`GET /documents/<id>/thumbnail`: a small PNG of a version's first page, for lists (dms/app/thumbnails.py)."""

from __future__ import annotations

from flask import Response
from pydantic import BaseModel, Field

from dms.app import thumbnails as uc
from dms.app.principal import DOCUMENTS_READ
from dms.web.api import api_bp, services
from dms.web.auth import require
from dms.web.openapi import Header, Reply, operation
from dms.web.params import int_arg

# a version's thumbnail never changes; the latest version's does when a new version arrives
CACHE_VERSION = "private, max-age=86400"
CACHE_LATEST = "private, max-age=60"


class ThumbnailQuery(BaseModel):
    version: int | None = Field(None, ge=1, le=1_000_000, description="A version number; default the latest.")


@api_bp.get("/documents/<document_id>/thumbnail")
@operation("A small picture of the first page, for lists", permission=DOCUMENTS_READ, query=ThumbnailQuery,
           tag="documents",
           reply=Reply(description="A PNG at most 200 pixels wide and 280 high: the first page of a PDF or image "
                       "scan; for other types a card naming the type", media_types=("image/png",),
                       headers={"Cache-Control": Header("`private, max-age=86400` with `version`, else a minute",
                                                        required=True),
                                "X-Document-Version": Header("Number", required=True)}),
           errors={404: "`document_not_found`, `version_not_found`, or `no_thumbnail`: the file cannot be drawn "
                   "(damaged, encrypted, or beyond the size limits)."})
def get_thumbnail(document_id: str):
    principal = require(DOCUMENTS_READ)
    number = int_arg("version", 0, minimum=1, maximum=1_000_000) or None
    found = uc.thumbnail(services(), principal, document_id, number)
    response = Response(found.png, mimetype="image/png")
    response.headers["Cache-Control"] = CACHE_VERSION if number else CACHE_LATEST
    response.headers["Content-Disposition"] = "inline"
    response.headers["X-Document-Version"] = str(found.version.number)
    return response
