"""Duplicate rules: a table of customer pairs that must match (with the rule) and pairs that must not."""

from __future__ import annotations

from typing import Any

import pytest

from dms.masterdata import Candidate, blocking_keys, damerau_levenshtein, find_duplicates, match

Address = tuple[str, str, str]
BERLIN: Address = ("Musterstraße 12", "12345", "Berlin")
BERLIN_SPELLED: Address = ("Muster-Str. 12", "12345", "BERLIN")
BERLIN_14: Address = ("Musterstraße 14", "12345", "Berlin")
HAMBURG: Address = ("Hafenweg 3", "20095", "Hamburg")
MUNICH: Address = ("Leopoldstraße 7", "80802", "München")
MUNICH_SPELLED: Address = ("Leopoldstr. 7", "80802", "MÜNCHEN")
STREET_ONLY: Address = ("Hauptstraße 1", "", "")
HAUPTSTR_A: Address = ("Hauptstraße 1", "34117", "Kassel")
HAUPTSTR_B: Address = ("Hauptstraße 1", "34119", "Kassel")


def addresses(*places: Address, kinds: tuple[str, ...] = ("main", "billing")) -> list[dict[str, str]]:
    return [
        {"kind": kind, "street": street, "postal_code": code, "city": city, "country": "DE"}
        for kind, (street, code, city) in zip(kinds, places, strict=False)
    ]


def person(first: str, last: str, born: str = "", *places: Address, **extra: Any) -> dict[str, Any]:
    return {"kind": "natural", "first_name": first, "last_name": last, "birth_date": born,
            "addresses": addresses(*places), **extra}  # fmt: skip


def named(name: str, born: str = "", *places: Address) -> dict[str, Any]:
    """A natural person known only by the display name (imports from old systems)."""
    return {"kind": "natural", "name": name, "birth_date": born, "addresses": addresses(*places)}


def company(name: str, *places: Address, **extra: Any) -> dict[str, Any]:
    return {"kind": "legal", "name": name, "addresses": addresses(*places), **extra}


