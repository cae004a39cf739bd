"""Customer bodies as a client sends them: for generated requests (tests/test_openapi.py), the
values a JSON Schema cannot say are valid (IBAN check digits, VAT ids, postal codes per country,
a plausible birth date, one main address, one consent per purpose) are replaced by valid ones."""

from __future__ import annotations

from typing import Any


def iban(country: str, bban: str) -> str:
    """A valid IBAN (ISO 13616 check digits computed with mod-97)."""
    remainder = int("".join(str(int(ch, 36)) for ch in bban + country + "00")) % 97
    return f"{country}{98 - remainder:02d}{bban}"


def valid_customer_body(body: dict[str, Any]) -> None:
    """Make a generated (schema-valid) customer body valid for the server too, in place."""
    if isinstance(body.get("vat_id"), str):
        body["vat_id"] = "DE123456788"
    if isinstance(body.get("birth_date"), str):
        body["birth_date"] = "1970-01-01"
    addresses = body.get("addresses")
    for index, address in enumerate(addresses if isinstance(addresses, list) else []):
        if isinstance(address, dict):
            address.update(street=f"Musterstraße {index + 1}", postal_code="12345", city="Berlin", country="DE")
            address["kind"] = address.get("kind") if index == 0 else "other"
    contacts = body.get("contacts")
    for contact in contacts if isinstance(contacts, list) else []:
        if isinstance(contact, dict) and isinstance(contact.get("phones"), list):
            contact["phones"] = [f"+49 30 {1000 + i}" for i in range(len(contact["phones"]))]
    accounts = body.get("bank_accounts")
    for index, account in enumerate(accounts if isinstance(accounts, list) else []):
        if isinstance(account, dict):
            account["iban"] = iban("DE", f"{37040044:08d}{index:010d}")
            if isinstance(account.get("bic"), str):
                account["bic"] = "COBADEFFXXX"
    consents = body.get("consents")
    for index, consent in enumerate(consents if isinstance(consents, list) else []):
        if isinstance(consent, dict):
            consent["purpose"] = f"zweck-{index}"
