"""Retention periods: they start at the end of the calendar year of the document date."""

from __future__ import annotations

from datetime import UTC, date, datetime


def retention_start(document_date: date) -> datetime:
    """The first instant after the calendar year of `document_date` (timezone-aware, UTC)."""
    return datetime(document_date.year + 1, 1, 1, tzinfo=UTC)


def retain_until(document_class: str | None, document_date: date | None, periods: dict[str, int]) -> datetime | None:
    """When a document of this class may be deleted; None when its class has no statutory retention.

    Example: an invoice dated 2026-03-12 with a 10-year period is kept until 2037-01-01 00:00 UTC
    (end of 2026 + 10 years).
    """
    if not document_class or document_class not in periods or document_date is None:
        return None
    years = periods[document_class]
    if years <= 0:
        return None
    start = retention_start(document_date)
    return start.replace(year=start.year + years)