# (case, a, b, expected rule of the best match or None)
MUST_MATCH = [
    ("exact name and birth date", person("Hans", "Müller", "1980-03-12"), person("Hans", "Müller", "1980-03-12"),
     "name_birth_date"),
    ("umlauts ö/oe ß/ss", person("Jörg", "Weiß", "1975-01-30"), person("Joerg", "Weiss", "1975-01-30"),
     "name_birth_date"),
    ("Herrn prefix in the display name", named("Herrn Hans Müller", "1980-03-12"),
     person("Hans", "Mueller", "1980-03-12"), "name_birth_date"),
    ("'Last, First' and German date", named("Müller, Hans", "12.03.1980"), person("Hans", "Müller", "1980-03-12"),
     "name_birth_date"),
    ("typo: swapped letters in first name", person("Hnas", "Müller", "1980-03-12"),
     person("Hans", "Müller", "1980-03-12"), "similar_name_birth_date"),
    ("second given name", person("Hans Peter", "Schulz", "1966-07-01"), person("Hans", "Schulz", "1966-07-01"),
     "similar_name_birth_date"),
    ("hyphenated given names", person("Hans-Peter", "Schulz", "1966-07-01"),
     person("Hans Peter", "Schulz", "1966-07-01"), "name_birth_date"),
    ("exact name, same address spelled differently", person("Anna", "Schmidt", "", BERLIN),
     person("Anna", "Schmidt", "", BERLIN_SPELLED), "name_address"),
    ("title in the name", named("Dr. Anna Schmidt", "", BERLIN), person("Anna", "Schmidt", "", BERLIN),
     "name_address"),
    ("birth date known on one side only", person("Anna", "Schmidt", "1990-05-05", BERLIN),
     person("Anna", "Schmidt", "", BERLIN), "name_address"),
    ("typo: missing letter in last name", person("Klaus", "Mueler", "", BERLIN), person("Klaus", "Müller", "", BERLIN),
     "similar_name_address"),
    ("typo: swapped letters in last name", person("Petra", "Schmdit", "", HAMBURG),
     person("Petra", "Schmidt", "", HAMBURG), "similar_name_address"),
    ("Meier / Maier at one address", person("Karl", "Meier", "", MUNICH), person("Karl", "Maier", "", MUNICH_SPELLED),
     "similar_name_address"),
    ("first and last name swapped", named("Müller Hans", "", BERLIN), person("Hans", "Müller", "", BERLIN),
     "similar_name_address"),
    ("billing address of one is the main address of the other", person("Eva", "Berg", "", HAMBURG, BERLIN),
     person("Eva", "Berg", "", BERLIN), "name_address"),
    ("GmbH / G.m.b.H.", company("Müller GmbH", BERLIN), company("Firma Müller G.m.b.H.", BERLIN_SPELLED),
     "company_address"),
    ("GmbH spelled out", company("Müller GmbH", MUNICH),
     company("Müller Gesellschaft mit beschränkter Haftung", MUNICH), "company_address"),
    ("GmbH & Co. KG / GmbH u. Co. KG", company("Weber Logistik GmbH & Co. KG", HAMBURG),
     company("Weber Logistik GmbH u. Co. KG", HAMBURG), "company_address"),
    ("UG (haftungsbeschränkt) / UG", company("Gründerwerk UG (haftungsbeschränkt)", BERLIN),
     company("Gruenderwerk UG", BERLIN), "company_address"),
    ("e.K. / eingetragener Kaufmann", company("Bäckerei Weiß e.K.", MUNICH),
     company("Baeckerei Weiss eingetragener Kaufmann", MUNICH), "company_address"),
    ("legal form missing on one side", company("Müller Bau", BERLIN), company("Müller Bau GmbH", BERLIN),
     "company_address"),
    ("legal form in its own field", company("Müller Bau", BERLIN, legal_form="GmbH"),
     company("Müller Bau G.m.b.H.", BERLIN), "company_address"),
    ("typo in a company name", company("Schmitt Elektrotechnik GmbH", HAMBURG),
     company("Schmidt Elektrotechnik GmbH", HAMBURG), "similar_company_address"),
    ("words in another order", company("Bäckerei Müller", MUNICH), company("Müller Bäckerei", MUNICH),
     "similar_company_address"),
    ("same VAT id, other name and address", company("Alpha Consulting GmbH", BERLIN, vat_id="DE 136 695 976"),
     company("Alpha Beratung AG", HAMBURG, vat_id="DE136695976"), "vat_id"),
    ("same VAT id across kinds", person("Hans", "Müller", "", BERLIN, vat_id="DE136695976"),
     company("Hans Müller e.K.", HAMBURG, vat_id="de136695976"), "vat_id"),
    ("same register entry spelled differently",
     company("Nordlicht Software GmbH", BERLIN, register_court="Amtsgericht München", register_number="HRB 12345"),
     company("Nordlicht GmbH", MUNICH, register_court="München", register_number="HRB12345"), "register"),
]  # fmt: skip

