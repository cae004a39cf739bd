"""Find the customer a document belongs to from numbers in its text."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class CustomerMatch:
    number: str | None
    rule: str | None = None
    unknown_numbers: tuple[str, ...] = ()


def find_customer_number(text: str, patterns: list[str], exists: Callable[[str], bool]) -> CustomerMatch:
    """First number found by the patterns that belongs to an existing customer."""
    unknown: list[str] = []
    for index, pattern in enumerate(patterns):
        for match in re.finditer(pattern, text, re.IGNORECASE):
            number = match.group(1)
            if exists(number):
                return CustomerMatch(number, f"customer-number:{index}", tuple(unknown))
            if number not in unknown:
                unknown.append(number)
    return CustomerMatch(None, None, tuple(unknown))
