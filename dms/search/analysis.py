"""German text analysis shared by the embedded index and the highlighter.

Tokens are lower-cased, stemmed with the Snowball German stemmer and folded to ASCII
(ä→a, ß→ss), so `Rechnungen`, `Rechnung` and `rechnung` are one term.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

import snowballstemmer

TOKEN_RE = re.compile(r"\w+", re.UNICODE)
_FOLD = str.maketrans({"ä": "a", "ö": "o", "ü": "u", "ß": "ss"})
_stemmer = snowballstemmer.stemmer("german")


@lru_cache(maxsize=200_000)
def fold(word: str) -> str:
    word = word.lower().translate(_FOLD)
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """Stem of one word; the index and the query use the same function."""
    lowered = word.lower()
    if lowered.isdigit():
        return lowered
    return fold(_stemmer.stemWord(lowered))


def tokens(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, word) for every word in `text`."""
    for match in TOKEN_RE.finditer(text):
        yield match.start(), match.end(), match.group()


def analyze(text: str) -> list[str]:
    return [stem(word) for _s, _e, word in tokens(text)]


def analyzed_text(text: str) -> str:
    return " ".join(analyze(text))
