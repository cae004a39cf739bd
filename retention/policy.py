"""Retention rules: when a document may be deleted under its class's policy.

A period in years runs from the end of the calendar year of its start event, in German time
(§ 147 Abs. 4 AO, § 257 Abs. 5 HGB): a Rechnung dated 2025-03-15 kept 10 years may be deleted
from 2036-01-01 00:00 Europe/Berlin (2035-12-31 23:00 UTC). The start event is the document date
(the filing date when the document has none) or, for contracts, the contract's end date.
A period in seconds (for tests) runs from the filing/archiving time instead.

Reading the policies from the configuration is `retention.policies`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")


class StartEvent(StrEnum):
    YEAR_END_OF_DOCUMENT_DATE = "year_end_of_document_date"
    CONTRACT_END = "contract_end"


class LockMode(StrEnum):
    """S3 Object Lock modes (the same strings the archive stores take)."""

    COMPLIANCE = "COMPLIANCE"
    GOVERNANCE = "GOVERNANCE"


@dataclass(frozen=True)
class RetentionPolicy:
    """How long documents of one class are kept; exactly one of `years`/`seconds` is set (0: not kept)."""

    document_class: str
    years: int = 0
    seconds: int = 0
    start: StartEvent = StartEvent.YEAR_END_OF_DOCUMENT_DATE
    mode: LockMode = LockMode.COMPLIANCE
    end_field: str = "contract_end"  # the field holding the end date when start = contract_end

    @property
    def retains(self) -> bool:
        return self.years > 0 or self.seconds > 0

    def retain_until(
        self,
        *,
        document_date: date | None = None,
        filed_at: datetime | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> datetime | None:
        """The first instant (aware, UTC) at which the document may be deleted; None when not kept.

        `filed_at` is when the document was filed (or archived): the start when there is no
        document date, and the start of a period in seconds.
        """
        if not self.retains:
            return None
        if filed_at is not None:
            _check_aware(filed_at, "filed_at")
        if self.seconds:
            if filed_at is None:
                raise ValueError(f"retention of {self.document_class} in seconds needs filed_at")
            return filed_at.astimezone(UTC) + timedelta(seconds=self.seconds)
        return year_end(self.start_day(document_date, filed_at, fields), self.years)

    def start_day(
        self, document_date: date | None, filed_at: datetime | None, fields: Mapping[str, Any] | None = None
    ) -> date:
        """The day whose calendar year starts the period (see the module docstring)."""
        if self.start is StartEvent.CONTRACT_END:
            end = parse_day((fields or {}).get(self.end_field))
            if end is not None:
                return end
        if document_date is not None:
            day = parse_day(document_date)
            if day is None:
                raise ValueError(f"not a document date: {document_date!r}")
            return day
        if filed_at is not None:
            return filed_at.astimezone(BERLIN).date()
        raise ValueError(f"retention of {self.document_class} needs a document date or filed_at")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, e.g. for the deletion record."""
        data: dict[str, Any] = {"class": self.document_class}
        data.update({"seconds": self.seconds} if self.seconds else {"years": self.years})
        data.update(start=str(self.start), mode=str(self.mode))
        if self.start is StartEvent.CONTRACT_END:
            data["end_field"] = self.end_field
        return data


def year_end(day: date, years: int = 0) -> datetime:
    """The first instant after the calendar year of `day` in Europe/Berlin, `years` later (aware, UTC).

    year_end(date(2025, 3, 15), 10) == 2036-01-01 00:00 Europe/Berlin == 2035-12-31 23:00 UTC.
    """
    return datetime(day.year + 1 + years, 1, 1, tzinfo=BERLIN).astimezone(UTC)


def extend_only(current: datetime | None, proposed: datetime | None) -> datetime | None:
    """The later of two retain-until dates: a policy change, reclassification or new document date
    may extend what is archived, never shorten it (None: no retention)."""
    for value, name in ((current, "current"), (proposed, "proposed")):
        if value is not None:
            _check_aware(value, name)
    if current is None or proposed is None:
        return current if proposed is None else proposed
    return max(current, proposed)


def parse_day(value: object) -> date | None:
    """A date from a field value: date, datetime, ISO `2027-06-30` or German `30.06.2027`; else None."""
    if isinstance(value, datetime):
        return value.astimezone(BERLIN).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip()
    for parse in (date.fromisoformat, lambda s: datetime.strptime(s, "%d.%m.%Y").date()):
        try:
            return parse(text)
        except ValueError:
            continue
    return None


def retain_until(
    document_class: str | None,
    document_date: date | None,
    policies: Mapping[str, RetentionPolicy | int],
    *,
    filed_at: datetime | None = None,
    fields: Mapping[str, Any] | None = None,
) -> datetime | None:
    """When a document of this class may be deleted; None when its class has no retention.

    `policies` as from `retention.policies.load_policies`; a bare number means years from the end
    of the year of the document date.
    """
    if not document_class or document_class not in policies:
        return None
    policy = policies[document_class]
    if not isinstance(policy, RetentionPolicy):
        policy = RetentionPolicy(document_class, years=int(policy))
    return policy.retain_until(document_date=document_date, filed_at=filed_at, fields=fields)


def _check_aware(value: datetime, name: str) -> None:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")
