"""A small, engine-neutral query language.

  word            documents containing the word (any inflection)
  "two words"     the phrase
  rech*           words starting with `rech`
  -word           documents without the word
Terms are combined with AND. The embedded index and OpenSearch translate the same AST.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dms.search.analysis import analyze, fold

_CLAUSE_RE = re.compile(r'(-?)"([^"]*)"|(-?)(\S+)')


@dataclass(frozen=True)
class Clause:
    kind: str  # "term" | "phrase" | "prefix"
    words: tuple[str, ...]  # as typed (for engines that analyse themselves)
    stems: tuple[str, ...]  # analysed (for the embedded engine and highlighting)
    negated: bool = False


@dataclass
class ParsedQuery:
    clauses: list[Clause] = field(default_factory=list)

    @property
    def positive(self) -> list[Clause]:
        return [c for c in self.clauses if not c.negated]

    @property
    def negative(self) -> list[Clause]:
        return [c for c in self.clauses if c.negated]

    def is_empty(self) -> bool:
        return not self.clauses


def parse_query(text: str) -> ParsedQuery:
    parsed = ParsedQuery()
    for match in _CLAUSE_RE.finditer(text or ""):
        if match.group(2) is not None:
            negated, raw = bool(match.group(1)), match.group(2)
            stems = tuple(analyze(raw))
            if len(stems) > 1:
                parsed.clauses.append(Clause("phrase", tuple(raw.split()), stems, negated))
            elif stems:
                parsed.clauses.append(Clause("term", (raw,), stems, negated))
            continue
        negated, raw = bool(match.group(3)), match.group(4)
        if raw.endswith("*") and len(raw.rstrip("*")) >= 2:
            words = analyze(raw.rstrip("*"))
            if len(words) == 1:
                prefix = fold(raw.rstrip("*").split()[0]).strip()
                # Prefix matching is done on the folded, *unstemmed* prefix: stemming a fragment
                # ("rechnungsn") could cut it somewhere the full word is not cut.
                parsed.clauses.append(Clause("prefix", (raw.rstrip("*"),), (fold(prefix),), negated))
                continue
        stems = tuple(analyze(raw))
        if len(stems) == 1:
            parsed.clauses.append(Clause("term", (raw,), stems, negated))
        elif len(stems) > 1:
            # Tokens glued by punctuation (RE-2024-001, max.mustermann) behave like a phrase.
            parsed.clauses.append(Clause("phrase", (raw,), stems, negated))
    return parsed
