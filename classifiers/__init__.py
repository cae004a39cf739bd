"""One dispatch for every classifier; each decision records why it was made."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from classifiers.customer import find_customer_number
from classifiers.fields import extract_fields
from classifiers.rules import classify_text
from dms.config import Settings


@dataclass
class Classification:
    document_class: str
    class_source: str  # "given" | "rules" | "fallback"
    customer_number: str | None
    customer_source: str | None  # "given" | "text" | None
    fields: dict[str, str] = field(default_factory=dict)
    document_date: date | None = None
    reasons: dict[str, Any] = field(default_factory=dict)


def classify(
    text: str,
    settings: Settings,
    *,
    customer_exists: Callable[[str], bool],
    given_class: str | None = None,
    given_customer: str | None = None,
) -> Classification:
    reasons: dict[str, Any] = {}
    if given_class:
        document_class, class_source = given_class, "given"
    else:
        decision = classify_text(text, settings.document_classes)
        reasons["class_rules"] = decision.rules
        reasons["class_scores"] = decision.scores
        if decision.document_class:
            document_class, class_source = decision.document_class, "rules"
        else:
            document_class, class_source = settings.fallback_class, "fallback"

    if given_customer:
        customer, customer_source = given_customer, "given"
    else:
        match = find_customer_number(text, settings.customer_number_patterns, customer_exists)
        customer, customer_source = match.number, ("text" if match.number else None)
        if match.rule:
            reasons["customer_rule"] = match.rule
        if match.unknown_numbers:
            reasons["unknown_customer_numbers"] = list(match.unknown_numbers)

    fields = extract_fields(text)
    found_date = date.fromisoformat(fields["document_date"]) if "document_date" in fields else None
    return Classification(document_class, class_source, customer, customer_source, fields, found_date, reasons)
