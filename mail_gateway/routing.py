"""Where a received mail goes: which customer file, and an optional class or folder.

The rules, in this order (the first that names a customer decides):

1. recipient `<local_part><sep><nr>[<sep><hint>]@<domain>` (envelope recipients first, then
   To/Cc) on an accepted domain; the hint names a document class or a folder;
2. a subject token `[<prefix><nr>]`;
3. a known customer number in subject and body (the classifiers' patterns), then the sender
   address (From, the original sender of a forward) known from the customers' master data;
4. otherwise no customer: the documents go to the review inbox with the reason.

An address or subject token naming an unknown customer decides too: no customer, with that reason
(a typo must not file the mail into another customer's file). The number of a merged customer
(issue #14) names the customer it was merged into. Pure functions over a `Lookup`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from classifiers.customer import find_customer_number
from dms.catalog.customer_aliases import CustomerAliases
from dms.config import Settings
from mail_gateway.model import Envelope, ParsedMail, Route
from mail_gateway.settings import MailSettings


class Lookup(Protocol):
    """What routing needs to know about customers."""

    def customer_exists(self, number: str) -> bool: ...

    def customers_by_email(self, address: str) -> list[str]:
        """Numbers of the customers whose master data lists `address`."""
        ...


class CatalogLookup:
    """`Lookup` over the catalog (`services.catalog`)."""

    def __init__(self, catalog: Any) -> None:
        self.catalog = catalog

    def customer_exists(self, number: str) -> bool:
        return self.current_number(number) is not None

    def current_number(self, number: str) -> str | None:
        """`number`, or the survivor's number when it is a merged customer's; None when unknown."""
        if self.catalog.customers.find(number) is not None:
            return number
        return CustomerAliases(self.catalog.db).resolve(number)

    def customers_by_email(self, address: str) -> list[str]:
        return [c.number for c in self.catalog.customers.find_by_email(address)]


@dataclass(frozen=True)
class Vocabulary:
    """The names an address hint may use and the patterns that find customer numbers in text."""

    classes: tuple[str, ...]
    folders: tuple[str, ...]
    customer_number_patterns: tuple[str, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> Vocabulary:
        return cls(
            tuple(settings.document_classes), tuple(settings.folder_template),
            tuple(settings.customer_number_patterns),
        )


def current(lookup: Lookup, number: str) -> tuple[str, str]:
    """The number the customer has now (a `Lookup` with `current_number` knows merged customers), and a
    sentence for the route's reason when it differs ("" otherwise)."""
    resolve = getattr(lookup, "current_number", None)
    now = (resolve(number) or number) if resolve is not None else number
    return now, "" if now == number else f" Kunde {number} wurde mit Kunde {now} zusammengeführt."


@dataclass(frozen=True)
class Hint:
    document_class: str | None = None
    folder: str | None = None


_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower().translate(_UMLAUTS)).strip("-")


def match_hint(hint: str, vocabulary: Vocabulary) -> Hint | None:
    """The class or folder an address hint names (case-insensitive), None when it names neither.

    A class by its name (`rechnung` → Rechnung); a folder by its number (`04`), its name without
    the number (`rechnungen`), its first word (`angebote`) or as a slug (`angebote-auftraege`).
    """
    wanted = _slug(hint)
    if not wanted:
        return None
    for name in vocabulary.classes:
        if _slug(name) == wanted:
            return Hint(document_class=name)
    for folder in vocabulary.folders:
        number, _, rest = folder.partition(" ")
        names = {_slug(folder), _slug(rest)} if rest and number.isdigit() else {_slug(folder)}
        if rest and number.isdigit():
            names.add(number.lower())
        first = _slug(rest or folder).split("-")[0]
        if wanted in names or wanted == first:
            return Hint(folder=folder)
    return None


@dataclass(frozen=True)
class FileAddress:
    """A parsed `akte+<nr>[+<hint>]@domain` recipient."""

    address: str
    customer_number: str
    hint: str | None


def parse_file_address(address: str, mail: MailSettings) -> FileAddress | None:
    """The customer number (and hint) of a customer-file address on an accepted domain, else None."""
    address = address.strip().strip("<>")
    local, at, domain = address.rpartition("@")
    if not at or not domain_accepted(domain, mail):
        return None
    sep = mail.separator
    prefix = mail.local_part + sep
    if not sep or not local.lower().startswith(prefix.lower()):
        return None
    number, _, hint = local[len(prefix):].partition(sep)
    if not number or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", number):
        return None
    return FileAddress(address.lower(), number, hint or None)


def domain_accepted(domain: str, mail: MailSettings) -> bool:
    return not mail.domains or domain.lower().strip() in mail.domains


def recipients(parsed: ParsedMail, envelope: Envelope) -> list[str]:
    """Envelope recipients first, then To and Cc; each once (compared case-insensitively)."""
    seen: list[str] = []
    for address in [*envelope.rcpt_tos, *parsed.to, *parsed.cc]:
        clean = address.strip().strip("<>")
        if clean and clean.lower() not in (s.lower() for s in seen):
            seen.append(clean)
    return seen


