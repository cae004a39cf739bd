"""Merging a duplicate customer into the one that stays (issue #14).

`merge_customers(…, number, {"into": survivor, "reason": …})` (admins: it cannot be undone):

1. the survivor's master data gains what only the merged customer had: addresses (deduplicated by
   their normalised form; a second main address becomes `other`), contacts, mail addresses, tags,
   groups, bank accounts (by IBAN), consents (per purpose the latest), attributes and the fields the
   survivor leaves empty (audited as `customer.update` with `via: merge`);
2. every document of the merged customer (trashed and restricted ones too) moves to the survivor:
   catalog, document sidecar, search index (each audited as `document.refile` with `via: merge`), and
   so do its notes and follow-ups (dms/app/notes.py);
3. the merged customer's sidecar becomes a marker `merged_into` (a rebuild restores the alias), then its
   catalog row becomes an alias of the survivor (dms/catalog/customer_aliases.py): gone from every
   list, its number never given again, its received mail listed under the survivor;
4. `customer.merge` is audited on both numbers. The merged customer's earlier audit entries stay
   under its old number (the trail is never rewritten).

The old number keeps resolving: `current_customer` raises `Moved` (the API answers 308 with the
survivor's URL) and mail to `akte+<old nr>@` is filed into the survivor (mail_gateway/routing.py).
A merge that stops half way (a crash, a document arriving meanwhile) is simply run again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dms import sidecars
from dms.app.audit import changes as audit_changes
from dms.app.audit import record
from dms.app.branches import current_customer
from dms.app.customer_view import audit_values
from dms.app.documents import reindex_document
from dms.app.notes import move_notes
from dms.app.principal import ADMIN, Principal, require
from dms.app.retention import after_change
from dms.app.services import Services
from dms.catalog.customer_aliases import CustomerAlias, CustomerAliases, merged_marker
from dms.domain import Customer
from dms.errors import Conflict, Moved, ValidationError
from dms.masterdata.postal import normalize_address
from dms.storage import keys
from dms.validation import number_field, quote, text_field

MAX_REASON = 500
ATTEMPTS = 3  # rounds of moving documents that arrived meanwhile before the merge gives up (409)
# fields the survivor takes from the merged customer only where it has none itself (same kind of person)
FILLED = ("salutation", "title", "first_name", "last_name", "birth_date", "legal_form", "register_court",
          "register_number", "vat_id", "communication")


@dataclass
class MergeResult:
    customer: Customer  # the survivor, as it is after the merge
    alias: CustomerAlias
    documents: list[str]  # ids of the documents moved


def aliases(services: Services) -> CustomerAliases:
    return CustomerAliases(services.catalog.db)




# --- the survivor's master data ---------------------------------------------------------------------


def _union(first: list[Any], second: list[Any], key: Any = None) -> list[Any]:
    """`first`, then the items of `second` whose key (`key(item)`, else the item) is not there yet."""
    of = key or (lambda item: item)
    seen = {of(item) for item in first}
    result = list(first)
    for item in second:
        if of(item) not in seen:
            seen.add(of(item))
            result.append(item)
    return result


def _addresses(kept: list[dict[str, Any]], added: list[dict[str, Any]]) -> list[dict[str, Any]]:
    has_main = any(a.get("kind") == "main" for a in kept)
    moved = [{**a, "kind": "other"} if a.get("kind") == "main" and has_main else a for a in added]
    return _union(kept, moved, key=lambda a: a.get("normalized") or normalize_address(a) or repr(sorted(a.items())))


def _contact_key(contact: dict[str, Any]) -> tuple[str, str]:
    return (str(contact.get("name") or "").casefold().strip(), str(contact.get("email") or "").casefold())


def _consents(kept: list[dict[str, Any]], added: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One consent per purpose: the later statement wins (the survivor's on the same date or without dates)."""
    by_purpose: dict[str, dict[str, Any]] = {}
    for consent in kept:
        by_purpose[str(consent.get("purpose")).casefold()] = consent
    for consent in added:
        purpose = str(consent.get("purpose")).casefold()
        current = by_purpose.get(purpose)
        if current is None or str(consent.get("date") or "") > str(current.get("date") or ""):
            by_purpose[purpose] = consent
    return list(by_purpose.values())


def combined(survivor: Customer, merged: Customer) -> dict[str, Any]:
    """The changes that give the survivor what only the merged customer had (nothing of its own replaced)."""
    target: dict[str, Any] = {
        "emails": _union(survivor.emails, merged.emails),
        "tags": sorted(set(survivor.tags) | set(merged.tags)),
        "groups": _union(survivor.groups, merged.groups),
        "addresses": _addresses(survivor.addresses, merged.addresses),
        "contacts": _union(survivor.contacts, merged.contacts, key=_contact_key),
        "bank_accounts": _union(survivor.bank_accounts, merged.bank_accounts, key=lambda a: a.get("iban")),
        "consents": _consents(survivor.consents, merged.consents),
        "attributes": {**merged.attributes, **survivor.attributes},
    }
    if survivor.kind == merged.kind:
        for name in FILLED:
            if not getattr(survivor, name) and getattr(merged, name):
                target[name] = getattr(merged, name)
    return {name: value for name, value in target.items() if value != getattr(survivor, name)}


def _update_survivor(services: Services, principal: Principal, survivor: Customer, changes: dict[str, Any],
                     merged_number: str) -> Customer:
    if not changes:
        return survivor
    updated = services.catalog.customers.update(survivor.number, **changes)
    sidecars.write_customer(services.store, updated)
    fields = sorted(changes)
    old_new = audit_changes(audit_values(survivor, fields), audit_values(updated, fields))
    record(services, principal, "customer.update", "customer", survivor.number, fields=fields, via="merge",
           merged_number=merged_number, **old_new)
    return updated


