"""JSON API v1: one blueprint, all requests authenticated in one before_request hook."""

from __future__ import annotations

from flask import Blueprint, current_app

from dms.app.services import Services
from dms.web.auth import load_principal

api_bp = Blueprint("api", __name__, url_prefix="/api/v1")


def services() -> Services:
    return current_app.extensions["dms"]


@api_bp.before_request
def _authenticate() -> None:
    load_principal(services())


from dms.web.api import (  # noqa: E402,F401  (route registration)
    audit,
    customer_import,
    customer_merge,
    customers,
    deletions,
    documents,
    gdpr,
    mail,
    notes,
    retention,
    search,
    system,
    thumbnails,
    webhooks,
)