def subject_token(subject: str, mail: MailSettings) -> str | None:
    """The customer number of a `[K-10001]` token in the subject (prefix from the settings)."""
    prefix = re.escape(mail.subject_token_prefix)
    match = re.search(rf"\[\s*{prefix}\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*\]", subject or "", re.IGNORECASE)
    return match.group(1) if match else None


def sender_addresses(parsed: ParsedMail, envelope: Envelope) -> list[str]:
    """Original senders of forwards first, then From (the envelope sender when From is missing)."""
    found: list[str] = []
    candidates: Iterable[str | None] = [
        *(f.sender for f in parsed.forwarded), parsed.sender or envelope.mail_from,
    ]
    for address in candidates:
        clean = (address or "").strip().strip("<>").lower()
        if "@" in clean and clean not in found:
            found.append(clean)
    return found


def route(parsed: ParsedMail, envelope: Envelope, mail: MailSettings, lookup: Lookup, vocabulary: Vocabulary) -> Route:
    """Decide the customer (and class/folder) of a mail; see the module docstring for the order."""
    by_address = _route_by_address(parsed, envelope, mail, lookup, vocabulary)
    if by_address is not None:
        return by_address
    token = subject_token(parsed.subject, mail)
    if token is not None:
        label = f"[{mail.subject_token_prefix}{token}]"
        if lookup.customer_exists(token):
            number, merged = current(lookup, token)
            return Route(number, rule="subject", reason=f"Betreff enthält {label}.{merged}")
        return Route(None, rule="none", reason=f"Kundennummer {token} aus dem Betreff {label} ist unbekannt.")
    text = f"{parsed.subject}\n{parsed.text}"
    match = find_customer_number(text, list(vocabulary.customer_number_patterns), lookup.customer_exists)
    if match.number:
        number, merged = current(lookup, match.number)
        return Route(number, rule="text", reason=f"Kundennummer {match.number} im Text der Mail gefunden.{merged}")
    by_sender = _route_by_sender(parsed, envelope, lookup)
    if by_sender is not None:
        return by_sender
    notes = []
    if match.unknown_numbers:
        notes.append(f"Kundennummer {', '.join(match.unknown_numbers)} aus dem Text der Mail ist unbekannt.")
    senders = ", ".join(sender_addresses(parsed, envelope)) or "ohne Adresse"
    notes.append(f"Kein Kunde erkannt (weder Akte-Adresse noch Betreff-Kennung, Kundennummer oder "
                 f"bekannte Absenderadresse; Absender {senders}).")
    return Route(None, rule="none", reason=" ".join(notes))


def _route_by_address(
    parsed: ParsedMail, envelope: Envelope, mail: MailSettings, lookup: Lookup, vocabulary: Vocabulary
) -> Route | None:
    addresses = [a for a in (parse_file_address(r, mail) for r in recipients(parsed, envelope)) if a]
    if not addresses:
        return None
    chosen = next((a for a in addresses if lookup.customer_exists(a.customer_number)), None)
    if chosen is None:
        unknown = ", ".join(dict.fromkeys(a.customer_number for a in addresses))
        return Route(None, rule="none", reason=f"Kundennummer {unknown} aus der Adresse ist unbekannt.")
    number, merged = current(lookup, chosen.customer_number)
    reason = f"An {chosen.address} gesendet (Kunde {chosen.customer_number}).{merged}"
    hint = match_hint(chosen.hint, vocabulary) if chosen.hint else None
    if chosen.hint and hint is None:
        reason += f" Der Zusatz „{chosen.hint}“ ist weder Dokumentklasse noch Ordner und wurde ignoriert."
    elif hint is not None:
        reason += f" Zusatz „{chosen.hint}“: {hint.document_class or hint.folder}."
    return Route(
        number,
        document_class=hint.document_class if hint else None,
        folder=hint.folder if hint else None,
        rule="recipient",
        reason=reason,
    )


def _route_by_sender(parsed: ParsedMail, envelope: Envelope, lookup: Lookup) -> Route | None:
    matches: dict[str, str] = {}  # customer number -> the address that matched
    for address in sender_addresses(parsed, envelope):
        for number in lookup.customers_by_email(address):
            matches.setdefault(number, address)
    if not matches:
        return None
    if len(matches) == 1:
        number, address = next(iter(matches.items()))
        return Route(number, rule="sender", reason=f"Absender {address} ist bei Kunde {number} hinterlegt.")
    numbers = tuple(matches)
    listed = ", ".join(f"{n} ({a})" for n, a in matches.items())
    return Route(
        None, rule="none", suggestions=numbers,
        reason=f"Die Absenderadresse ist bei mehreren Kunden hinterlegt: {listed}. Bitte zuordnen.",
    )
