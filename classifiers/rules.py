"""Document class by weighted regex rules from the configuration."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from dms.config import ClassSpec


@dataclass
class ClassDecision:
    document_class: str | None
    score: int = 0
    rules: list[str] = field(default_factory=list)
    scores: dict[str, int] = field(default_factory=dict)


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE | re.UNICODE)


def classify_text(text: str, classes: dict[str, ClassSpec]) -> ClassDecision:
    """Score every class; the highest score wins. Ties go to the class listed first."""
    best = ClassDecision(None)
    scores: dict[str, int] = {}
    for name, spec in classes.items():
        score, matched = 0, []
        for rule in spec.rules:
            if _compiled(rule["pattern"]).search(text):
                score += int(rule.get("weight", 1))
                matched.append(f"{name}:{rule.get('id', rule['pattern'])}")
        if score:
            scores[name] = score
        if score > best.score:
            best = ClassDecision(name, score, matched)
    best.scores = scores
    return best
