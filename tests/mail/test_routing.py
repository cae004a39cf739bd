"""Routing of a received mail (mail_gateway/routing.py): pure functions over a table of customers."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dms.config import Settings
from mail_gateway.model import Envelope, Forwarded, ParsedMail
from mail_gateway.routing import Vocabulary, match_hint, parse_file_address, route, subject_token
from mail_gateway.settings import MailSettings


@dataclass
class Customers:
    """The routing's `Lookup` over a plain table (numbers, and addresses per number)."""

    numbers: set[str] = field(default_factory=lambda: {"10001", "10002", "10003"})
    emails: dict[str, set[str]] = field(default_factory=dict)

    def customer_exists(self, number: str) -> bool:
        return number in self.numbers

    def customers_by_email(self, address: str) -> list[str]:
        return sorted(n for n, addresses in self.emails.items() if address.lower() in addresses)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings.from_env({"DMS_DATA_DIR": str(tmp_path_factory.mktemp("routing"))})


@pytest.fixture(scope="module")
def mail(settings: Settings) -> MailSettings:
    return MailSettings.from_settings(settings)


@pytest.fixture(scope="module")
def vocabulary(settings: Settings) -> Vocabulary:
    return Vocabulary.from_settings(settings)


def parsed(subject: str = "Scan", text: str = "", sender: str = "scanner@buero.example", to: list[str] | None = None,
           cc: list[str] | None = None, forwarded: list[Forwarded] | None = None) -> ParsedMail:
    return ParsedMail(
        message_id="<m1@buero.example>", sender=sender, sender_name=None, to=to or [], cc=cc or [],
        subject=subject, date=None, text=text, html=None, forwarded=forwarded or [],
    )


def envelope(*rcpt: str, mail_from: str = "scanner@buero.example") -> Envelope:
    return Envelope(mail_from=mail_from, rcpt_tos=tuple(rcpt), received_at=datetime.now(UTC), via="smtp")


def test_recipient_address_names_the_customer(mail: MailSettings, vocabulary: Vocabulary) -> None:
    result = route(parsed(), envelope("akte+10002@akte.example"), mail, Customers(), vocabulary)
    assert (result.customer_number, result.rule) == ("10002", "recipient")
    assert result.document_class is None and result.folder is None
    assert "akte+10002@akte.example" in result.reason


def test_envelope_recipient_comes_before_the_headers(mail: MailSettings, vocabulary: Vocabulary) -> None:
    mail_to_other = parsed(to=["akte+10001@akte.example"], subject="[K-10003]")
    result = route(mail_to_other, envelope("akte+10002@akte.example"), mail, Customers(), vocabulary)
    assert result.customer_number == "10002"
    # a Cc header counts when the envelope names no customer file (e.g. IMAP, Bcc)
    by_cc = parsed(cc=["Akte+10001@Akte.Example"])
    assert route(by_cc, envelope("posteingang@akte.example"), mail, Customers(), vocabulary).customer_number == "10001"


def test_unknown_number_in_the_address_is_no_customer_with_reason(mail: MailSettings, vocabulary: Vocabulary) -> None:
    result = route(parsed(text="Kundennummer 10001"), envelope("akte+4711@akte.example"), mail, Customers(),
                   vocabulary)
    assert result.customer_number is None and result.rule == "none"
    assert result.reason == "Kundennummer 4711 aus der Adresse ist unbekannt."


@pytest.mark.parametrize(("hint", "document_class", "folder"), [
    ("rechnung", "Rechnung", None),
    ("RECHNUNG", "Rechnung", None),
    ("lieferschein", "Lieferschein", None),
    ("04", None, "04 Rechnungen"),
    ("rechnungen", None, "04 Rechnungen"),
    ("angebote", None, "03 Angebote & Aufträge"),
    ("angebote-auftraege", None, "03 Angebote & Aufträge"),
])
def test_address_hint_names_a_class_or_folder(
    mail: MailSettings, vocabulary: Vocabulary, hint: str, document_class: str | None, folder: str | None
) -> None:
    result = route(parsed(), envelope(f"akte+10001+{hint}@akte.example"), mail, Customers(), vocabulary)
    assert (result.customer_number, result.document_class, result.folder) == ("10001", document_class, folder)


def test_unknown_hint_is_ignored_with_a_note(mail: MailSettings, vocabulary: Vocabulary) -> None:
    result = route(parsed(), envelope("akte+10001+quatsch@akte.example"), mail, Customers(), vocabulary)
    assert (result.customer_number, result.document_class, result.folder) == ("10001", None, None)
    assert "„quatsch“" in result.reason and "ignoriert" in result.reason


def test_domains_setting_limits_the_accepted_addresses(mail: MailSettings, vocabulary: Vocabulary) -> None:
    strict = replace(mail, domains=("akte.example",))
    accepted = route(parsed(), envelope("akte+10001@akte.example"), strict, Customers(), vocabulary)
    assert accepted.customer_number == "10001"
    foreign = route(parsed(), envelope("akte+10001@elsewhere.example"), strict, Customers(), vocabulary)
    assert foreign.customer_number is None and foreign.rule == "none"
    # with no domain configured any domain is accepted
    assert route(parsed(), envelope("akte+10001@elsewhere.example"), mail, Customers(), vocabulary).rule == "recipient"


