"""Master-data checks: IBAN (mod-97, country length, masking), BIC, VAT ids, postal codes, names and addresses."""

from __future__ import annotations

import pytest

from dms.errors import ValidationError
from dms.masterdata import (
    address_key,
    check_bic,
    check_country,
    check_iban,
    check_postal_code,
    check_vat_id,
    format_iban,
    mask_iban,
    name_key,
    normalize_address,
    normalize_name,
)


def make_iban(country: str, bban: str) -> str:
    """An IBAN with check digits computed here (ISO 13616), independent of the code under test."""
    numeric = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    return f"{country}{98 - int(numeric) % 97:02d}{bban}"


COMPUTED = [
    make_iban("DE", "500105175407324931"),  # bank code 50010517, account 5407324931
    make_iban("DE", "370400440532013000"),
    make_iban("AT", "1200052066543301"),
    make_iban("CH", "04835012345678009"),
    make_iban("NL", "INGB0001234567"),
    make_iban("NL", "RABO0300065264"),
]
PUBLISHED = [
    "DE89 3704 0044 0532 0130 00",
    "AT61 1904 3002 3457 3201",
    "CH93 0076 2011 6238 5295 7",
    "NL91 ABNA 0417 1643 00",
    "GB82 WEST 1234 5698 7654 32",
    "FR14 2004 1010 0505 0001 3M02 606",
    "BE68 5390 0754 7034",
]


@pytest.mark.parametrize("iban", COMPUTED + PUBLISHED)
def test_valid_ibans_are_returned_compact(iban: str) -> None:
    compact = iban.replace(" ", "")
    assert check_iban(iban) == compact
    assert check_iban(format_iban(compact).lower()) == compact
    assert check_iban(f"  IBAN: {iban}\n") == compact


def test_computed_ibans_have_the_expected_check_digits() -> None:
    assert make_iban("DE", "370400440532013000") == "DE89370400440532013000"
    assert format_iban(COMPUTED[0]) == f"{COMPUTED[0][:4]} 5001 0517 5407 3249 31"


