"""Retention rules (retention/policy.py, retention/policies.py): pure, no store involved."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dms.config import Settings
from dms.errors import ValidationError
from retention.policies import load_policies, parse_policy
from retention.policy import LockMode, RetentionPolicy, StartEvent, extend_only, retain_until, year_end

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture(scope="module")
def shipped() -> dict[str, RetentionPolicy]:
    return load_policies(Settings.from_env({}).rules)


def _berlin(year: int, month: int = 1, day: int = 1) -> datetime:
    return datetime(year, month, day, tzinfo=BERLIN)


def test_shipped_defaults(shipped) -> None:
    years = {name: p.years for name, p in shipped.items()}
    assert years == {
        "Rechnung": 10,  # our users' choice, above the 8 years of § 147 AO
        "Lieferschein": 6, "Korrespondenz": 6, "Angebot": 6, "Auftrag": 6, "Vertrag": 10,
        "Jahresabschluss": 10, "Verfahrensdokumentation": 10,
    }
    assert {p.mode for p in shipped.values()} == {LockMode.COMPLIANCE}
    assert shipped["Vertrag"].start is StartEvent.CONTRACT_END
    assert {p.start for n, p in shipped.items() if n != "Vertrag"} == {StartEvent.YEAR_END_OF_DOCUMENT_DATE}


def test_the_period_ends_at_the_berlin_year_end(shipped) -> None:
    until = shipped["Rechnung"].retain_until(document_date=date(2025, 3, 15))
    assert until == _berlin(2036) == datetime(2035, 12, 31, 23, 0, tzinfo=UTC)
    assert until.tzinfo is not None and until.utcoffset() == timedelta(0)
    # "later by at most one day, never earlier" than the first day it may be deleted
    assert timedelta(0) <= until - _berlin(2036) <= timedelta(days=1)

    eight = RetentionPolicy("Rechnung", years=8)  # the statutory minimum since 2025
    assert eight.retain_until(document_date=date(2025, 3, 15)) == _berlin(2034)
    assert year_end(date(2025, 3, 15)) == _berlin(2026)


def test_the_last_and_the_first_day_of_a_year(shipped) -> None:
    rechnung = shipped["Rechnung"]
    assert rechnung.retain_until(document_date=date(2025, 12, 31)) == _berlin(2036)
    assert rechnung.retain_until(document_date=date(2026, 1, 1)) == _berlin(2037)
    # Filed without a date at 23:30 UTC on 31 December: already 1 January in Germany.
    late = datetime(2025, 12, 31, 23, 30, tzinfo=UTC)
    assert rechnung.retain_until(filed_at=late) == _berlin(2037)
    assert rechnung.retain_until(filed_at=late - timedelta(hours=1)) == _berlin(2036)


def test_the_filing_date_stands_in_for_a_missing_document_date(shipped) -> None:
    filed = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
    assert shipped["Korrespondenz"].retain_until(filed_at=filed) == _berlin(2033)
    # the document date wins when there is one
    assert shipped["Korrespondenz"].retain_until(document_date=date(2024, 5, 1), filed_at=filed) == _berlin(2031)
    with pytest.raises(ValueError):
        shipped["Korrespondenz"].retain_until()
    with pytest.raises(ValueError):
        shipped["Korrespondenz"].retain_until(filed_at=datetime(2026, 2, 1))  # naive


def test_contracts_run_from_their_end_date(shipped) -> None:
    vertrag = shipped["Vertrag"]
    signed = date(2021, 4, 1)
    for end in (date(2027, 6, 30), "2027-06-30", "30.06.2027"):
        assert vertrag.retain_until(document_date=signed, fields={"contract_end": end}) == _berlin(2038)
    # without (or with an unreadable) end date: like every other class
    assert vertrag.retain_until(document_date=signed, fields={}) == _berlin(2032)
    assert vertrag.retain_until(document_date=signed, fields={"contract_end": "unbefristet"}) == _berlin(2032)
    assert vertrag.retain_until(filed_at=datetime(2026, 3, 1, tzinfo=UTC)) == _berlin(2037)


def test_seconds_run_from_the_filing_time() -> None:
    policy = parse_policy("Test", {"seconds": 5})
    filed = datetime(2026, 12, 31, 23, 59, 58, tzinfo=BERLIN)
    assert policy.retain_until(document_date=date(2020, 1, 1), filed_at=filed) == filed + timedelta(seconds=5)
    with pytest.raises(ValueError):
        policy.retain_until(document_date=date(2020, 1, 1))


def test_classes_without_policy_or_with_zero_years_are_not_kept(shipped) -> None:
    assert retain_until("Sonstiges", date(2025, 1, 1), shipped) is None
    assert retain_until(None, date(2025, 1, 1), shipped) is None
    assert parse_policy("Notiz", 0).retain_until(document_date=date(2025, 1, 1)) is None


def test_retain_until_takes_policies_or_bare_years(shipped) -> None:
    assert retain_until("Rechnung", date(2026, 3, 12), shipped) == _berlin(2037)
    assert retain_until("Rechnung", date(2026, 3, 12), {"Rechnung": 8}) == _berlin(2035)
    contract = retain_until("Vertrag", date(2020, 1, 1), shipped, fields={"contract_end": "2030-12-31"})
    assert contract == _berlin(2041)


def test_a_change_never_shortens() -> None:
    archived = _berlin(2036)
    assert extend_only(archived, _berlin(2034)) == archived  # policy lowered to 8 years
    assert extend_only(archived, _berlin(2038)) == _berlin(2038)  # new, later contract end
    assert extend_only(archived, None) == archived  # reclassified to a class without retention
    assert extend_only(None, _berlin(2034)) == _berlin(2034)
    assert extend_only(None, None) is None
    with pytest.raises(ValueError):
        extend_only(datetime(2036, 1, 1), archived)


def test_both_toml_forms(tmp_path) -> None:
    config = tmp_path / "rules.toml"
    config.write_text(
        "[retention]\n"
        "Rechnung = 8\n"
        "[retention.Angebot]\nyears = 4\nmode = \"GOVERNANCE\"\n"
        "[retention.Test]\nseconds = 5\n"
        "[retention.Vertrag]\nyears = 12\n",
        encoding="utf-8",
    )
    policies = load_policies(Settings.from_env({"DMS_CONFIG": str(config)}).rules)
    assert policies["Rechnung"] == RetentionPolicy("Rechnung", years=8)
    assert policies["Angebot"] == RetentionPolicy("Angebot", years=4, mode=LockMode.GOVERNANCE)
    assert policies["Test"] == RetentionPolicy("Test", seconds=5)
    # a table overriding a table keeps the default's other keys
    assert policies["Vertrag"] == RetentionPolicy("Vertrag", years=12, start=StartEvent.CONTRACT_END)
    assert policies["Lieferschein"].years == 6  # untouched defaults stay
    assert retain_until("Rechnung", date(2026, 5, 1), policies) == _berlin(2035)
    assert policies["Vertrag"].to_dict() == {
        "class": "Vertrag", "years": 12, "start": "contract_end", "mode": "COMPLIANCE", "end_field": "contract_end",
    }


@pytest.mark.parametrize(
    "value",
    [
        -1, 2.5, "10", True,
        {"years": 10, "seconds": 5}, {}, {"yeras": 10}, {"years": 10, "mode": "WORM"},
        {"years": 10, "start": "filing"}, {"seconds": 5, "start": "contract_end"}, {"years": 10, "end_field": ""},
    ],
)
def test_bad_policies_are_configuration_errors(value) -> None:
    with pytest.raises(ValidationError) as bad:
        load_policies({"retention": {"Rechnung": value}})
    assert bad.value.code == "bad_config"
