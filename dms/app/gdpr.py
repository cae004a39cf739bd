"""GDPR (issue #12): the Art. 15 report of what we hold about a customer, and Art. 17 erasure.

Report (`report`, permission `audit:read`: admins and auditors): master data, every document (the
restricted and those in the trash included) with class, dates, source and retention, the mail
history, and every audit entry about the customer or one of its documents. The request itself is
audited first, so the report lists it too. `dms.app.gdpr_report` renders it as PDF.

Erasure (`erase`, admin, with a reason), one step per document, each audited:
- a document nothing keeps is purged at once (`dms.app.deletion.purge`: every trace, a deletion record);
- a document kept by its retention or a legal hold (on it or on the customer) is *restricted*:
  `restricted = true` hides it from lists, search, reads and the ERP listing for everyone but admins
  and auditors (`dms.app.documents.sees_restricted`); it stays archived and in the report, and the
  retention sweep deletes it when its retention ends;
- the master data is anonymised where nothing needs it any more: with no document left, the name
  becomes "Gelöscht <number>" and e-mail addresses and tags are cleared (the number stays: it keys
  the audit trail); while retained documents remain, the name and kind stay (the retained documents
  are booked under them) and `kept` says so; under a legal hold on the customer nothing is deleted
  or anonymised: everything is restricted until the hold is released.
The customer's `erasure_state` becomes "erased" (nothing left) or "restricted". A request can be
repeated: after the sweep deleted the retained documents, it finishes the anonymisation.
The audit trail keeps its entries (Art. 17 (3) b/e: they prove what was done); erasure entries
carry no old values of the master data.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from dms import sidecars
from dms.app.audit import record
from dms.app.branches import scoped_customer
from dms.app.deletion import hold_on, purge, retained_until
from dms.app.documents import reindex_document
from dms.app.notes import erase_notes
from dms.app.principal import ADMIN, AUDIT_READ, Principal, require
from dms.app.retention import retention_of
from dms.app.services import Services
from dms.catalog.engine import utcnow
from dms.catalog.erasures import DONE, FAILED, ErasureRequest
from dms.catalog.notes import NoteRepository
from dms.domain import Customer, Document, DocumentStatus
from dms.errors import Conflict, NotFound, ValidationError
from dms.storage import keys
from dms.validation import clean_text

log = logging.getLogger(__name__)

REPORT_FORMAT = 1
MAX_REASON = 1000
MAX_MAILS = 100_000
PROCESSING = {DocumentStatus.RECEIVED.value, DocumentStatus.PROCESSING.value}
RESTRICTED, ERASED = "restricted", "erased"  # erasure states of a customer
KEPT_WITH_DOCUMENTS = {
    "number": "Schlüssel der Akte und des Audit-Protokolls.",
    "name": "Die aufbewahrten Dokumente (z. B. Rechnungen) sind unter diesem Namen gebucht; "
            "sie müssen bis zum Ende ihrer Aufbewahrungsfrist zuzuordnen sein (§ 147 AO, § 257 HGB).",
    "kind": "Gehört zur Zuordnung der aufbewahrten Dokumente.",
}
KEPT_WITH_DOCUMENTS.update({
    "first_name, last_name": "Teil des Namens, unter dem die aufbewahrten Dokumente gebucht sind.",
    "addresses, legal_form, register_court, register_number, vat_id": "Stehen auf den aufbewahrten Belegen "
    "(Rechnungsanschrift, USt-IdNr.) und gehören zu ihrer Zuordnung bis zum Ende der Aufbewahrungsfrist.",
})
KEPT_ALONE = {"number": "Schlüssel der Akte und des Audit-Protokolls (enthält keine weiteren Personendaten)."}
# personal data no retained document needs: cleared at once (issue 14's master data included)
CLEARED_WITH_DOCUMENTS: dict[str, Any] = {
    "emails": [], "tags": [], "salutation": None, "title": None, "birth_date": None, "external_number": None,
    "contacts": [], "bank_accounts": [], "consents": [], "communication": {}, "attributes": {},
}
# with nothing left to keep: everything personal
CLEARED_ALONE: dict[str, Any] = {
    **CLEARED_WITH_DOCUMENTS, "first_name": None, "last_name": None, "legal_form": None, "register_court": None,
    "register_number": None, "vat_id": None, "addresses": [],
}


# --- Art. 15: the report ----------------------------------------------------------------------------


def report(services: Services, principal: Principal, number: str) -> dict[str, Any]:
    """Everything we hold about customer `number` (see the module docstring), as a JSON-able dict."""
    require(principal, AUDIT_READ)
    customer = scoped_customer(services, principal, number)
    documents = services.catalog.erasures.documents_of(number)
    record(services, principal, "customer.gdpr_report", "customer", number, documents=len(documents))
    mails = services.catalog.mail.list(customer_number=number, limit=MAX_MAILS)
    accesses = services.catalog.erasures.accesses(number, [d.id for d in documents])
    latest = services.catalog.erasures.latest(number)
    locks: dict[str, list[datetime]] = {}  # one query for every document's archived locks
    for archived in services.catalog.archive.all(customer_number=number):
        if archived.retain_until is not None and archived.version_id:
            locks.setdefault(archived.document_id, []).append(archived.retain_until)
    return {
        "format": REPORT_FORMAT,
        "legal_basis": "Art. 15 DSGVO",
        "generated_at": utcnow().isoformat(),
        "generated_by": principal.name,
        "customer": customer.to_dict(),
        "erasure": latest.to_dict() if latest else None,
        "documents": [_document(services, d, locks.get(d.id, [])) for d in documents],
        "mail": [_mail(m) for m in mails],
        "notes": [note.to_dict() for note in NoteRepository(services.catalog.db).of_customer(number)],
        "accesses": [_access(e) for e in accesses],
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _document(services: Services, document: Document, locks: list[datetime]) -> dict[str, Any]:
    """A document as the report lists it; `locks`: its archived versions' retain-until dates.
    `retained_until` is what `dms.app.deletion.retained_until` gives, without a query per document."""
    policy = services.settings.retention_policies.get(document.document_class or "")
    until = max([*locks, *filter(None, [retention_of(services, document)])], default=None)
    latest = document.latest
    return {
        "id": document.id, "title": document.title, "class": document.document_class, "folder": document.folder,
        "status": document.status, "source": document.source, "external_source": document.external_source,
        "document_date": _iso(document.document_date), "filed_at": _iso(document.created_at),
        "updated_at": _iso(document.updated_at), "versions": len(document.versions),
        "filename": (latest.original_filename or latest.filename) if latest else None,
        "retention_policy": policy.to_dict() if policy is not None and policy.retains else None,
        "retained_until": _iso(until), "archived_until": _iso(document.archived_until),
        "legal_hold": document.legal_hold, "restricted": document.restricted, "trashed_at": _iso(document.trashed_at),
    }


def _mail(mail: Any) -> dict[str, Any]:
    return {
        "id": mail.id, "received_at": _iso(mail.received_at), "via": mail.via, "sender": mail.sender,
        "recipients": list(mail.recipients), "subject": mail.subject, "status": mail.status,
        "documents": list(mail.document_ids),
    }


def _access(entry: dict[str, Any]) -> dict[str, Any]:
    return {name: entry[name] for name in (
        "id", "at", "actor", "action", "object_type", "object_id", "document_id", "version", "ip", "user_agent",
    )}


# --- Art. 17: erasure ---------------------------------------------------------------------------------


def erasure(services: Services, principal: Principal, number: str) -> ErasureRequest:
    """The customer's latest erasure request with its steps (NotFound when there is none)."""
    require(principal, AUDIT_READ)
    scoped_customer(services, principal, number)
    latest = services.catalog.erasures.latest(number)
    if latest is None:
        raise NotFound(f"Für Kunde {number} gibt es keinen Löschantrag.", code="erasure_not_found")
    return latest