MUST_NOT_MATCH = [
    ("same name, different addresses", person("Hans", "Müller", "", BERLIN), person("Hans", "Müller", "", HAMBURG)),
    ("same name and address, different birth dates (father and son)", person("Hans", "Müller", "1950-02-01", BERLIN),
     person("Hans", "Müller", "1979-11-23", BERLIN)),
    ("same name, different birth dates", person("Hans", "Müller", "1980-03-12"),
     person("Hans", "Müller", "1980-03-21")),
    ("same name, nothing else", person("Hans", "Müller"), person("Hans", "Müller")),
    ("Jan / Jana at one address", person("Jan", "Becker", "", BERLIN), person("Jana", "Becker", "", BERLIN)),
    ("Daniel / Daniela at one address", person("Daniel", "Wolf", "", HAMBURG), person("Daniela", "Wolf", "", HAMBURG)),
    ("Anna / Anne at one address", person("Anna", "Klein", "", MUNICH), person("Anne", "Klein", "", MUNICH)),
    ("Hans / Hanna at one address", person("Hans", "Müller", "", BERLIN), person("Hanna", "Müller", "", BERLIN)),
    ("twins: Christian / Christiane, same birth date",
     person("Christian", "Weber", "2001-04-04", BERLIN), person("Christiane", "Weber", "2001-04-04", BERLIN)),
    ("twins: Max / Moritz, same birth date", person("Max", "Lang", "2010-06-06", BERLIN),
     person("Moritz", "Lang", "2010-06-06", BERLIN)),
    ("similar names at different addresses", person("Karl", "Meier", "", MUNICH), person("Karl", "Maier", "", BERLIN)),
    ("short names one letter apart", person("Max", "Ott", "", BERLIN), person("Max", "Orr", "", BERLIN)),
    ("other house number", person("Eva", "Berg", "", BERLIN), person("Eva", "Berg", "", BERLIN_14)),
    ("same street in another postal code", person("Eva", "Berg", "", HAUPTSTR_A),
     person("Eva", "Berg", "", HAUPTSTR_B)),
    ("street without place is no address", person("Eva", "Berg", "", STREET_ONLY),
     person("Eva", "Berg", "", STREET_ONLY)),
    ("last name only vs full name", named("Müller", "", BERLIN), person("Hans", "Müller", "", BERLIN)),
    ("Müller GmbH / Müller AG at different addresses", company("Müller GmbH", BERLIN), company("Müller AG", HAMBURG)),
    ("Müller GmbH / Müller AG at one address", company("Müller GmbH", BERLIN), company("Müller AG", BERLIN)),
    ("GmbH / GmbH & Co. KG at one address", company("Weber Logistik GmbH", HAMBURG),
     company("Weber Logistik GmbH & Co. KG", HAMBURG)),
    ("same company name in two cities", company("Müller GmbH", BERLIN), company("Müller GmbH", HAMBURG)),
    ("two companies in one office building", company("Alpha Consulting GmbH", MUNICH, vat_id="DE136695976"),
     company("Beta Logistik GmbH", MUNICH, vat_id="ATU12345678")),
    ("short company names one letter apart", company("ABC GmbH", BERLIN), company("ABD GmbH", BERLIN)),
    ("person and company of the same name at one address", person("Hans", "Müller", "", BERLIN),
     company("Hans Müller e.K.", BERLIN)),
    ("same register number at another court",
     company("Nord GmbH", BERLIN, register_court="Amtsgericht München", register_number="HRB 12345"),
     company("Süd GmbH", HAMBURG, register_court="Amtsgericht Hamburg", register_number="HRB 12345")),
    ("HRA / HRB with the same number",
     company("Nord KG", BERLIN, register_court="Amtsgericht München", register_number="HRA 12345"),
     company("Nord GmbH", HAMBURG, register_court="Amtsgericht München", register_number="HRB 12345")),
    ("a customer is no duplicate of itself", person("Hans", "Müller", "1980-03-12", number="K-1"),
     person("Hans", "Müller", "1980-03-12", number="K-1")),
]  # fmt: skip


@pytest.mark.parametrize(("case", "a", "b", "rule"), MUST_MATCH, ids=[row[0] for row in MUST_MATCH])
def test_pairs_that_must_match(case: str, a: dict[str, Any], b: dict[str, Any], rule: str) -> None:
    found, back = match(a, b), match(b, a)
    assert found is not None, case
    assert back is not None and back.rules == found.rules, "the rules are symmetric"
    assert found.rules[0] == rule
    assert 0.8 <= found.score <= 1.0
    assert found.reason and found.reason[0].isupper()


@pytest.mark.parametrize(("case", "a", "b"), MUST_NOT_MATCH, ids=[row[0] for row in MUST_NOT_MATCH])
def test_pairs_that_must_not_match(case: str, a: dict[str, Any], b: dict[str, Any]) -> None:
    assert match(a, b) is None, case
    assert match(b, a) is None, case


@pytest.mark.parametrize(("case", "a", "b", "rule"), MUST_MATCH, ids=[row[0] for row in MUST_MATCH])
def test_every_matching_pair_shares_a_blocking_key(case: str, a: dict[str, Any], b: dict[str, Any], rule: str) -> None:
    assert blocking_keys(a) & blocking_keys(b), case


