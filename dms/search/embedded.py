"""Embedded full-text index: SQLite FTS5 over German-stemmed tokens.

FTS5 has no German stemmer, so we analyse in Python (dms.search.analysis) and store the
stems (`title`, `body`) plus the folded unstemmed words (`raw`, for prefix queries).
Highlights are computed from the original text kept in `entries`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from itertools import islice
from pathlib import Path
from typing import Any

from dms.errors import BackendUnavailable
from dms.search.analysis import analyzed_text, fold, tokens
from dms.search.base import BY_DATE, IndexEntry, SearchHit, SearchQuery, SearchResult
from dms.search.highlight import highlights
from dms.search.limits import Deadline, SearchLimits, result_window
from dms.search.query import Clause, ParsedQuery, parse_query

# SQLite calls the progress handler every this many virtual machine instructions; it stops a
# query whose deadline has passed (a few ms granularity, small overhead).
PROGRESS_STEPS = 20_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    customer_number TEXT,
    title TEXT NOT NULL,
    document_class TEXT,
    folder TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    date TEXT,
    version INTEGER NOT NULL DEFAULT 1,
    filename TEXT,
    status TEXT,
    fields TEXT NOT NULL DEFAULT '{}',
    text TEXT NOT NULL DEFAULT '',
    restricted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ix_entries_customer ON entries(customer_number);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(title, body, raw, tokenize = 'unicode61 remove_diacritics 0');
"""


def _fts_string(text: str) -> str:
    """An FTS5 string literal (a double quote inside is doubled)."""
    return '"' + text.replace('"', '""') + '"'


def _clause_expr(clause: Clause) -> str:
    if clause.kind == "prefix":
        return f"raw : {_fts_string(clause.stems[0])}*"
    return "{title body} : " + _fts_string(" ".join(clause.stems))


def match_expression(parsed: ParsedQuery) -> str | None:
    positive = [_clause_expr(c) for c in parsed.positive]
    if not positive:
        return None
    expr = "(" + " AND ".join(positive) + ")"
    for clause in parsed.negative:
        expr += " NOT " + _clause_expr(clause)
    return expr


