"""Catalog backend: SQLAlchemy on SQLite (embedded) or PostgreSQL (scale-out)."""

from dms.catalog.catalog import Catalog

__all__ = ["Catalog"]