def test_blocking_keys() -> None:
    customer = company("Müller GmbH", BERLIN, HAMBURG, vat_id="DE 136695976", register_court="Amtsgericht München",
                       register_number="HRB 12 345")  # fmt: skip
    assert blocking_keys(customer) == {
        "address:musterstr 12|12345|berlin|de",
        "address:hafenweg 3|20095|hamburg|de",
        "vat:DE136695976",
        "register:muenchen|HRB12345",
    }
    assert blocking_keys(person("Hans", "Müller", "12.03.1980")) == {"birth:1980-03-12"}
    assert blocking_keys(person("Hans", "Müller")) == set()


def test_the_table_is_big_enough() -> None:
    assert len(MUST_MATCH) + len(MUST_NOT_MATCH) >= 25
    assert len(MUST_MATCH) >= 12 and len(MUST_NOT_MATCH) >= 12


def test_reasons_are_german_and_name_the_evidence() -> None:
    by_birth = match(person("Hans", "Müller", "1980-03-12"), person("Hans", "Müller", "1980-03-12", number="K-7"))
    assert by_birth is not None
    assert by_birth.reason == "Gleicher Vor- und Nachname und gleiches Geburtsdatum (12.03.1980)"
    assert by_birth.to_dict() == {"number": "K-7", "name": "Hans Müller", "reason": by_birth.reason, "score": 1.0}
    by_address = match(company("Müller GmbH", BERLIN), company("Müller G.m.b.H.", BERLIN_SPELLED, number="K-8"))
    assert by_address is not None
    assert by_address.reason == "Gleicher Firmenname und gleiche Anschrift (Muster-Str. 12, 12345 BERLIN)"
    assert by_address.name == "Müller G.m.b.H."


def test_every_rule_that_applies_is_named_and_the_best_one_scores() -> None:
    a = company("Müller GmbH", BERLIN, vat_id="DE136695976")
    b = company("Mueller G.m.b.H.", BERLIN, vat_id="DE136695976")
    found = match(a, b)
    assert found is not None
    assert found.rules == ("vat_id", "company_address")
    assert found.score == 1.0
    assert found.reason.startswith("Gleiche USt-IdNr. (DE136695976); Gleicher Firmenname")


def test_find_duplicates_sorts_by_score_then_number() -> None:
    new = person("Hans", "Müller", "1980-03-12", BERLIN)
    existing = [
        person("Hans", "Müller", "", BERLIN, number="K-3"),  # name + address: 0.95
        person("Hnas", "Müller", "1980-03-12", number="K-2"),  # similar name + birth date: 0.9
        person("Hans", "Müller", "1980-03-12", number="K-5"),  # name + birth date: 1.0
        person("Hans", "Müller", "1980-03-12", number="K-4"),
        person("Hans", "Müller", "1951-01-01", BERLIN, number="K-1"),  # the father: no duplicate
        company("Müller GmbH", BERLIN, number="K-6"),
    ]
    found = find_duplicates(new, existing)
    assert [(m.number, m.score) for m in found] == [("K-4", 1.0), ("K-5", 1.0), ("K-3", 0.95), ("K-2", 0.9)]
    assert find_duplicates(new, [Candidate.of(c) for c in existing]) == found
    assert find_duplicates(new, []) == []


def test_stored_keys_are_used_when_the_raw_address_is_absent() -> None:
    row = {"kind": "natural", "number": "K-9", "name": "Hans Müller", "address_key": "musterstr 12|12345|berlin|de"}
    found = match(person("Hans", "Müller", "", BERLIN_SPELLED), row)
    assert found is not None and found.rules == ("name_address",)


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [("", "", 0), ("hans", "hans", 0), ("hans", "hnas", 1), ("kitten", "sitting", 3), ("", "abc", 3),
     ("mueller", "mueler", 1), ("ca", "abc", 3)],
)  # fmt: skip
def test_damerau_levenshtein(a: str, b: str, distance: int) -> None:
    assert damerau_levenshtein(a, b) == distance
    assert damerau_levenshtein(b, a) == distance