def _reason(reason: Any) -> str:
    text = clean_text(reason).strip() if isinstance(reason, str) else ""
    if not text:
        raise ValidationError("Ein Grund (reason) ist erforderlich.", field="reason")
    if len(text) > MAX_REASON:
        raise ValidationError(f"Der Grund ist länger als {MAX_REASON} Zeichen.", field="reason")
    return text


def erase(services: Services, principal: Principal, number: str, reason: Any) -> ErasureRequest:
    """Erase customer `number` as far as the law allows (see the module docstring); the request."""
    require(principal, ADMIN)
    reason = _reason(reason)
    customer = scoped_customer(services, principal, number)
    erasures = services.catalog.erasures
    request = erasures.create(number, reason=reason, requested_by=principal.name, legal_hold=customer.legal_hold)
    record(services, principal, "customer.erasure_requested", "customer", number, reason=reason,
           erasure_id=request.id, legal_hold=customer.legal_hold)
    services.catalog.customers.update(number, erasure_requested_at=request.requested_at)
    try:
        remaining = 0
        for document in erasures.documents_of(number):
            remaining += _erase_document(services, principal, request, document)
        kept, explanation, outcome = _master_data(services, principal, request, customer, remaining)
    except Exception as exc:
        erasures.add_step(request.id, "failed", error=str(exc))
        erasures.finish(request.id, status=FAILED, outcome=None, kept={}, explanation=None, error=str(exc))
        record(services, principal, "customer.erasure_failed", "customer", number, erasure_id=request.id,
               error=str(exc))
        raise
    done = erasures.finish(request.id, status=DONE, outcome=outcome, kept=kept, explanation=explanation)
    record(services, principal, "customer.erasure_done", "customer", number, erasure_id=request.id, outcome=outcome,
           kept=sorted(kept), **done.counts())
    return done