@pytest.mark.parametrize("iban", COMPUTED)
def test_every_single_digit_typo_and_swap_is_caught(iban: str) -> None:
    for position in range(4, len(iban)):
        if not iban[position].isdigit():
            continue
        typo = iban[:position] + str((int(iban[position]) + 3) % 10) + iban[position + 1 :]
        with pytest.raises(ValidationError):
            check_iban(typo)
        if position + 1 < len(iban) and iban[position] != iban[position + 1]:
            swapped = iban[:position] + iban[position + 1] + iban[position] + iban[position + 2 :]
            with pytest.raises(ValidationError):
                check_iban(swapped)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("DE88 3704 0044 0532 0130 00", "Prüfziffer"),
        ("DE89 3704 0044 0532 0130 0", "22 Stellen"),
        ("DE89 3704 0044 0532 0130 000", "22 Stellen"),
        ("AT61 1904 3002 3457 320", "20 Stellen"),
        ("CH93 0076 2011 6238 5295", "21 Stellen"),
        ("XY12 3456 7890", "Länderkennzeichen"),
        ("DE8A 3704 0044 0532 0130 00", "Prüfziffern"),
        ("DE89 3704 0044 0532 0130 0X", "nur Ziffern"),
        ("DE89_3704_0044", "Buchstaben und Ziffern"),
        ("", "fehlt"),
        ("   ", "fehlt"),
    ],
)
def test_bad_ibans_are_refused_with_a_german_reason(value: str, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        check_iban(value)
    assert caught.value.code == "invalid_iban"
    assert words in caught.value.message
    assert caught.value.details["field"] == "iban"


def test_the_field_name_and_type_are_reported() -> None:
    with pytest.raises(ValidationError) as caught:
        check_iban(12345, field="bank_accounts[1].iban")  # type: ignore[arg-type]
    assert caught.value.to_dict() == {
        "code": "invalid_iban",
        "message": "Die IBAN muss ein Text sein.",
        "field": "bank_accounts[1].iban",
    }


def test_masking_shows_only_the_last_four_characters() -> None:
    assert mask_iban("DE89370400440532013000") == "**** 3000"
    assert mask_iban("de89 3704 0044 0532 0130 00") == "**** 3000"
    assert mask_iban("CH9300762011623852957") == "**** 2957"
    assert mask_iban("") == "****"
    assert "0532" not in mask_iban("DE89370400440532013000")


@pytest.mark.parametrize(
    ("value", "expected"), [("COBADEFFXXX", "COBADEFFXXX"), ("cobadeff", "COBADEFF"), ("BYLA DEM1 001", "BYLADEM1001")]
)
def test_valid_bics(value: str, expected: str) -> None:
    assert check_bic(value) == expected


@pytest.mark.parametrize("value", ["COBADEF", "COBADEFFXX", "1OBADEFF", "COBA DE FF XXXX", ""])
def test_bad_bics(value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        check_bic(value)
    assert caught.value.code == "invalid_bic"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("DE 136 695 976", "DE136695976"),
        ("de136695976", "DE136695976"),
        ("ATU12345678", "ATU12345678"),
        ("CHE-107.787.577 IVA", "CHE107787577"),
        ("CHE-116.281.710 MWST", "CHE116281710"),
        ("NL123456789B01", "NL123456789B01"),
        ("FR40 303265045", "FR40303265045"),
        ("IT 00743110157", "IT00743110157"),
        ("GR123456789", "EL123456789"),
        ("EL123456789", "EL123456789"),
        ("BE0123456789", "BE0123456789"),
        ("ESX1234567Z", "ESX1234567Z"),
        ("PL 123-456-78-90", "PL1234567890"),
        ("IE6433435F", "IE6433435F"),
        ("GB 980 7806 84", "GB980780684"),
        ("NO 974 760 673 MVA", "NO974760673MVA"),
        ("NO974760673", "NO974760673MVA"),
        ("SE123456789701", "SE123456789701"),
    ],
)
def test_valid_vat_ids(value: str, expected: str) -> None:
    assert check_vat_id(value) == expected


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("DE136695978", "Prüfziffer"),
        ("DE12345678", "Format für DE"),
        ("DE1234567890", "Format für DE"),
        ("AT12345678", "Format für AT"),
        ("CHE-123.456.789", "Prüfziffer"),
        ("NL123456789", "Format für NL"),
        ("NO974760674", "Prüfziffer"),
        ("XX123456789", "Länderkennzeichen"),
        ("123456789", "Länderkennzeichen"),
        ("", "fehlt"),
    ],
)
def test_bad_vat_ids(value: str, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        check_vat_id(value)
    assert caught.value.code == "invalid_vat_id"
    assert words in caught.value.message
    assert caught.value.details["field"] == "vat_id"


@pytest.mark.parametrize(
    ("code", "country", "expected"),
    [
        ("10115", "DE", "10115"),
        (" 01067 ", "DE", "01067"),
        ("D-80331", "DE", "80331"),
        ("80331", "", "80331"),
        ("1010", "AT", "1010"),
        ("A-6020", "AT", "6020"),
        ("8001", "CH", "8001"),
        ("CH-3011", "ch", "3011"),
        ("9490", "LI", "9490"),
        ("1012ab", "NL", "1012 AB"),
        ("1012 AB", "NL", "1012 AB"),
        ("75001", "FR", "75001"),
        ("00184", "IT", "00184"),
        ("28001", "ES", "28001"),
        ("00950", "PL", "00-950"),
        ("00-950", "PL", "00-950"),
        ("1000", "BE", "1000"),
        ("L-1234", "LU", "1234"),
        ("1050", "DK", "1050"),
        ("SW1A 1AA", "GB", "SW1A 1AA"),
        ("", "DE", ""),
        ("10115", "Deutschland", "10115"),
        ("1010", "Österreich", "1010"),
    ],
)
def test_valid_postal_codes(code: str, country: str, expected: str) -> None:
    assert check_postal_code(code, country) == expected


@pytest.mark.parametrize(
    ("code", "country"),
    [
        ("1011", "DE"),
        ("101155", "DE"),
        ("00123", "DE"),
        ("1O115", "DE"),
        ("0101", "AT"),
        ("10101", "AT"),
        ("0800", "CH"),
        ("80011", "CH"),
        ("1012", "NL"),
        ("1012 SA", "NL"),
        ("99001", "ES"),
        ("9500", "LI"),
        ("!!", "GB"),
    ],
)
def test_bad_postal_codes(code: str, country: str) -> None:
    with pytest.raises(ValidationError) as caught:
        check_postal_code(code, country)
    assert caught.value.code == "invalid_postal_code"
    assert "Postleitzahl" in caught.value.message
    assert caught.value.details["field"] == "postal_code"


def test_postal_code_and_country_types() -> None:
    assert check_postal_code(10115, "DE") == "10115"  # a spreadsheet cell
    with pytest.raises(ValidationError) as caught:
        check_postal_code(["10115"], "DE")  # type: ignore[arg-type]
    assert caught.value.code == "invalid_postal_code"
    with pytest.raises(ValidationError) as caught:
        check_country(49)  # type: ignore[arg-type]
    assert caught.value.code == "invalid_country"


def test_countries() -> None:
    assert check_country("de") == "DE"
    assert check_country("") == "DE"
    assert check_country("Schweiz") == "CH"
    with pytest.raises(ValidationError) as caught:
        check_country("Atlantis")
    assert caught.value.code == "invalid_country"
    with pytest.raises(ValidationError):
        check_postal_code("12345", "XX")


@pytest.mark.parametrize(
    ("street", "postal_code", "city", "country", "expected"),
    [
        ("Musterstraße 12", "12345", "Berlin", None, "musterstr 12|12345|berlin|de"),
        (" Muster-Str. 12", "12345", "BERLIN", "de", "musterstr 12|12345|berlin|de"),
        ("Musterstrasse  12", "12345", "berlin", "", "musterstr 12|12345|berlin|de"),
        ("Hauptstr. 5 a", "60311", "Frankfurt a. M.", None, "hauptstr 5a|60311|frankfurt|de"),
        ("Hauptstraße 5A", "60311", "Frankfurt am Main", "Deutschland", "hauptstr 5a|60311|frankfurt|de"),
        ("Übergasse 3", "1010", "Wien", "AT", "uebergasse 3|1010|wien|at"),
        ("Dorfstr. 1", "", "Halle (Saale)", None, "dorfstr 1||halle|de"),
        ("Keizersgracht 1", "1015cj", "Amsterdam", "NL", "keizersgracht 1|1015cj|amsterdam|nl"),
        ("", "12345", "Berlin", None, ""),
        ("Musterstraße 12", "", "", None, ""),
    ],
)
def test_normalized_addresses(street: str, postal_code: str, city: str, country: str | None, expected: str) -> None:
    address = {"street": street, "postal_code": postal_code, "city": city}
    if country is not None:
        address["country"] = country
    assert normalize_address(address) == expected


def test_the_address_key_is_the_main_address() -> None:
    customer = {
        "addresses": [
            {"kind": "billing", "street": "Postweg 1", "postal_code": "20095", "city": "Hamburg"},
            {"kind": "main", "street": "Musterstraße 12", "postal_code": "12345", "city": "Berlin"},
        ]
    }
    assert address_key(customer) == "musterstr 12|12345|berlin|de"
    assert address_key({"addresses": customer["addresses"][:1]}) == "postweg 1|20095|hamburg|de"
    assert address_key({}) == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Müller", "mueller"),
        ("MUELLER", "mueller"),
        ("Herrn Dr. Hans   Müller", "hans mueller"),
        ("Herr Prof. Dr. med. Anna Herrmann", "anna herrmann"),
        ("Frau\nAnna Schmidt", "anna schmidt"),
        ("Hans Herr", "hans herr"),
        ("Firma Müller G.m.b.H.", "mueller gmbh"),
        ("Müller Gesellschaft mit beschränkter Haftung", "mueller gmbh"),
        ("Müller GmbH u. Co. KG", "mueller gmbh & co kg"),
        ("MÜLLER GMBH & CO. KG", "mueller gmbh & co kg"),
        ("Müller A.G.", "mueller ag"),
        ("Müller Aktiengesellschaft", "mueller ag"),
        ("Bäckerei Weiß e.K.", "baeckerei weiss ek"),
        ("Sportverein Blau-Weiß e. V.", "sportverein blau weiss ev"),
        ("Gründer UG (haftungsbeschränkt)", "gruender ug"),
        ("Meier u. Söhne OHG", "meier & soehne ohg"),
        ("Schulz und Partner GbR", "schulz & partner gbr"),
        ("Müller Bau GmbH\nz. Hd. Herrn Schmidt", "mueller bau gmbh"),
        ("Hans Müller c/o Schmidt", "hans mueller"),
        ("c/o Herrn Meier", "meier"),
        ("José Núñez", "jose nunez"),
        ("Agentur Ekstra", "agentur ekstra"),
        ("", ""),
    ],
)
def test_normalized_names(text: str, expected: str) -> None:
    assert normalize_name(text) == expected


def test_name_keys() -> None:
    assert name_key({"kind": "natural", "first_name": "Jörg", "last_name": "Weiß"}) == "joerg weiss"
    assert name_key({"kind": "natural", "name": "Weiß, Jörg"}) == "joerg weiss"
    assert name_key({"kind": "natural", "name": "Herrn Jörg Weiß"}) == "joerg weiss"
    assert name_key({"kind": "legal", "name": "Weiß Bau G.m.b.H."}) == "weiss bau"
    assert name_key({"kind": "legal", "name": "Weiß Bau GmbH & Co. KG"}) == "weiss bau"


def test_the_examples_in_error_messages_pass_their_own_check() -> None:
    from dms.masterdata.vat import EXAMPLES

    for prefix, example in EXAMPLES.items():
        assert check_vat_id(example), prefix
