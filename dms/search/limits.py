"""What one search may cost, for both engines: query size, terms, prefixes, time, concurrency.

The limits come from the `[search]` block of the configuration (`dms/defaults.toml`); an
engine built without them uses the defaults below (the same values), so it is never unbounded.
The query checks themselves live in `dms.search.query.parse_query`; this module holds the
numbers, the per-query deadline and the per-process gate on concurrent searches.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from dms.errors import SearchTimeout, ServiceBusy

# OpenSearch answers at most `index.max_result_window` (10,000) hits per query (from + size);
# both engines stop paging there.
MAX_RESULT_WINDOW = 10_000


@dataclass(frozen=True)
class SearchLimits:
    max_query_chars: int = 500
    max_terms: int = 32  # words (also those inside phrases) and prefixes
    max_prefix_terms: int = 5
    min_prefix_chars: int = 2  # letters or digits before the `*`
    timeout_seconds: float = 10.0
    max_concurrent: int = 4

    @classmethod
    def from_settings(cls, settings: Any) -> SearchLimits:
        section = settings.rules.get("search", {})
        defaults = cls()
        return cls(
            max_query_chars=settings.limit("search", "max_query_chars"),
            max_terms=settings.limit("search", "max_terms"),
            max_prefix_terms=settings.limit("search", "max_prefix_terms"),
            min_prefix_chars=settings.limit("search", "min_prefix_chars"),
            # read as a number, not via Settings.limit (an int): fractions of a second are allowed
            timeout_seconds=float(section.get("timeout_seconds", defaults.timeout_seconds)),
            max_concurrent=settings.limit("search", "max_concurrent"),
        )


def seconds_text(seconds: float) -> str:
    """10 -> "10", 0.25 -> "0,25" (German decimal comma)."""
    return f"{seconds:g}".replace(".", ",")


def timeout_error(seconds: float) -> SearchTimeout:
    return SearchTimeout(
        f"Die Suche hat länger als {seconds_text(seconds)} s gedauert und wurde abgebrochen. "
        "Bitte die Suchanfrage eingrenzen: genauere Begriffe, weniger Platzhalter (*) "
        "oder ein Filter nach Kunde, Dokumentklasse oder Zeitraum.",
        timeout_seconds=seconds,
    )


class Deadline:
    """The moment a query must be finished by (monotonic clock)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def expired(self) -> bool:
        return time.monotonic() > self.at

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def check(self) -> None:
        if self.expired():
            raise timeout_error(self.seconds)


def result_window(offset: int, limit: int) -> tuple[int, int]:
    """(offset, size) bounded to the first MAX_RESULT_WINDOW hits; size may be 0."""
    start = max(0, min(int(offset), MAX_RESULT_WINDOW))
    return start, max(0, min(int(limit), MAX_RESULT_WINDOW - start))


class SearchSlots:
    """At most `size` searches at once in this process; one more waits `wait` seconds at most,
    then gets ServiceBusy (503, `Retry-After`), so the remaining web threads stay free for
    `/health`, uploads and downloads."""

    def __init__(self, size: int, *, wait: float = 0.1, retry_after: int = 1) -> None:
        self.size = max(1, int(size))
        self.wait = wait
        self.retry_after = retry_after
        self._free = threading.BoundedSemaphore(self.size)

    @contextmanager
    def hold(self) -> Iterator[None]:
        if not self._free.acquire(timeout=self.wait):
            raise ServiceBusy(
                f"Es laufen bereits {self.size} Suchen gleichzeitig; bitte in {self.retry_after} s erneut versuchen.",
                retry_after=self.retry_after,
            )
        try:
            yield
        finally:
            self._free.release()
