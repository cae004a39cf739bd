"""`filing.file_message` on real embedded backends (tests/conftest.py `services`, no queue: the
pipeline is run here with `process_version`): idempotency after a crash, linking, review reasons,
audit, quarantine release and delete."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, make_msgid

from dms.app.customers import create_customer
from dms.app.intake import Upload, receive
from dms.app.principal import CLI
from dms.catalog.audit import AuditFilter
from dms.domain import DocumentStatus, Source
from dms.services import Services
from ingest.pipeline import process_version
from mail_gateway.filing import MAIL_GATEWAY, file_message
from mail_gateway.model import DANGEROUS_ATTACHMENT, SENDER_NOT_ALLOWED, Envelope
from mail_gateway.quarantine import delete, get_raw, list_quarantine, release
from mail_gateway.settings import MailSettings
from tests.docgen import make_pdf, scan_image


def envelope(*rcpt: str, mail_from: str = "scanner@buero.example") -> Envelope:
    return Envelope(mail_from=mail_from, rcpt_tos=tuple(rcpt), received_at=datetime.now(UTC), via="smtp")


def message(to: str, subject: str, attachments: list[tuple[str, bytes, str]], *, body: str = "Anbei.",
            message_id: bool = True) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Scanner <scanner@buero.example>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
    if message_id:
        msg["Message-ID"] = make_msgid(domain="buero.example")
    msg.set_content(body)
    for name, data, ctype in attachments:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes(policy=SMTP_POLICY)


def customer(services: Services, name: str, **extra: object) -> str:
    return create_customer(services, CLI, {"name": name, **extra}).number


def pdf(word: str) -> bytes:
    return make_pdf([f"Rechnung {word}", "Betrag 100,00 EUR"])


def test_filed_twice_is_filed_once_and_resumes_after_a_crash(services: Services) -> None:
    number = customer(services, "Resume GmbH")
    mail = MailSettings.from_settings(services.settings)
    raw = message(f"akte+{number}@akte.example", "Zwei Rechnungen", [
        ("a.pdf", pdf("Alpha"), "application/pdf"), ("b.pdf", pdf("Beta"), "application/pdf"),
    ])
    env = envelope(f"akte+{number}@akte.example")
    first = file_message(services, raw, env, mail)
    assert first.status == "filed", first
    assert [p.outcome for p in first.parts] == ["created", "created"]
    assert first.route is not None and first.route.customer_number == number
    ids = {first.mail_document_id, *(p.document_id for p in first.parts)}
    assert len(ids) == 3

    again = file_message(services, raw, env, mail)
    assert again.status == "duplicate" and again.mail_id == first.mail_id
    assert again.mail_document_id == first.mail_document_id

    # a crash after the uploads, before the record said "filed": the next run resumes
    services.catalog.mail.update(first.mail_id, status="filing")
    resumed = file_message(services, raw, env, mail)
    assert resumed.status == "filed" and resumed.mail_id == first.mail_id
    assert resumed.mail_document_id == first.mail_document_id
    assert [p.outcome for p in resumed.parts] == ["unchanged", "unchanged"]
    assert {p.document_id for p in resumed.parts} == {p.document_id for p in first.parts}

    record = services.catalog.mail.get(first.mail_id)
    assert record.status == "filed" and record.customer_number == number
    assert set(record.document_ids) == ids
    related = services.catalog.relations.related(first.mail_document_id)
    assert {r["id"] for r in related} == {p.document_id for p in first.parts}
    assert {r["kind"] for r in related} == {"attachment"}
    back = services.catalog.relations.related(first.parts[0].document_id)
    assert [(r["id"], r["kind"]) for r in back] == [(first.mail_document_id, "mail")]
    mail_doc = services.catalog.documents.get(first.mail_document_id)
    assert services.store.get(mail_doc.latest.storage_key) == raw  # byte for byte
    assert mail_doc.source == Source.EMAIL and mail_doc.document_class == "Korrespondenz"
    assert mail_doc.fields["mail_subject"] == "Zwei Rechnungen"
    assert mail_doc.fields["mail_from"] == "scanner@buero.example"
    assert mail_doc.latest.filename == "Zwei Rechnungen.eml"


def test_crash_between_the_parts(services: Services) -> None:
    """Only the first attachment was uploaded (with its external id) when the process died."""
    number = customer(services, "Halb GmbH")
    mail = MailSettings.from_settings(services.settings)
    raw = message(f"akte+{number}@akte.example", "Halb", [
        ("eins.pdf", pdf("Eins"), "application/pdf"), ("zwei.pdf", pdf("Zwei"), "application/pdf"),
    ])
    env = envelope(f"akte+{number}@akte.example")
    from mail_gateway.parse import parse_mail

    parsed = parse_mail(raw, mail)
    key = parsed.dedupe_key(env)
    services.catalog.mail.claim(key, status="filing")
    early = receive(services, MAIL_GATEWAY, Upload(
        parsed.attachments[0].data, "eins.pdf", customer_number=number, source=Source.EMAIL,
        external_id=f"mail:{key}:{parsed.attachments[0].index}",
    ))
    outcome = file_message(services, raw, env, mail)
    assert outcome.status == "filed"
    assert [p.outcome for p in outcome.parts] == ["unchanged", "created"]
    assert outcome.parts[0].document_id == early.document.id
    assert len(services.catalog.documents.query(customer_number=number, limit=100)) == 3


def test_attachment_already_in_the_file_is_linked(services: Services) -> None:
    number = customer(services, "Link GmbH")
    data = pdf("Schon da")
    existing = receive(services, CLI, Upload(data, "vorhanden.pdf", customer_number=number)).document
    mail = MailSettings.from_settings(services.settings)
    raw = message(f"akte+{number}@akte.example", "Nochmal", [("kopie.pdf", data, "application/pdf")])
    outcome = file_message(services, raw, envelope(f"akte+{number}@akte.example"), mail)
    assert outcome.status == "filed"
    assert [(p.outcome, p.document_id) for p in outcome.parts] == [("linked", existing.id)]
    back = services.catalog.relations.related(existing.id)
    assert [(r["id"], r["kind"]) for r in back] == [(outcome.mail_document_id, "mail")]
    assert len(services.catalog.documents.query(customer_number=number, limit=100)) == 2


def test_unknown_customer_goes_to_review_with_the_reason(services: Services) -> None:
    mail = MailSettings.from_settings(services.settings)
    raw = message("akte+4711@akte.example", "Unbekannt", [("x.pdf", pdf("Ohne Kunde"), "application/pdf")])
    outcome = file_message(services, raw, envelope("akte+4711@akte.example"), mail)
    assert outcome.status == "filed" and outcome.route.customer_number is None
    ctx = process_version(services, outcome.parts[0].document_id, 1)
    assert ctx.status == DocumentStatus.NEEDS_REVIEW
    assert ctx.folder == services.settings.inbox_folder
    assert "Kundennummer 4711 aus der Adresse ist unbekannt." in ctx.status_reason
    assert "Bitte prüfen" in ctx.status_reason


def test_audit_names_the_sender(services: Services) -> None:
    number = customer(services, "Audit GmbH")
    mail = MailSettings.from_settings(services.settings)
    raw = message(f"akte+{number}@akte.example", "Audit", [("a.pdf", pdf("Audit"), "application/pdf")])
    outcome = file_message(services, raw, envelope(f"akte+{number}@akte.example", mail_from="bounce@buero.example"),
                           mail)
    entries = services.catalog.audit.page(AuditFilter(actor="mail-gateway"), limit=100)
    received = [e for e in entries if e["action"] == "mail.received"]
    assert len(received) == 1 and received[0]["object_id"] == outcome.mail_id
    details = received[0]["details"]
    assert details["mail_from"] == "scanner@buero.example" and details["envelope_from"] == "bounce@buero.example"
    uploads = [e for e in entries if e["action"] == "document.upload"]
    assert len(uploads) == 2
    assert all(e["details"]["mail_from"] == "scanner@buero.example" for e in uploads)


def test_dangerous_attachment_quarantined_released_without_it(services: Services) -> None:
    number = customer(services, "Quarantäne GmbH")
    mail = MailSettings.from_settings(services.settings)
    exe = b"MZ\x90\x00" + b"\x00" * 60 + b"PE\x00\x00" + b"\x00" * 200
    raw = message(f"akte+{number}@akte.example", "Programm", [
        ("brief.pdf", pdf("Brief"), "application/pdf"), ("setup.exe", exe, "application/octet-stream"),
    ])
    env = envelope(f"akte+{number}@akte.example")
    outcome = file_message(services, raw, env, mail)
    assert outcome.status == "quarantined" and outcome.code == DANGEROUS_ATTACHMENT
    assert services.catalog.documents.query(customer_number=number, limit=10) == []
    listed = list_quarantine(services, CLI)
    assert [r.id for r in listed] == [outcome.mail_id]
    assert get_raw(services, CLI, outcome.mail_id) == raw
    assert file_message(services, raw, env, mail).status == "duplicate"

    released = release(services, CLI, outcome.mail_id, mail, reason="Absender bestätigt")
    # the safe attachment is filed, the executable is not (named with the reason on the mail)
    assert released.status == "filed" and [p.filename for p in released.parts] == ["brief.pdf"]
    mail_doc = services.catalog.documents.get(released.mail_document_id)
    assert mail_doc.customer_number == number
    assert any(s.startswith("setup.exe: ") for s in mail_doc.fields["mail_skipped"])
    filed = services.catalog.documents.query(customer_number=number, limit=10)
    assert sorted(d.title for d in filed) == sorted(["brief", mail_doc.title])
    record = services.catalog.mail.get(outcome.mail_id)
    assert record.status == "filed" and record.raw_key is None
    assert list_quarantine(services, CLI) == []


def test_quarantine_delete_removes_the_message(services: Services) -> None:
    mail = MailSettings.from_settings(services.settings)
    raw = message("posteingang@akte.example", "Makro", [
        ("tabelle.xlsm", b"PK\x03\x04" + b"\x00" * 100, "application/octet-stream"),
    ])
    outcome = file_message(services, raw, envelope("posteingang@akte.example"), mail)
    assert outcome.status == "quarantined"
    key = services.catalog.mail.get(outcome.mail_id).raw_key
    assert services.store.exists(key)
    deleted = delete(services, CLI, outcome.mail_id, "Schadsoftware")
    assert deleted.status == "deleted" and deleted.raw_key is None
    assert not services.store.exists(key)
    assert file_message(services, raw, envelope("posteingang@akte.example"), mail).status == "duplicate"


def test_sender_not_allowed_is_quarantined_and_release_skips_the_check(services: Services) -> None:
    number = customer(services, "Fremd GmbH")
    mail = replace(MailSettings.from_settings(services.settings), allowed_senders=("buero.example",),
                   disallowed_sender_action="quarantine")
    raw = message(f"akte+{number}@akte.example", "Von fremd", [("f.pdf", pdf("Fremd"), "application/pdf")])
    env = envelope(f"akte+{number}@akte.example", mail_from="jemand@fremd.example")
    outcome = file_message(services, raw, env, mail)
    assert (outcome.status, outcome.code) == ("quarantined", SENDER_NOT_ALLOWED)
    assert "jemand@fremd.example" in outcome.reason
    released = release(services, CLI, outcome.mail_id, mail)
    assert released.status == "filed" and [p.outcome for p in released.parts] == ["created"]
    assert released.route.customer_number == number
    entries = services.catalog.audit.page(AuditFilter(action="mail.released"), limit=10)
    assert [(e["actor"], e["object_id"]) for e in entries] == [("cli", outcome.mail_id)]


def test_skipped_parts_are_named_on_the_mail_document(services: Services) -> None:
    number = customer(services, "Logo GmbH")
    mail = MailSettings.from_settings(services.settings)
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@buero.example", f"akte+{number}@akte.example", "Mit Logo"
    msg["Message-ID"] = make_msgid(domain="buero.example")
    msg.set_content("Text")
    msg.add_alternative('<p>Text <img src="cid:logo1"></p>', subtype="html")
    logo = scan_image(["Logo"], dpi=30)
    msg.get_payload()[1].add_related(logo, maintype="image", subtype="png", cid="<logo1>", filename="logo.png")
    msg.add_attachment(pdf("Anlage"), maintype="application", subtype="pdf", filename="anlage.pdf")
    outcome = file_message(services, msg.as_bytes(policy=SMTP_POLICY), envelope(f"akte+{number}@akte.example"), mail)
    assert [p.filename for p in outcome.parts] == ["anlage.pdf"]
    skipped = services.catalog.documents.get(outcome.mail_document_id).fields["mail_skipped"]
    assert len(skipped) == 1 and skipped[0].startswith("logo.png: Eingebettetes Bild")
