"""OpenSearch search backend (scale-out), behind the SearchIndex Protocol.

Callers read and write through an alias; the data lives in concrete indices named
`<alias>-<timestamp>`, so `reindex_swap` can rebuild into a new index and move the alias
atomically (zero downtime).  Connection problems raise BackendUnavailable (retryable).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from opensearchpy import OpenSearch, helpers
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import ConnectionTimeout, NotFoundError, TransportError

from dms.errors import BackendUnavailable
from dms.search.base import IndexEntry, SearchHit, SearchQuery, SearchResult
from dms.search.limits import SearchLimits, timeout_error
from dms.search.opensearch_mapping import NEW_FIELDS, REFRESH_INTERVAL, index_body, to_document
from dms.search.opensearch_query import facets_body, parse_facets, pick_highlights, search_body
from dms.search.query import parse_query

T = TypeVar("T")
log = logging.getLogger(__name__)
RETRYABLE_STATUS = {429, 502, 503, 504}
BULK_CHUNK = 500
PING_TIMEOUT = 5  # seconds; /health must answer quickly even when the cluster hangs
# The HTTP request of a search may take this much longer than the query's own time limit
# (the cluster's `timeout` is checked between documents, cancellation takes a moment).
REQUEST_GRACE = 2.0


@contextmanager
def _translated(action: str) -> Iterator[None]:
    """Map unreachable/overloaded cluster errors to BackendUnavailable."""
    try:
        yield
    except OSConnectionError as exc:  # includes ConnectionTimeout and SSLError
        raise BackendUnavailable(f"OpenSearch nicht erreichbar ({action}): {exc}") from exc
    except TransportError as exc:
        if isinstance(exc.status_code, int) and exc.status_code in RETRYABLE_STATUS:
            raise BackendUnavailable(f"OpenSearch überlastet ({action}): {exc}") from exc
        raise


class OpenSearchIndex:
    """Searches are bounded by `limits.timeout_seconds` three ways: the body's `timeout` (each
    shard stops collecting), `cancel_after_time_interval` (the cluster cancels the search task)
    and the client's `request_timeout` (we stop waiting). A response flagged `timed_out` holds
    partial results; it is answered as SearchTimeout like every other timeout, never as a
    silently incomplete result. Searches use their own client that does not retry a timeout."""

    def __init__(
        self,
        url: str,
        alias: str = "kundenakte-documents",
        *,
        client: OpenSearch | None = None,
        limits: SearchLimits | None = None,
    ) -> None:
        self.url = url
        self.alias = alias
        self.limits = limits or SearchLimits()
        self._client = client or OpenSearch(hosts=[url], timeout=30, max_retries=2, retry_on_timeout=True)
        self._search_client = client or OpenSearch(
            hosts=[url], timeout=self.limits.timeout_seconds + REQUEST_GRACE, max_retries=1, retry_on_timeout=False,
        )
        self._concrete_re = re.compile(rf"^{re.escape(alias)}-\d{{8}}-\d{{6}}-\d{{6}}$")

    # -- index lifecycle

    def _new_index_name(self) -> str:
        return f"{self.alias}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S-%f')}"

    def _create_index(self, *, loading: bool = False) -> str:
        name = self._new_index_name()
        body = index_body()
        if loading:
            body = {**body, "settings": {**body["settings"], "refresh_interval": "-1"}}
        self._client.indices.create(index=name, body=body)
        return name

    def concrete_indices(self) -> list[str]:
        """The concrete indices the alias points at (normally exactly one)."""
        with _translated("alias lesen"):
            try:
                return sorted(self._client.indices.get_alias(name=self.alias))
            except NotFoundError:
                return []

    def ensure_index(self) -> None:
        """Create `<alias>-<timestamp>` and point the alias at it, unless the alias exists."""
        with _translated("Index anlegen"):
            if self._client.indices.exists_alias(name=self.alias):
                # fields added since the index was created (a strict mapping refuses unknown ones)
                self._client.indices.put_mapping(index=self.alias, body={"properties": NEW_FIELDS})
                return
            name = self._create_index()
            self._client.indices.update_aliases(body={"actions": [{"add": {"index": name, "alias": self.alias}}]})
            # Two processes racing here both create an index: the oldest one wins, ours goes.
            behind = self.concrete_indices()
            if len(behind) > 1 and behind[0] != name:
                self._client.indices.delete(index=name)

    def drop(self) -> None:
        """Delete the alias and every concrete index of this alias (also leftovers of failed swaps)."""
        with _translated("Index löschen"):
            names = set(self.concrete_indices())
            names.update(n for n in self._client.indices.get(index=f"{self.alias}-*") if self._concrete_re.match(n))
            for name in sorted(names):
                self._client.indices.delete(index=name, ignore_unavailable=True)

    def reindex_swap(self, entries: Iterable[IndexEntry]) -> str:
        """Load `entries` into a new index, move the alias to it atomically, delete the old index."""
        with _translated("Neuindizierung"):
            old = self.concrete_indices()
            new = self._create_index(loading=True)
            try:
                self._bulk(new, entries)
                self._client.indices.put_settings(index=new, body={"index": {"refresh_interval": REFRESH_INTERVAL}})
                self._client.indices.refresh(index=new)
                actions: list[dict[str, Any]] = [{"remove": {"index": n, "alias": self.alias}} for n in old]
                actions.append({"add": {"index": new, "alias": self.alias}})
                self._client.indices.update_aliases(body={"actions": actions})
            except BaseException:
                self._client.indices.delete(index=new, ignore_unavailable=True)
                raise
            for name in old:
                self._client.indices.delete(index=name, ignore_unavailable=True)
        return new

    # -- writes

    def index(self, entry: IndexEntry) -> None:
        with _translated("indizieren"):
            self._client.index(index=self.alias, id=entry.id, body=to_document(entry), refresh="wait_for")

    def _bulk(self, index: str, entries: Iterable[IndexEntry]) -> int:
        actions = ({"_index": index, "_id": e.id, "_source": to_document(e)} for e in entries)
        ok, _errors = helpers.bulk(self._client, actions, chunk_size=BULK_CHUNK, max_retries=3)
        return int(ok)

    def bulk_index(self, entries: Iterable[IndexEntry]) -> int:
        """Index many entries in chunks; returns how many were indexed. Searchable on return."""
        with _translated("Massenindizierung"):
            count = self._bulk(self.alias, entries)
            self._client.indices.refresh(index=self.alias)
        return count

    def delete(self, document_id: str) -> None:
        with _translated("löschen"), suppress(NotFoundError):
            self._client.delete(index=self.alias, id=document_id, refresh="wait_for")

    def clear(self) -> None:
        """Swap in an empty index (needs no delete-by-query, i.e. no `reindex` module)."""
        self.reindex_swap([])

    # -- reads

    def _read(self, action: str, call: Callable[[], T]) -> T:
        with _translated(action):
            try:
                return call()
            except NotFoundError as exc:
                raise BackendUnavailable(f"Suchindex {self.alias!r} fehlt: {exc}") from exc

    def ping(self) -> None:
        exists = self._read(
            "ping", lambda: self._client.indices.exists_alias(name=self.alias, request_timeout=PING_TIMEOUT)
        )
        if not exists:
            raise BackendUnavailable(f"Suchindex {self.alias!r} fehlt")

    def count(self) -> int:
        return int(self._read("zählen", lambda: self._client.count(index=self.alias))["count"])

    def _timed_search(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        """One search request within the time limit; any kind of timeout is SearchTimeout."""
        seconds = self.limits.timeout_seconds
        millis = max(1, int(seconds * 1000))
        body = {**body, "timeout": f"{millis}ms"}

        def call() -> dict[str, Any]:
            started = time.monotonic()
            try:
                return self._search_client.search(
                    index=self.alias, body=body, cancel_after_time_interval=f"{millis}ms",
                    request_timeout=seconds + REQUEST_GRACE,
                )
            except ConnectionTimeout as exc:
                raise timeout_error(seconds) from exc
            except TransportError as exc:
                if _cancelled(exc):
                    raise timeout_error(seconds) from exc
                if _is_server_error(exc) and time.monotonic() - started >= seconds:
                    # A search cancelled in a later phase (fetch, highlighting, aggregations) may fail
                    # with a shape that names no cancellation: past the limit it is still a timeout.
                    log.warning("search failed after its time limit, answered as timeout: %s", exc)
                    raise timeout_error(seconds) from exc
                raise

        response = self._read(action, call)
        failures = (response.get("_shards") or {}).get("failures") or []
        if response.get("timed_out") or any(_cancelled_text(str(f)) for f in failures):
            raise timeout_error(seconds)  # partial results are never passed off as complete
        return response

    def search(self, query: SearchQuery) -> SearchResult:
        parsed = parse_query(query.text, self.limits)
        body = search_body(parsed, query)
        response = self._timed_search("suchen", body)
        hits = [self._hit(h) for h in response["hits"]["hits"]]
        return SearchResult(total=int(response["hits"]["total"]["value"]), hits=hits)

    def facets(self, query: SearchQuery) -> dict[str, list[tuple[str, int]]]:
        """(value, count) per facet — customer, class, folder, year, tags — for the query's matches."""
        body = facets_body(parse_query(query.text, self.limits), query)
        response = self._timed_search("Facetten", body)
        return parse_facets(response.get("aggregations", {}))

    @staticmethod
    def _hit(hit: dict[str, Any]) -> SearchHit:
        src = hit["_source"]
        score = hit.get("_score")
        return SearchHit(
            id=src.get("id") or hit["_id"],
            customer_number=src.get("customer_number"),
            title=src.get("title", ""),
            document_class=src.get("document_class"),
            folder=src.get("folder"),
            score=float(score) if score is not None else 0.0,
            highlights=pick_highlights(hit.get("highlight")),
            date=date.fromisoformat(src["date"][:10]) if src.get("date") else None,
            version=int(src["version"]) if src.get("version") is not None else None,
        )


def _is_server_error(exc: TransportError) -> bool:
    return not isinstance(exc.status_code, int) or exc.status_code >= 500


def _cancelled(exc: TransportError) -> bool:
    """The cluster cancelled the search task (cancel_after_time_interval) or a shard timed out."""
    return _cancelled_text(f"{exc.error} {exc.info}")


_CANCEL_MARKERS = ("cancelled", "canceled", "cancellation", "timed out", "time exceeded", "timeout")


def _cancelled_text(text: str) -> bool:
    lowered = text.lower()
    return any(marker in lowered for marker in _CANCEL_MARKERS)
