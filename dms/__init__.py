"""Kundenakte: one versioned digital customer file per customer."""

__version__ = "0.1.0"
