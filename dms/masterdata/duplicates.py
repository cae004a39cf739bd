"""Probable duplicate customers: explicit rules over normalised names, birth dates, addresses and ids.

Names are compared after `names.normalize_name` (case, umlauts ü/ue, salutations, titles, legal-form variants),
addresses after `postal.normalize_address`; a customer's addresses are all compared (main, billing, …), and an
address counts only with a street and a postal code or city. Typos are measured with the Damerau-Levenshtein
distance (insert, delete, substitute, swap two neighbours = 1 edit each).

A name is *exactly* the same when the normalised first and last names are equal. It is *very similar* when
- the last names are equal or differ by 1 edit (both at least 4 letters long; 2 edits from 9 letters), and
- the first names are equal, differ by 1 edit (both at least 4 letters; 2 edits from 8 letters) or one adds further
  given names ("Hans" / "Hans Peter") - but never when they differ only in their final vowels, which tells other
  people apart: Jan/Jana, Paul/Paula, Daniel/Daniela, Anna/Anne, Christian/Christiane;
- or when first and last name are swapped ("Müller Hans" / "Hans Müller").
Company names are compared without their legal form; they are very similar when the words are the same in another
order or differ by at most 1 edit (both at least 5 letters) or 2 edits (both at least 10 letters). Two companies
whose legal forms are both known and differ (Müller GmbH / Müller AG, GmbH / GmbH & Co. KG) are different.

Rules (score; the highest rule that applies wins, every applying rule is named in the reason):
- `vat_id` (1.0): the same VAT id, whatever the kind of customer.
- `register` (1.0): the same register court and number (e.g. Amtsgericht München HRB 12345).
- `name_birth_date` (1.0): natural persons, exactly the same name and the same birth date.
- `similar_name_birth_date` (0.9): natural persons, very similar name and the same birth date.
- `name_address` (0.95) / `similar_name_address` (0.85): natural persons, exactly the same / a very similar name
  at the same address - unless both birth dates are known and differ (father and son at one address).
- `company_address` (0.95) / `similar_company_address` (0.85): legal persons, the same / a very similar company
  name at the same address.
A name alone never makes a duplicate (two "Hans Müller" at different addresses are two customers), and a natural
and a legal person are only compared by VAT id and register entry.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from dms.errors import ValidationError
from dms.masterdata.names import fold, normalize_name, person_name, split_legal_form
from dms.masterdata.postal import normalize_address
from dms.masterdata.vat import check_vat_id

Customer = Mapping[str, object]

_COURT_WORDS = re.compile(r"\b(?:amtsgericht|registergericht|ag|handelsregister)\b")


def damerau_levenshtein(a: str, b: str) -> int:
    """Edits (insert, delete, substitute, swap of neighbours) between two strings (optimal string alignment)."""
    if a == b:
        return 0
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def _close(a: str, b: str, short: int, long: int) -> bool:
    """At most 1 edit apart when both have `short`+ characters, at most 2 when both have `long`+."""
    shorter = min(len(a), len(b))
    if shorter < short:
        return False
    return damerau_levenshtein(a, b) <= (2 if shorter >= long else 1)


def _similar_given_names(a: str, b: str) -> bool:
    """Two different given names that probably belong to one person: a typo or further given names."""
    if a.rstrip("aeiouy") == b.rstrip("aeiouy"):  # Jan/Jana, Anna/Anne: other people
        return False
    shorter, longer = sorted((a.split(), b.split()), key=len)
    if longer[: len(shorter)] == shorter:  # "hans" / "hans peter"
        return True
    return _close(a, b, 4, 8)


def _name_level(a: tuple[str, str], b: tuple[str, str]) -> str:
    """How alike two normalised (first, last) name pairs are: "exact", "similar" or ""."""
    (first_a, last_a), (first_b, last_b) = a, b
    if not last_a or not last_b or bool(first_a) != bool(first_b):
        return ""
    if (first_a, last_a) == (first_b, last_b):
        return "exact"
    if first_a and (first_a, last_a) == (last_b, first_b):
        return "similar"
    last_ok = last_a == last_b or _close(last_a, last_b, 4, 9)
    first_ok = first_a == first_b or _similar_given_names(first_a, first_b)
    return "similar" if last_ok and first_ok else ""


def _company_level(a: Candidate, b: Candidate) -> str:
    if not a.company or not b.company:
        return ""
    if a.legal_form and b.legal_form and a.legal_form != b.legal_form:
        return ""
    if a.company == b.company:
        return "exact"
    if sorted(a.company.split()) == sorted(b.company.split()) or _close(a.company, b.company, 5, 10):
        return "similar"
    return ""


def _iso_date(value: object) -> str:
    if isinstance(value, date | datetime):
        return value.isoformat()[:10]
    text = str(value or "").strip()
    german = re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", text)
    if german:
        day, month, year = german.groups()
        return f"{year}-{int(month):02d}-{int(day):02d}"
    return text[:10]


def _german_date(iso: str) -> str:
    parts = iso.split("-")
    return ".".join(reversed(parts)) if len(parts) == 3 else iso


def _vat(value: object) -> str:
    try:
        return check_vat_id(str(value)) if value else ""
    except ValidationError:
        return re.sub(r"[^0-9A-Z]", "", str(value).upper())


def _register(customer: Customer) -> tuple[str, str]:
    court, number = str(customer.get("register_court") or ""), str(customer.get("register_number") or "")
    if not court.strip() or not number.strip():
        return "", ""
    court_key = re.sub(r"[^a-z0-9]", "", _COURT_WORDS.sub(" ", fold(court)))
    key = f"{court_key}|{re.sub(r'[^0-9A-Z]', '', number.upper())}"
    return key, f"{court.strip()}, {number.strip()}"


def _addresses(customer: Customer) -> tuple[tuple[str, str], ...]:
    listed = customer.get("addresses")
    found: dict[str, str] = {}
    for address in listed if isinstance(listed, list) else []:
        if not isinstance(address, Mapping):
            continue
        key = normalize_address(address) if address.get("street") else str(address.get("normalized") or "")
        if key:
            place = " ".join(str(address.get(part) or "").strip() for part in ("postal_code", "city")).strip()
            found.setdefault(key, f"{str(address.get('street') or '').strip()}, {place}".strip(", "))
    stored = str(customer.get("address_key") or "")
    if stored and stored not in found:
        found[stored] = stored.replace("|", ", ")
    return tuple(found.items())


def _display_person(customer: Customer) -> str:
    return " ".join(str(customer.get(part) or "").strip() for part in ("first_name", "last_name")).strip()


@dataclass(frozen=True)
class Candidate:
    """The parts of a customer the rules compare, normalised once (`Candidate.of(customer_dict)`)."""

    number: str
    name: str
    kind: str
    person: tuple[str, str]
    birth_date: str
    company: str
    legal_form: str
    addresses: tuple[tuple[str, str], ...]  # (normalised key, display text)
    vat_id: str
    register: tuple[str, str]  # (key, display text)

    @classmethod
    def of(cls, customer: Customer | Candidate) -> Candidate:
        if isinstance(customer, Candidate):
            return customer
        kind = "legal" if customer.get("kind") == "legal" else "natural"
        company, legal_form = "", ""
        if kind == "legal":
            company, legal_form = split_legal_form(normalize_name(str(customer.get("name") or "")))
            if customer.get("legal_form"):
                legal_form = split_legal_form("x " + normalize_name(str(customer.get("legal_form"))))[1] or legal_form
            legal_form = legal_form.removeprefix("co ")
        return cls(
            number=str(customer.get("number") or ""),
            name=str(customer.get("name") or "").strip() or _display_person(customer),
            kind=kind,
            person=person_name(customer) if kind == "natural" else ("", ""),
            birth_date=_iso_date(customer.get("birth_date")),
            company=company,
            legal_form=legal_form,
            addresses=_addresses(customer),
            vat_id=_vat(customer.get("vat_id")),
            register=_register(customer),
        )


@dataclass(frozen=True)
class Match:
    """`b` of `match(a, b)` is probably the same customer as `a`: why (German), how sure, which rules."""

    number: str
    name: str
    score: float
    reason: str
    rules: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        """The candidate as the API reports it: number, name, reason, score."""
        return {"number": self.number, "name": self.name, "reason": self.reason, "score": self.score}


def _shared_address(a: Candidate, b: Candidate) -> str | None:
    keys = dict(b.addresses)
    return next((keys[key] for key, _ in a.addresses if key in keys), None)


def _person_rules(a: Candidate, b: Candidate) -> list[tuple[float, str, str]]:
    level = _name_level(a.person, b.person)
    if not level or (a.birth_date and b.birth_date and a.birth_date != b.birth_date):
        return []
    found: list[tuple[float, str, str]] = []
    exact = level == "exact"
    if a.birth_date and a.birth_date == b.birth_date:
        born = _german_date(a.birth_date)
        if exact:
            found.append((1.0, "name_birth_date", f"Gleicher Vor- und Nachname und gleiches Geburtsdatum ({born})"))
        else:
            found.append((0.9, "similar_name_birth_date", f"Sehr ähnlicher Name und gleiches Geburtsdatum ({born})"))
    address = _shared_address(a, b)
    if address is not None:
        if exact:
            found.append((0.95, "name_address", f"Gleicher Name und gleiche Anschrift ({address})"))
        else:
            found.append((0.85, "similar_name_address", f"Sehr ähnlicher Name und gleiche Anschrift ({address})"))
    return found


def _company_rules(a: Candidate, b: Candidate) -> list[tuple[float, str, str]]:
    level = _company_level(a, b)
    address = _shared_address(a, b) if level else None
    if address is None:
        return []
    if level == "exact":
        return [(0.95, "company_address", f"Gleicher Firmenname und gleiche Anschrift ({address})")]
    return [(0.85, "similar_company_address", f"Sehr ähnlicher Firmenname und gleiche Anschrift ({address})")]


def match(a: Customer | Candidate, b: Customer | Candidate) -> Match | None:
    """Whether `b` is probably the same customer as `a` (see the module docstring); the Match describes `b`."""
    first, second = Candidate.of(a), Candidate.of(b)
    if first.number and first.number == second.number:
        return None
    found: list[tuple[float, str, str]] = []
    if first.vat_id and first.vat_id == second.vat_id:
        found.append((1.0, "vat_id", f"Gleiche USt-IdNr. ({second.vat_id})"))
    if first.register[0] and first.register[0] == second.register[0]:
        found.append((1.0, "register", f"Gleicher Registereintrag ({second.register[1]})"))
    if first.kind == second.kind == "natural":
        found.extend(_person_rules(first, second))
    elif first.kind == second.kind == "legal":
        found.extend(_company_rules(first, second))
    if not found:
        return None
    found.sort(key=lambda rule: -rule[0])
    return Match(
        number=second.number,
        name=second.name,
        score=found[0][0],
        reason="; ".join(rule[2] for rule in found),
        rules=tuple(rule[1] for rule in found),
    )


def blocking_keys(customer: Customer | Candidate) -> set[str]:
    """Keys two customers must share for any rule to match ("address:…", "birth:…", "vat:…", "register:…"):
    index existing customers by them and compare a new one only with those sharing a key."""
    candidate = Candidate.of(customer)
    keys = {f"address:{key}" for key, _ in candidate.addresses}
    if candidate.birth_date:
        keys.add(f"birth:{candidate.birth_date}")
    if candidate.vat_id:
        keys.add(f"vat:{candidate.vat_id}")
    if candidate.register[0]:
        keys.add(f"register:{candidate.register[0]}")
    return keys


def find_duplicates(new: Customer | Candidate, existing: Iterable[Customer | Candidate]) -> list[Match]:
    """Every probable duplicate of `new` among `existing`, the most certain first (then by number)."""
    candidate = Candidate.of(new)
    found = [m for m in (match(candidate, other) for other in existing) if m is not None]
    return sorted(found, key=lambda m: (-m.score, m.number))
