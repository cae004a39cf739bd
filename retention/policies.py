"""The `[retention]` section of the configuration: one policy per document class.

Two forms, mixable:

    [retention]
    Rechnung = 10                      # years from the end of the year of the document date, COMPLIANCE

    [retention.Vertrag]
    years = 10                         # or `seconds = 5` (tests): from the filing time, no year end
    start = "contract_end"             # default "year_end_of_document_date"
    end_field = "contract_end"         # the field holding the contract's end date (default)
    mode = "COMPLIANCE"                # or "GOVERNANCE"

`0` years means the class is not kept. Unknown keys and bad values are configuration errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from dms.errors import ValidationError
from retention.policy import LockMode, RetentionPolicy, StartEvent

E = TypeVar("E", StartEvent, LockMode)
TABLE_KEYS = {"years", "seconds", "start", "end_field", "mode"}


def load_policies(rules: Mapping[str, Any]) -> dict[str, RetentionPolicy]:
    """Every class's policy from the merged configuration (`Settings.rules`)."""
    section = rules.get("retention", {})
    if not isinstance(section, Mapping):
        raise _bad("[retention] muss eine Tabelle sein")
    return {str(name): parse_policy(str(name), value) for name, value in section.items()}


def parse_policy(document_class: str, value: object) -> RetentionPolicy:
    """One entry of `[retention]`: a number of years or a table (see the module docstring)."""
    if not isinstance(value, Mapping):
        return RetentionPolicy(document_class, years=_count(document_class, "years", value))
    unknown = set(value) - TABLE_KEYS
    if unknown:
        raise _bad(f"[retention.{document_class}]: unbekannte Schlüssel {sorted(unknown)}")
    if ("years" in value) == ("seconds" in value):
        raise _bad(f"[retention.{document_class}]: genau eines von `years` und `seconds` angeben")
    seconds = _count(document_class, "seconds", value["seconds"]) if "seconds" in value else 0
    if "seconds" in value and ("start" in value or "end_field" in value):
        raise _bad(f"[retention.{document_class}]: `seconds` läuft ab dem Ablagezeitpunkt, ohne `start`")
    return RetentionPolicy(
        document_class,
        years=_count(document_class, "years", value["years"]) if "years" in value else 0,
        seconds=seconds,
        start=_choice(document_class, "start", value.get("start", StartEvent.YEAR_END_OF_DOCUMENT_DATE), StartEvent),
        mode=_choice(document_class, "mode", str(value.get("mode", LockMode.COMPLIANCE)).upper(), LockMode),
        end_field=_text(document_class, "end_field", value.get("end_field", "contract_end")),
    )


def _count(document_class: str, key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _bad(f"[retention] {document_class}: `{key}` muss eine ganze Zahl ≥ 0 sein, nicht {value!r}")
    return value


def _choice(document_class: str, key: str, value: object, kind: type[E]) -> E:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(f'"{m.value}"' for m in kind)
        raise _bad(f"[retention.{document_class}]: `{key}` = {value!r}; erlaubt: {allowed}") from None


def _text(document_class: str, key: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _bad(f"[retention.{document_class}]: `{key}` muss ein Feldname sein")
    return value.strip()


def _bad(message: str) -> ValidationError:
    return ValidationError(f"Konfiguration: {message}", code="bad_config")