# --- documents -------------------------------------------------------------------------------------


def _move_documents(services: Services, principal: Principal, merged_number: str, survivor_number: str) -> list[str]:
    """Every document of `merged_number` (trashed and restricted ones too) filed under `survivor_number`."""
    documents = services.catalog.documents
    moved: list[str] = []
    for document_id in aliases(services).document_ids(merged_number):
        updated = documents.update(document_id, customer_number=survivor_number)
        if after_change(services, principal, document_id) is not None:  # a hold of the survivor covers it now
            updated = documents.get(document_id)
        sidecars.write_document(services.store, updated)
        reindex_document(services, document_id)
        record(services, principal, "document.refile", "document", document_id, fields=["customer_number"],
               via="merge", old={"customer_number": merged_number}, new={"customer_number": survivor_number})
        moved.append(document_id)
    return moved


# --- the use case ------------------------------------------------------------------------------------


def _merge_input(body: dict[str, Any]) -> tuple[str, str | None]:
    unknown = sorted(set(body) - {"into", "reason"})
    if unknown:
        raise ValidationError(f"Unbekannte Felder: {quote(', '.join(map(str, unknown)))}.")
    into = number_field(body.get("into"), "into")
    if into is None:
        raise ValidationError("into fehlt: die Nummer des Kunden, der bleibt.", field="into")
    return into, text_field(body.get("reason"), "reason", max_length=MAX_REASON, multiline=True)


def _check(merged: Customer, survivor: Customer) -> None:
    for customer in (merged, survivor):
        if customer.erasure_state:
            raise Conflict(f"Kunde {customer.number} ist nach DSGVO gesperrt oder gelöscht und kann nicht "
                           "zusammengeführt werden.", code="customer_erased", number=customer.number)
    if merged.legal_hold and not survivor.legal_hold:
        raise Conflict(f"Kunde {merged.number} steht unter Legal Hold; erst den Hold auch auf Kunde "
                       f"{survivor.number} setzen (oder aufheben), dann zusammenführen.", code="legal_hold",
                       number=merged.number)


def _not_merged(services: Services, number: str) -> Customer:
    """Customer `number`; a number merged before is a Conflict here (never a redirect: a client
    following it would merge the survivor)."""
    try:
        return current_customer(services, number)
    except Moved as exc:
        survivor = exc.details["number"]
        raise Conflict(f"Kunde {number} wurde bereits mit Kunde {survivor} zusammengeführt.", code="customer_merged",
                       number=survivor) from None


def _mark_sidecar(services: Services, merged: Customer, alias: CustomerAlias | None) -> None:
    """The merged customer's sidecar: only its id, number and `merged_into` marker (its master data lives on in
    the survivor, and personal data is not kept twice), or, `alias` None, its full record again."""
    if alias is None:
        data = sidecars.customer_record(merged)
    else:
        data = {"format": sidecars.FORMAT, "id": merged.id, "number": merged.number, **merged_marker(alias)}
    services.store.put(keys.customer_key(merged.id), keys.dump(data), content_type=sidecars.JSON)


def _move_and_retire(services: Services, principal: Principal, merged: Customer, survivor_number: str,
                     planned: CustomerAlias) -> tuple[CustomerAlias, list[str]]:
    """Move the documents, then make the merged customer an alias; documents arriving meanwhile are moved in
    another round. Its sidecar is marked first (a rebuild then restores the alias) and unmarked on failure."""
    moved: list[str] = []
    _mark_sidecar(services, merged, planned)
    try:
        for attempt in range(1, ATTEMPTS + 1):
            moved += _move_documents(services, principal, merged.number, survivor_number)
            try:
                alias = aliases(services).retire(merged.number, survivor_number, merged_by=principal.name,
                                                 reason=planned.reason, merged_at=planned.merged_at)
                return alias, moved
            except Conflict as exc:
                if exc.code != "merge_incomplete" or attempt == ATTEMPTS:
                    raise
        raise AssertionError("not reached")
    except Exception:
        _mark_sidecar(services, merged, None)
        raise


def merge_customers(services: Services, principal: Principal, number: str, body: dict[str, Any]) -> MergeResult:
    """Merge customer `number` into `body["into"]` (see the module docstring); admins only."""
    require(principal, ADMIN)
    into, reason = _merge_input(body)
    merged = _not_merged(services, number)
    survivor = _not_merged(services, into)
    if survivor.number == merged.number:
        raise Conflict(f"Kunde {number} kann nicht mit sich selbst zusammengeführt werden.", code="merge_into_itself")
    _check(merged, survivor)
    survivor = _update_survivor(services, principal, survivor, combined(survivor, merged), merged.number)
    at = datetime.now(UTC)
    planned = CustomerAlias(merged.number, survivor.number, merged.id, at, principal.name, reason)
    notes = move_notes(services, merged.number, survivor.number)
    alias, moved = _move_and_retire(services, principal, merged, survivor.number, planned)
    notes += move_notes(services, merged.number, survivor.number)  # any written meanwhile
    if merged.external_number and not survivor.external_number:  # unique: free only now
        survivor = _update_survivor(services, principal, survivor, {"external_number": merged.external_number},
                                    merged.number)
    record(services, principal, "customer.merge", "customer", merged.number, role="merged", into=survivor.number,
           reason=reason, documents=len(moved), notes=notes)
    record(services, principal, "customer.merge", "customer", survivor.number, role="survivor",
           merged_number=merged.number, reason=reason, documents=len(moved), notes=notes)
    return MergeResult(survivor, alias, moved)
