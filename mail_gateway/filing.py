"""Turn one received message into filed documents: the mail itself (the `.eml`, class
Korrespondenz) and each attachment, through the ordinary upload use case (`dms.app.intake`).

Idempotent: the message is claimed in the catalog under its dedupe key (Message-ID, else sender +
date + attachment hashes) and every part is uploaded with the external id `mail:<key>:<index>`,
so a second delivery or a run after a crash files nothing twice. Bad mail is quarantined
(mail_gateway/quarantine.py), never raised; only `BackendUnavailable` reaches the caller, which
keeps the message and tries again.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import PurePath
from typing import Any

from dms.app.audit import record
from dms.app.intake import CREATED, UNCHANGED, Upload, receive
from dms.app.principal import CUSTOMERS_ALL_BRANCHES, CUSTOMERS_READ, DOCUMENTS_READ, DOCUMENTS_WRITE, Principal
from dms.app.services import Services
from dms.domain import Source
from dms.errors import BackendUnavailable, DmsError, DuplicateDocument
from dms.validation import safe_filename
from mail_gateway.model import (
    SENDER_AUTH_FAILED,
    SENDER_NOT_ALLOWED,
    TOO_LARGE,
    Attachment,
    Envelope,
    FiledPart,
    MailOutcome,
    MailRejected,
    ParsedMail,
    Route,
)
from mail_gateway.quarantine import headers_only, quarantine_message, quarantine_raw, record_values
from mail_gateway.routing import CatalogLookup, Vocabulary, route
from mail_gateway.settings import MailSettings

log = logging.getLogger(__name__)

# routes to every branch's customers (branch scoping, dms/app/branches.py)
MAIL_GATEWAY = Principal("mail-gateway", frozenset({DOCUMENTS_WRITE, CUSTOMERS_READ, DOCUMENTS_READ,
                                                   CUSTOMERS_ALL_BRANCHES}))
MAIL_CLASS = "Korrespondenz"
FINAL = ("filed", "quarantined", "deleted")

__all__ = ["MAIL_GATEWAY", "file_message", "quarantine_raw", "refile"]


def file_message(
    services: Services, raw: bytes, envelope: Envelope, mail: MailSettings, *, released_by: Principal | None = None
) -> MailOutcome:
    """File one received message (see the module docstring). `released_by`: an admin released
    it from the quarantine, so the sender checks are skipped (dangerous parts stay unfiled)."""
    if released_by is None and len(raw) > mail.max_message_bytes:
        size, limit = len(raw) // 1048576, mail.max_message_bytes // 1048576
        return quarantine_raw(services, raw, envelope, TOO_LARGE, f"Die Nachricht ist {size} MB groß; "
                              f"erlaubt sind {limit} MB.")
    parsed = _parse(raw, mail, lenient=released_by is not None)
    if isinstance(parsed, MailRejected):
        return quarantine_raw(services, raw, envelope, parsed.code, parsed.message)
    key = parsed.dedupe_key(envelope)
    verdict = _sender_auth(raw, envelope, mail)
    values = record_values(parsed, envelope, verdict)
    if released_by is None:
        refusal = _refusal(parsed, envelope, mail, verdict)
        if refusal is not None:
            return quarantine_message(services, raw, envelope, key, values, *refusal)
    mail_record, created = services.catalog.mail.claim(key, status="filing", **values)
    if not created and mail_record.status in FINAL:
        log.info("mail %s (%s) already %s: duplicate", mail_record.id, key[:12], mail_record.status)
        return MailOutcome("duplicate", mail_record.id, mail_record.mail_document_id)
    return _file(services, mail_record, raw, envelope, parsed, verdict, mail, released_by)


def refile(
    services: Services, mail_record: Any, raw: bytes, envelope: Envelope, mail: MailSettings, released_by: Principal
) -> MailOutcome:
    """File a quarantined message an admin released (the record exists already; see quarantine.release)."""
    parsed = _parse_lenient(raw, mail)
    verdict = dict(mail_record.sender_auth or {}) or _sender_auth(raw, envelope, mail)
    return _file(services, mail_record, raw, envelope, parsed, verdict, mail, released_by)


# --- checks --------------------------------------------------------------------------------------


def _parse(raw: bytes, mail: MailSettings, *, lenient: bool) -> ParsedMail | MailRejected:
    """The parsed mail, or why it is refused (`lenient`: see `_parse_lenient`)."""
    from mail_gateway.parse import parse_mail

    if lenient:
        return _parse_lenient(raw, mail)
    try:
        return parse_mail(raw, mail)
    except MailRejected as exc:
        return exc


def _parse_lenient(raw: bytes, mail: MailSettings) -> ParsedMail:
    """For a release: dangerous attachments are skipped (listed in `mail_skipped` with the reason),
    the others filed; a mail parse_mail still refuses is filed as the `.eml` alone, none of its
    attachments (headers only, see `quarantine.headers_only`), with the reason in `mail_warnings`."""
    from mail_gateway.parse import parse_mail

    try:
        return parse_mail(raw, mail, skip_dangerous=True)
    except MailRejected as exc:
        return headers_only(raw, f"Anhänge nicht abgelegt: {exc.message} [{exc.code}]")


def _sender_auth(raw: bytes, envelope: Envelope, mail: MailSettings) -> dict[str, Any]:
    """SPF/DKIM/DMARC verdict when configured (empty when `sender_auth = "none"`)."""
    if mail.sender_auth == "none":
        return {}
    from mail_gateway import sender_auth

    try:
        return dict(sender_auth.check(raw, envelope, mail))
    except BackendUnavailable:
        raise
    except Exception as exc:  # noqa: BLE001 - a broken check is recorded, the mail still filed
        log.warning("sender authentication check failed: %s", exc)
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}


def _refusal(
    parsed: ParsedMail, envelope: Envelope, mail: MailSettings, verdict: dict[str, Any]
) -> tuple[str, str] | None:
    """(code, German reason) when the sender may not file this mail, else None."""
    sender = envelope.mail_from or parsed.sender
    if not mail.sender_allowed(sender):
        return SENDER_NOT_ALLOWED, f"Absender {sender or '<leer>'} ist nicht zugelassen."
    if mail.sender_auth == "enforce" and str(verdict.get("dmarc", "")).lower() == "fail":
        return SENDER_AUTH_FAILED, (f"Die Absenderprüfung (DMARC) für {parsed.sender or sender} ist "
                                    "fehlgeschlagen.")
    return None


# --- filing --------------------------------------------------------------------------------------


def _file(
    services: Services, mail_record: Any, raw: bytes, envelope: Envelope, parsed: ParsedMail,
    verdict: dict[str, Any], mail: MailSettings, released_by: Principal | None,
) -> MailOutcome:
    key = mail_record.mail_key
    routed = _route(services, mail_record, parsed, envelope, mail)
    if not mail_record.route:
        services.catalog.mail.update(mail_record.id, route=asdict(routed), customer_number=routed.customer_number)
    audit = _audit_details(parsed, envelope, released_by)
    skipped = [f"{s.filename}: {s.reason}" for s in parsed.skipped]
    parts: list[FiledPart] = []
    for attachment in parsed.attachments:
        upload = _attachment_upload(services, attachment, routed, parsed, verdict, key, audit)
        part = _receive(services, upload)
        if isinstance(part, str):
            skipped.append(f"{attachment.filename}: {part}")
        else:
            parts.append(part)
    mail_upload = _mail_upload(services, raw, parsed, envelope, routed, verdict, key, audit, skipped)
    mail_part = _receive(services, mail_upload)
    if isinstance(mail_part, str):  # the .eml itself cannot be stored (e.g. over the upload limit)
        return quarantine_message(services, raw, envelope, key, {}, TOO_LARGE,
                                  f"Die Nachricht selbst kann nicht abgelegt werden: {mail_part}")
    for part in parts:
        services.catalog.relations.link(mail_part.document_id, part.document_id, "attachment", "mail")
    record(
        services, MAIL_GATEWAY, "mail.received", "mail", mail_record.id,
        customer_number=routed.customer_number, mail_document_id=mail_part.document_id,
        documents=[p.document_id for p in parts], rule=routed.rule, **audit,
    )
    services.catalog.mail.update(
        mail_record.id, status="filed", code=None, reason=None, customer_number=routed.customer_number,
        route=asdict(routed), mail_document_id=mail_part.document_id,
        document_ids=[mail_part.document_id, *(p.document_id for p in parts)], sender_auth=verdict,
    )
    outcome = MailOutcome("filed", mail_record.id, mail_part.document_id, parts, routed)
    if mail.receipt:
        from mail_gateway.receipt import send_receipt

        send_receipt(services, mail, raw, parsed, envelope, outcome)
    return outcome


def _route(services: Services, mail_record: Any, parsed: ParsedMail, envelope: Envelope, mail: MailSettings) -> Route:
    """The route decided before (a resumed or released mail keeps it), else a new decision."""
    if mail_record.route:
        stored = dict(mail_record.route)
        stored["suggestions"] = tuple(stored.get("suggestions") or ())
        return Route(**stored)
    return route(parsed, envelope, mail, CatalogLookup(services.catalog), Vocabulary.from_settings(services.settings))


def _receive(services: Services, upload: Upload) -> FiledPart | str:
    """Upload one part; the part as filed or linked, or the German reason it was not filed."""
    try:
        receipt = receive(services, MAIL_GATEWAY, upload)
    except DuplicateDocument as exc:
        document_id = str(exc.details["document_id"])
        found = services.catalog.documents.get(document_id)
        return FiledPart(upload.filename, document_id, "linked", found.customer_number, found.folder)
    except BackendUnavailable:
        raise
    except DmsError as exc:
        log.warning("part %s of a mail not filed: %s", upload.filename, exc.message)
        return exc.message
    outcome = "created" if receipt.outcome == CREATED else "unchanged" if receipt.outcome == UNCHANGED else "created"
    doc = receipt.document
    return FiledPart(upload.filename, doc.id, outcome, doc.customer_number or upload.customer_number,
                     doc.folder or upload.folder)


def _customer_folders(services: Services, number: str | None) -> list[str]:
    if not number:
        return list(services.settings.folder_template)
    customer = services.catalog.customers.find(number)
    return list(customer.folders) if customer and customer.folders else list(services.settings.folder_template)


def _attachment_upload(
    services: Services, attachment: Attachment, routed: Route, parsed: ParsedMail, verdict: dict[str, Any],
    key: str, audit: dict[str, Any],
) -> Upload:
    folder = routed.folder if routed.folder in _customer_folders(services, routed.customer_number) else None
    fields: dict[str, Any] = {"mail_from": parsed.sender, "mail_subject": parsed.subject}
    if parsed.message_id:
        fields["mail_message_id"] = parsed.message_id
    fields.update(_auth_fields(verdict))
    return Upload(
        attachment.data, attachment.filename or f"Anhang {attachment.index}",
        customer_number=routed.customer_number, document_class=routed.document_class, folder=folder,
        source=Source.EMAIL, external_id=f"mail:{key}:{attachment.index}", fields=fields, audit=audit,
        review_note=None if routed.customer_number else routed.reason,
    )


def _mail_upload(
    services: Services, raw: bytes, parsed: ParsedMail, envelope: Envelope, routed: Route,
    verdict: dict[str, Any], key: str, audit: dict[str, Any], skipped: list[str],
) -> Upload:
    fields: dict[str, Any] = {
        "mail_from": parsed.sender or envelope.mail_from,
        "mail_to": ", ".join(parsed.to),
        "mail_cc": ", ".join(parsed.cc),
        "mail_subject": parsed.subject,
        "mail_date": parsed.date.isoformat() if parsed.date else "",
        "mail_message_id": parsed.message_id or "",
        "mail_envelope_from": envelope.mail_from,
        "mail_envelope_to": ", ".join(envelope.rcpt_tos),
        "mail_route": routed.reason,
    }
    if parsed.sender_name:
        fields["mail_from_name"] = parsed.sender_name
    if parsed.forwarded:
        first = parsed.forwarded[0]
        fields.update({"forwarded_from": first.sender or "", "forwarded_date": first.date or "",
                       "forwarded_subject": first.subject or "", "forwarded_how": first.how})
    if skipped:
        fields["mail_skipped"] = list(skipped)
    if parsed.warnings:
        fields["mail_warnings"] = list(parsed.warnings)
    fields.update(_auth_fields(verdict))
    fields = {k: v for k, v in fields.items() if v not in ("", None)}
    classes = services.settings.document_classes
    subject = " ".join(parsed.subject.split())[:150]
    name = safe_filename(f"{subject}.eml") if subject else "E-Mail.eml"
    if PurePath(name).suffix.lower() != ".eml":
        name = "E-Mail.eml"
    return Upload(
        raw, name, customer_number=routed.customer_number,
        document_class=MAIL_CLASS if MAIL_CLASS in classes else None,
        title=subject or f"E-Mail von {parsed.sender or envelope.mail_from or 'unbekannt'}",
        source=Source.EMAIL, external_id=f"mail:{key}:0", fields=fields, audit=audit,
        review_note=None if routed.customer_number else routed.reason,
    )


def _auth_fields(verdict: dict[str, Any]) -> dict[str, Any]:
    """The sender authentication verdict as flat text fields (`sender_auth`, `sender_auth_dmarc`)."""
    if not verdict:
        return {}
    summary = " ".join(f"{k}={verdict[k]}" for k in ("spf", "dkim", "dmarc") if k in verdict)
    flat = {"sender_auth": summary or str(verdict)[:300]}
    flat.update({f"sender_auth_{k}": str(verdict[k]) for k in ("spf", "dkim", "dmarc") if k in verdict})
    return flat


def _audit_details(parsed: ParsedMail, envelope: Envelope, released_by: Principal | None) -> dict[str, Any]:
    """Who sent the mail (envelope and From), for every audit entry of its filing."""
    details: dict[str, Any] = {
        "mail_from": parsed.sender, "envelope_from": envelope.mail_from, "via": envelope.via,
    }
    if envelope.auth_user:
        details["smtp_user"] = envelope.auth_user
    if released_by is not None:
        details["released_by"] = released_by.name
    return details

