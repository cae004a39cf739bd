"""Highlighted snippets computed from the original text and the parsed query."""

from __future__ import annotations

from html import escape

from dms.search.analysis import fold, stem, tokens
from dms.search.query import ParsedQuery

MARK_OPEN, MARK_CLOSE = "<mark>", "</mark>"


def _matcher(query: ParsedQuery):
    stems: set[str] = set()
    prefixes: list[str] = []
    for clause in query.positive:
        if clause.kind == "prefix":
            prefixes.extend(clause.stems)
        else:
            stems.update(clause.stems)

    def matches(word: str) -> bool:
        if stem(word) in stems:
            return True
        folded = fold(word)
        return any(folded.startswith(p) for p in prefixes)

    return matches


def highlights(text: str, query: ParsedQuery, *, max_snippets: int = 3, width: int = 80) -> list[str]:
    """Up to `max_snippets` HTML-escaped snippets with matches wrapped in <mark>."""
    if query.is_empty() or not text:
        return []
    matches = _matcher(query)
    spans = [(s, e) for s, e, word in tokens(text) if matches(word)]
    snippets: list[str] = []
    used_until = -1
    for start, _end in spans:
        if start < used_until:
            continue
        lo = max(0, start - width // 2)
        hi = min(len(text), start + width)
        # widen to word boundaries
        while lo > 0 and not text[lo - 1].isspace():
            lo -= 1
        while hi < len(text) and not text[hi].isspace():
            hi += 1
        window = [(s, e) for s, e in spans if s >= lo and e <= hi]
        out, pos = [], lo
        for s, e in window:
            out.append(escape(text[pos:s]))
            out.append(MARK_OPEN + escape(text[s:e]) + MARK_CLOSE)
            pos = e
        out.append(escape(text[pos:hi]))
        snippet = " ".join("".join(out).split())
        snippets.append(("… " if lo > 0 else "") + snippet + (" …" if hi < len(text) else ""))
        used_until = hi
        if len(snippets) >= max_snippets:
            break
    return snippets
