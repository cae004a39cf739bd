from datetime import UTC, date, datetime

from dms.config import Settings
from retention.policy import retain_until


def test_retention_runs_from_the_end_of_the_document_year() -> None:
    periods = Settings.from_env({}).retention_years
    assert periods["Rechnung"] == 10  # our users' choice, above the 8 years of § 147 AO
    assert retain_until("Rechnung", date(2026, 3, 12), periods) == datetime(2037, 1, 1, tzinfo=UTC)
    assert retain_until("Rechnung", date(2026, 12, 31), periods) == datetime(2037, 1, 1, tzinfo=UTC)
    assert retain_until("Korrespondenz", date(2025, 1, 1), periods) == datetime(2032, 1, 1, tzinfo=UTC)
    assert retain_until("Sonstiges", date(2025, 1, 1), periods) is None
    assert retain_until("Rechnung", None, periods) is None


def test_periods_are_configuration(tmp_path) -> None:
    config = tmp_path / "rules.toml"
    config.write_text("[retention]\nRechnung = 8\n", encoding="utf-8")
    settings = Settings.from_env({"DMS_CONFIG": str(config)})
    assert settings.retention_years["Rechnung"] == 8
    assert settings.retention_years["Vertrag"] == 10  # untouched defaults stay
    assert retain_until("Rechnung", date(2026, 5, 1), settings.retention_years) == datetime(2035, 1, 1, tzinfo=UTC)