def test_separator_and_local_part_come_from_the_settings(mail: MailSettings, vocabulary: Vocabulary) -> None:
    custom = replace(mail, local_part="kunde", separator="-")
    assert parse_file_address("kunde-10003-rechnung@x.example", custom).customer_number == "10003"
    assert parse_file_address("akte+10003@x.example", custom) is None
    result = route(parsed(), envelope("kunde-10003-rechnung@x.example"), custom, Customers(), vocabulary)
    assert (result.customer_number, result.document_class) == ("10003", "Rechnung")


def test_subject_token(mail: MailSettings, vocabulary: Vocabulary) -> None:
    assert subject_token("AW: Lieferung [K-10003] vom Montag", mail) == "10003"
    assert subject_token("[k- 10003 ]", mail) == "10003"
    assert subject_token("K-10003 ohne Klammern", mail) is None
    result = route(parsed(subject="Scan [K-10003]"), envelope("posteingang@akte.example"), mail, Customers(),
                   vocabulary)
    assert (result.customer_number, result.rule) == ("10003", "subject")
    unknown = route(parsed(subject="Scan [K-999999]"), envelope("posteingang@akte.example"), mail, Customers(),
                    vocabulary)
    assert unknown.customer_number is None and "999999" in unknown.reason and "Betreff" in unknown.reason


def test_customer_number_in_the_text(mail: MailSettings, vocabulary: Vocabulary) -> None:
    message = parsed(subject="Anfrage", text="Guten Tag,\nunsere Kundennummer: 10002\nMfG")
    result = route(message, envelope("posteingang@akte.example"), mail, Customers(), vocabulary)
    assert (result.customer_number, result.rule) == ("10002", "text")


def test_unknown_number_in_the_text_is_named_in_the_reason(mail: MailSettings, vocabulary: Vocabulary) -> None:
    message = parsed(text="Kundennummer 55555")
    result = route(message, envelope("posteingang@akte.example"), mail, Customers(), vocabulary)
    assert result.customer_number is None and "55555" in result.reason


def test_known_sender_address(mail: MailSettings, vocabulary: Vocabulary) -> None:
    customers = Customers(emails={"10003": {"einkauf@kunde.example"}})
    message = parsed(sender="einkauf@kunde.example", text="Anbei die Unterlagen.")
    result = route(message, envelope("posteingang@akte.example", mail_from="einkauf@kunde.example"), mail,
                   customers, vocabulary)
    assert (result.customer_number, result.rule) == ("10003", "sender")
    assert "einkauf@kunde.example" in result.reason


def test_original_sender_of_a_forward(mail: MailSettings, vocabulary: Vocabulary) -> None:
    customers = Customers(emails={"10001": {"chef@kunde.example"}})
    forward = Forwarded("chef@kunde.example", "Mon, 1 Dec 2025 10:00:00 +0100", "Bestellung", "inline")
    message = parsed(subject="WG: Bestellung", sender="sachbearbeiter@buero.example", forwarded=[forward])
    result = route(message, envelope("posteingang@akte.example"), mail, customers, vocabulary)
    assert (result.customer_number, result.rule) == ("10001", "sender")


def test_sender_known_at_several_customers_gives_suggestions(mail: MailSettings, vocabulary: Vocabulary) -> None:
    customers = Customers(emails={"10001": {"info@holding.example"}, "10002": {"info@holding.example"}})
    message = parsed(sender="info@holding.example")
    result = route(message, envelope("posteingang@akte.example"), mail, customers, vocabulary)
    assert result.customer_number is None and result.rule == "none"
    assert result.suggestions == ("10001", "10002")
    assert "10001" in result.reason and "10002" in result.reason


def test_order_text_before_sender(mail: MailSettings, vocabulary: Vocabulary) -> None:
    customers = Customers(emails={"10001": {"einkauf@kunde.example"}})
    message = parsed(sender="einkauf@kunde.example", text="Kd.-Nr. 10002")
    result = route(message, envelope("posteingang@akte.example"), mail, customers, vocabulary)
    assert (result.customer_number, result.rule) == ("10002", "text")


def test_nothing_found_gives_a_german_reason(mail: MailSettings, vocabulary: Vocabulary) -> None:
    result = route(parsed(subject="Hallo", text="Bitte ablegen."), envelope("posteingang@akte.example"), mail,
                   Customers(), vocabulary)
    assert result.customer_number is None and result.rule == "none"
    assert result.reason.startswith("Kein Kunde erkannt") and "scanner@buero.example" in result.reason


def test_hint_matching_alone(vocabulary: Vocabulary) -> None:
    assert match_hint("korrespondenz", vocabulary).document_class == "Korrespondenz"
    assert match_hint("02", vocabulary).folder == "02 Korrespondenz"
    assert match_hint("99", vocabulary).folder == "99 Posteingang"
    assert match_hint("nichts", vocabulary) is None
    assert match_hint("", vocabulary) is None


def test_vocabulary_follows_the_configuration(tmp_path: Path) -> None:
    config = tmp_path / "rules.toml"
    config.write_text('[classes.Mahnung]\nfolder = "04 Rechnungen"\nrules = []\n', encoding="utf-8")
    settings = Settings.from_env({"DMS_DATA_DIR": str(tmp_path / "d"), "DMS_CONFIG": str(config)})
    assert match_hint("mahnung", Vocabulary.from_settings(settings)).document_class == "Mahnung"