class EmbeddedSearchIndex:
    """Every thread has its own connection (WAL: readers never wait for the writer or for each
    other), so `ping` from `/health` never waits on a running search. Writes are serialised by
    `_write_lock`; searches take no lock."""

    def __init__(self, path: Path, *, limits: SearchLimits | None = None) -> None:
        self.path = Path(path)
        self.limits = limits or SearchLimits()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._conn().executescript(SCHEMA)
        columns = {row[1] for row in self._conn().execute("PRAGMA table_info(entries)")}
        if "restricted" not in columns:  # an index from before GDPR restriction (issue #12)
            self._conn().execute("ALTER TABLE entries ADD COLUMN restricted INTEGER NOT NULL DEFAULT 0")

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
        return conn

    def ping(self) -> None:
        try:
            self._conn().execute("SELECT count(*) FROM entries").fetchone()
        except sqlite3.Error as exc:
            raise BackendUnavailable(f"Suchindex nicht lesbar: {exc}") from exc

    @staticmethod
    def _row(entry: IndexEntry) -> tuple[tuple[Any, ...], tuple[str, str, str]]:
        """The `entries` row and the analysed `fts` columns (title, body, raw) of an entry."""
        searchable = " ".join([entry.text, " ".join(entry.tags), " ".join(map(str, entry.fields.values()))])
        raw = " ".join(fold(w) for _s, _e, w in tokens(entry.title + " " + searchable))
        row = (
            entry.id, entry.customer_number, entry.title, entry.document_class, entry.folder,
            json.dumps(sorted(entry.tags)), entry.date.isoformat() if entry.date else None,
            entry.version, entry.filename, entry.status, json.dumps(entry.fields, default=str),
            entry.text, int(entry.restricted),
        )
        return row, (analyzed_text(entry.title), analyzed_text(searchable), raw)

    def index(self, entry: IndexEntry) -> None:
        self.bulk_index([entry])

    def bulk_index(self, entries: Iterable[IndexEntry], *, chunk: int = 500) -> int:
        """Index many entries, one transaction per `chunk`; returns how many. Searchable on return."""
        count = 0
        pending = iter(entries)
        while batch := [self._row(e) for e in islice(pending, chunk)]:  # analysed outside the lock
            with self._write_lock:
                conn = self._conn()
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for row, fts in batch:
                        self._delete(conn, row[0])
                        cur = conn.execute(
                            "INSERT INTO entries (id, customer_number, title, document_class, folder, tags, date,"
                            " version, filename, status, fields, text, restricted) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                            row,
                        )
                        conn.execute(
                            "INSERT INTO fts (rowid, title, body, raw) VALUES (?,?,?,?)", (cur.lastrowid, *fts)
                        )
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            count += len(batch)
        return count

    @staticmethod
    def _delete(conn: sqlite3.Connection, document_id: str) -> None:
        row = conn.execute("SELECT rowid FROM entries WHERE id = ?", (document_id,)).fetchone()
        if row:
            conn.execute("DELETE FROM fts WHERE rowid = ?", (row[0],))
            conn.execute("DELETE FROM entries WHERE rowid = ?", (row[0],))

    def delete(self, document_id: str) -> None:
        with self._write_lock:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            self._delete(conn, document_id)
            conn.execute("COMMIT")

    def clear(self) -> None:
        with self._write_lock:
            conn = self._conn()
            conn.execute("DELETE FROM fts")
            conn.execute("DELETE FROM entries")

    def count(self) -> int:
        return int(self._conn().execute("SELECT count(*) FROM entries").fetchone()[0])

    def _filters(self, query: SearchQuery) -> tuple[list[str], list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        if not query.include_restricted:
            where.append("e.restricted = 0")
        if query.customer:
            where.append("e.customer_number = ?")
            params.append(str(query.customer))
        if query.customers is not None:
            where.append("(e.customer_number IS NULL OR e.customer_number IN (SELECT value FROM json_each(?)))")
            params.append(json.dumps(list(query.customers)))
        if query.document_class:
            where.append("e.document_class = ?")
            params.append(query.document_class)
        if query.folder:
            where.append("e.folder = ?")
            params.append(query.folder)
        if query.tag:
            where.append("EXISTS (SELECT 1 FROM json_each(e.tags) WHERE value = ?)")
            params.append(query.tag)
        if query.date_from:
            where.append("e.date >= ?")
            params.append(query.date_from.isoformat())
        if query.date_to:
            where.append("e.date <= ?")
            params.append(query.date_to.isoformat())
        return where, params

    @contextmanager
    def _bounded(self, conn: sqlite3.Connection, deadline: Deadline) -> Iterator[None]:
        """Statements on `conn` inside this block stop when `deadline` passes (SearchTimeout)."""
        conn.set_progress_handler(lambda: 1 if deadline.expired() else 0, PROGRESS_STEPS)
        try:
            yield
        except sqlite3.OperationalError as exc:
            if "interrupted" in str(exc) or deadline.expired():
                deadline.check()
            raise BackendUnavailable(f"Suche fehlgeschlagen: {exc}") from exc
        finally:
            conn.set_progress_handler(None, 0)

    def _matching(self, query: SearchQuery) -> tuple[ParsedQuery, str, str, list[Any], bool]:
        """(parsed query, FROM clause, WHERE clause, parameters, ranked?) for the documents a query matches."""
        parsed = parse_query(query.text, self.limits)
        where, params = self._filters(query)
        expr = match_expression(parsed)
        if expr:
            source = "fts JOIN entries e ON e.rowid = fts.rowid"
            where.insert(0, "fts MATCH ?")
            params.insert(0, expr)
        else:
            source = "entries e"
            if parsed.negative:
                negative = " OR ".join(_clause_expr(c) for c in parsed.negative)
                where.append("e.rowid NOT IN (SELECT rowid FROM fts WHERE fts MATCH ?)")
                params.append(negative)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        return parsed, source, clause, params, bool(expr)

    def facets(self, query: SearchQuery) -> dict[str, list[tuple[str, int]]]:
        """(value, count) per facet — customer, class, folder, year, tags — for the query's matches."""
        deadline = Deadline(self.limits.timeout_seconds)
        _parsed, source, clause, params = self._matching(query)[:4]
        value_of = {
            "customer": "e.customer_number",
            "class": "e.document_class",
            "folder": "e.folder",
            "year": "substr(e.date, 1, 4)",
        }
        conn = self._conn()
        out: dict[str, list[tuple[str, int]]] = {}
        with self._bounded(conn, deadline):
            for name, expr in value_of.items():
                order = "value DESC" if name == "year" else "n DESC, value"
                rows = conn.execute(
                    f"SELECT {expr} AS value, count(*) AS n FROM {source}{clause} GROUP BY value"
                    f" HAVING value IS NOT NULL ORDER BY {order} LIMIT 50",
                    params,
                ).fetchall()
                out[name] = [(str(r["value"]), int(r["n"])) for r in rows]
            rows = conn.execute(
                f"SELECT t.value AS value, count(*) AS n FROM {source}, json_each(e.tags) t{clause}"
                " GROUP BY t.value ORDER BY n DESC, value LIMIT 50",
                params,
            ).fetchall()
            out["tags"] = [(str(r["value"]), int(r["n"])) for r in rows]
        return out

    def search(self, query: SearchQuery) -> SearchResult:
        """Matches of `query`; over the time limit (SQL and highlighting together) SearchTimeout."""
        deadline = Deadline(self.limits.timeout_seconds)
        parsed, source, clause, params, ranked = self._matching(query)
        if ranked:
            score = "-bm25(fts, 3.0, 1.0, 0.5)"
            # undated entries sort last either way: SQLite orders NULL below every date
            order = "e.date DESC, score DESC, e.rowid DESC" if query.sort == BY_DATE else "score DESC, e.date DESC"
        else:
            score, order = "0.0", "e.date DESC, e.rowid DESC"
        offset, size = result_window(query.offset, query.limit)
        conn = self._conn()
        with self._bounded(conn, deadline):
            total = conn.execute(f"SELECT count(*) FROM {source}{clause}", params).fetchone()[0]
            rows = conn.execute(
                f"SELECT e.*, {score} AS score FROM {source}{clause} ORDER BY {order} LIMIT ? OFFSET ?",
                [*params, size, offset],
            ).fetchall() if size else []
        hits = []
        for r in rows:
            deadline.check()
            hits.append(
                SearchHit(
                    id=r["id"],
                    customer_number=r["customer_number"],
                    title=r["title"],
                    document_class=r["document_class"],
                    folder=r["folder"],
                    score=float(r["score"]),
                    highlights=highlights(r["text"], parsed, deadline=deadline)
                    or highlights(r["title"], parsed, deadline=deadline),
                    date=date.fromisoformat(r["date"]) if r["date"] else None,
                    version=int(r["version"]) if r["version"] is not None else None,
                )
            )
        return SearchResult(total=int(total), hits=hits)
