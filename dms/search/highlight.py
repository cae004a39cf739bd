"""Highlighted snippets computed from the original text and the parsed query."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import escape

from dms.search.analysis import TOKEN_RE, fold, stem
from dms.search.limits import Deadline
from dms.search.query import ParsedQuery

MARK_OPEN, MARK_CLOSE = "<mark>", "</mark>"
WIDEN_MAX = 40  # a snippet is widened to word boundaries by at most this many characters each side
CHECK_EVERY = 2048  # tokens between two looks at the deadline
_SPACE = re.compile(r"\s")


def _matcher(query: ParsedQuery):
    stems: set[str] = set()
    prefixes: list[str] = []
    for clause in query.positive:
        if clause.kind == "prefix":
            prefixes.extend(clause.stems)
        else:
            stems.update(clause.stems)
    prefix_tuple = tuple(prefixes)

    def matches(word: str) -> bool:
        if stem(word) in stems:
            return True
        return bool(prefix_tuple) and fold(word).startswith(prefix_tuple)

    return matches


def _spans(text: str, query: ParsedQuery, deadline: Deadline | None) -> Iterator[tuple[int, int]]:
    """(start, end) of every matching word, lazily, looking at the deadline now and then."""
    matches = _matcher(query)
    for n, match in enumerate(TOKEN_RE.finditer(text)):
        if deadline is not None and n % CHECK_EVERY == 0:
            deadline.check()
        if matches(match.group()):
            yield match.start(), match.end()


def _widen(text: str, lo: int, hi: int) -> tuple[int, int]:
    """Move lo left and hi right to the nearest whitespace (at most WIDEN_MAX characters)."""
    floor = max(0, lo - WIDEN_MAX)
    while lo > floor and not text[lo - 1].isspace():
        lo -= 1
    space = _SPACE.search(text, hi, min(len(text), hi + WIDEN_MAX))
    hi = space.start() if space else min(len(text), hi + WIDEN_MAX)
    return lo, hi


def highlights(
    text: str, query: ParsedQuery, *, max_snippets: int = 3, width: int = 80, deadline: Deadline | None = None
) -> list[str]:
    """Up to `max_snippets` HTML-escaped snippets with matches wrapped in <mark>.

    The text is scanned only as far as the snippets need; with a `deadline`, a scan that
    outlasts it raises SearchTimeout.
    """
    if query.is_empty() or not text:
        return []
    found = _spans(text, query, deadline)
    pending: list[tuple[int, int]] = []  # spans read ahead of the current snippet

    def next_span() -> tuple[int, int] | None:
        return pending.pop(0) if pending else next(found, None)

    snippets: list[str] = []
    while len(snippets) < max_snippets:
        first = next_span()
        if first is None:
            break
        start = first[0]
        lo, hi = _widen(text, max(0, start - width // 2), min(len(text), start + width))
        window = [first]
        while True:
            span = next_span()
            if span is None:
                break
            if span[1] > hi:
                pending.insert(0, span)
                break
            window.append(span)
        out, pos = [], lo
        for s, e in window:
            out.append(escape(text[pos:s]))
            out.append(MARK_OPEN + escape(text[s:e]) + MARK_CLOSE)
            pos = e
        out.append(escape(text[pos:hi]))
        snippet = " ".join("".join(out).split())
        snippets.append(("… " if lo > 0 else "") + snippet + (" …" if hi < len(text) else ""))
        # the next snippet starts at a match after this one
        while pending and pending[0][0] < hi:
            pending.pop(0)
        while not pending:
            span = next(found, None)
            if span is None:
                break
            if span[0] >= hi:
                pending.append(span)
    return snippets
