"""A small, engine-neutral query language.

  word            documents containing the word (any inflection)
  "two words"     the phrase
  rech*           words starting with `rech`
  -word           documents without the word
Terms are combined with AND. The embedded index and OpenSearch translate the same AST.

`parse_query(text, limits)` is also the one place where a query's size is checked, for both
engines: its length (before anything else is done with it), the number of terms, of prefix
terms and the letters before a `*`. A query over a limit is a ValidationError (400) that
names the limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dms.errors import ValidationError
from dms.search.analysis import fold, stem, tokens
from dms.search.limits import SearchLimits

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

    @property
    def prefix_count(self) -> int:
        return sum(1 for c in self.clauses if c.kind == "prefix")

    @property
    def term_count(self) -> int:
        """Words (each word of a phrase counts) and prefixes."""
        return sum(1 if c.kind == "prefix" else len(c.stems) for c in self.clauses)


def check_length(text: str, limits: SearchLimits) -> None:
    """The cheap first check, before a query is cleaned, parsed or sent anywhere."""
    if len(text or "") > limits.max_query_chars:
        raise ValidationError(
            f"Die Suchanfrage hat {len(text)} Zeichen; erlaubt sind höchstens {limits.max_query_chars}.",
            code="query_too_long", field="q", limit=limits.max_query_chars,
        )


def check_counts(parsed: ParsedQuery, limits: SearchLimits) -> None:
    if parsed.prefix_count > limits.max_prefix_terms:
        raise ValidationError(
            f"Die Suchanfrage hat {parsed.prefix_count} Begriffe mit Platzhalter (wort*); "
            f"erlaubt sind höchstens {limits.max_prefix_terms}.",
            code="too_many_prefix_terms", field="q", limit=limits.max_prefix_terms,
        )
    if parsed.term_count > limits.max_terms:
        raise ValidationError(
            f"Die Suchanfrage hat {parsed.term_count} Suchbegriffe (Wörter, auch in Phrasen, und Platzhalter); "
            f"erlaubt sind höchstens {limits.max_terms}.",
            code="too_many_terms", field="q", limit=limits.max_terms,
        )


def _prefix_too_short(raw: str, limits: SearchLimits) -> ValidationError:
    shown = raw if len(raw) <= 40 else raw[:40] + "…"
    return ValidationError(
        f"Vor dem * in „{shown}“ müssen mindestens {limits.min_prefix_chars} Buchstaben oder Ziffern stehen.",
        code="prefix_too_short", field="q", limit=limits.min_prefix_chars,
    )


def _analyze(text: str) -> tuple[str, ...]:
    return tuple(stem(word) for _s, _e, word in tokens(text))


def parse_query(text: str, limits: SearchLimits | None = None) -> ParsedQuery:
    """The query's clauses; with `limits`, a query over a limit raises ValidationError.

    Without limits (tools, tests) nothing is refused: a `*` after fewer than one letter is dropped.
    """
    text = text or ""
    if limits is not None:
        check_length(text, limits)
    min_prefix = limits.min_prefix_chars if limits is not None else 1
    parsed = ParsedQuery()
    for match in _CLAUSE_RE.finditer(text):
        if match.group(2) is not None:
            negated, raw = bool(match.group(1)), match.group(2)
            stems = _analyze(raw)
            if len(stems) > 1:
                parsed.clauses.append(Clause("phrase", tuple(raw.split()), stems, negated))
            elif stems:
                parsed.clauses.append(Clause("term", (raw,), stems, negated))
            continue
        negated, raw = bool(match.group(3)), match.group(4)
        if raw.endswith("*"):
            words = [word for _s, _e, word in tokens(raw.rstrip("*"))]
            if len(words) <= 1:
                letters = len(words[0]) if words else 0
                if letters < min_prefix or letters == 0:
                    if limits is not None:
                        raise _prefix_too_short(raw, limits)
                else:
                    # Prefix matching is done on the folded, *unstemmed* prefix: stemming a fragment
                    # ("rechnungsn") could cut it somewhere the full word is not cut.
                    parsed.clauses.append(Clause("prefix", (words[0],), (fold(words[0]),), negated))
                    continue
        stems = _analyze(raw)
        if len(stems) == 1:
            parsed.clauses.append(Clause("term", (raw,), stems, negated))
        elif len(stems) > 1:
            # Tokens glued by punctuation (RE-2024-001, max.mustermann) behave like a phrase.
            parsed.clauses.append(Clause("phrase", (raw,), stems, negated))
    if limits is not None:
        check_counts(parsed, limits)
    return parsed
