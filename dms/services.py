"""Moved to `dms.app.services`; re-exported here for older imports (tests, tools)."""

from dms.app.services import (
    Services,
    build_services,
    catalog_url,
    open_archive,
    open_catalog,
    open_index,
    open_queue,
    open_store,
)

__all__ = [
    "Services", "build_services", "catalog_url", "open_archive", "open_catalog", "open_index", "open_queue",
    "open_store",
]