def _why_kept(services: Services, document: Document, now: datetime) -> dict[str, Any] | None:
    """Why a document may not be deleted now (legal hold, retention, in processing); None: nothing keeps it."""
    hold = hold_on(services, document)
    if hold is not None:
        return {"kept_by": "legal_hold", "legal_hold": hold}
    until = retained_until(services, document)
    if until is not None and until > now:
        return {"kept_by": "retention", "retained_until": until.isoformat()}
    if document.status in PROCESSING:
        return {"kept_by": "processing"}
    return None


def _erase_document(services: Services, principal: Principal, request: ErasureRequest, document: Document) -> int:
    """Purge or restrict one document; 1 when it remains (restricted), else 0."""
    why = _why_kept(services, document, utcnow())
    if why is None:
        try:
            result = purge(services, document.id, reason=f"DSGVO Art. 17: {request.reason}",
                           requested_by=principal.name)
        except Conflict as exc:  # kept after all (a hold set meanwhile)
            why = {"kept_by": exc.code, **{k: v for k, v in exc.details.items() if isinstance(v, str)}}
        else:
            services.catalog.erasures.add_step(request.id, "purge", document.id, **{
                "class": document.document_class, "status": result["status"],
                "record_key": result.get("record_key"), "record_sha256": result.get("record_sha256")})
            return 0
    if not document.restricted:
        restricted = services.catalog.documents.update(document.id, restricted=True)
        sidecars.write_document(services.store, restricted)
        reindex_document(services, document.id)
    record(services, principal, "document.restrict", "document", document.id, reason=request.reason,
           erasure_id=request.id, **why)
    services.catalog.erasures.add_step(request.id, "restrict", document.id, **{"class": document.document_class,
                                                                               **why})
    return 1


def _present(customer: Customer, cleared: dict[str, Any]) -> dict[str, Any]:
    """The fields of `cleared` that hold something on `customer` (names are always cleared lists)."""
    return {name: empty for name, empty in cleared.items()
            if name in ("emails", "tags") or getattr(customer, name) not in (None, [], {}, "")}


def _master_data(
    services: Services, principal: Principal, request: ErasureRequest, customer: Customer, remaining: int
) -> tuple[dict[str, str], str, str]:
    """Anonymise the master data as far as nothing needs it: (kept fields and why, explanation, outcome)."""
    number = customer.number
    if customer.legal_hold:
        kept = {"*": "Legal Hold auf dem Kunden: Stammdaten und Dokumente bleiben unverändert erhalten."}
        explanation = (
            f"Für Kunde {number} gilt ein Legal Hold ({customer.legal_hold_reason or 'ohne Angabe'}): nichts wurde "
            f"gelöscht, alle {remaining} Dokumente sind eingeschränkt (nur für Administratoren und Prüfer sichtbar). "
            "Nach Aufhebung des Legal Hold den Löschantrag wiederholen."
        )
        changes: dict[str, Any] = {}
    elif remaining:
        kept = dict(KEPT_WITH_DOCUMENTS)
        changes = _present(customer, CLEARED_WITH_DOCUMENTS)
        explanation = (
            f"{remaining} Dokumente unterliegen einer Aufbewahrungspflicht und sind bis zu deren Ablauf eingeschränkt "
            "(nur für Administratoren und Prüfer sichtbar); der Löschlauf löscht sie danach. E-Mail-Adressen, "
            "Schlagworte, Ansprechpartner, Bankverbindungen, Einwilligungen, Geburtsdatum, eigene Felder und "
            "Notizen wurden gelöscht; behalten: " + ", ".join(sorted(kept)) + ". Nach dem Löschlauf den "
            "Antrag wiederholen, um auch diese zu anonymisieren."
        )
    else:
        kept = dict(KEPT_ALONE)
        changes = {"name": f"Gelöscht {number}", **_present(customer, CLEARED_ALONE)}
        explanation = ("Alle Dokumente und Notizen wurden gelöscht und die Stammdaten anonymisiert; behalten: "
                       "Kundennummer.")
    notes = 0 if customer.legal_hold else erase_notes(services, number)  # notes, calls, visits: personal data
    outcome = RESTRICTED if remaining or customer.legal_hold else ERASED
    updated = services.catalog.customers.update(number, erasure_state=outcome, **changes)
    if changes:
        # older versions of the customer's sidecar still hold the old values: drop them all, write it anew
        services.store.delete(keys.customer_key(updated.id))
    sidecars.write_customer(services.store, updated)
    services.catalog.erasures.add_step(request.id, "anonymise", None, fields=sorted(changes), kept=sorted(kept),
                                       erasure_state=outcome, notes_deleted=notes)
    # no old values here: the audit trail must not keep what was erased
    record(services, principal, "customer.anonymise", "customer", number, erasure_id=request.id,
           fields=sorted(changes), kept=sorted(kept), erasure_state=outcome, notes_deleted=notes)
    return kept, explanation, outcome
