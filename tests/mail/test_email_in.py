"""Email-in end to end: mail goes in through smtplib to a running `dms mail-gateway`, results are
read back through the HTTP API of `dms serve` (and `dms mail …` as a subprocess) on the same data.
Embedded defaults; the documents are real files (tests/docgen.py)."""

from __future__ import annotations

import itertools
import subprocess
import sys
import uuid
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from mail_gateway.model import DANGEROUS_ATTACHMENT, MALFORMED
from tests.docgen import make_pdf, scan_pdf
from tests.mail.conftest import MailStack, as_bytes

DOMAIN = "akte.example"
_names = itertools.count(1)
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 52 + b"\x40\x00\x00\x00" + b"PE\x00\x00" + b"\x00" * 400


def customer(stack: MailStack, **extra: Any) -> str:
    return stack.api.create_customer(f"Mailkunde {next(_names)} GmbH", **extra)["number"]


def mail(subject: str, attachments: list[tuple[str, bytes]] = (), *, body: str = "Anbei die Unterlagen.",
         sender: str = "Scanner <scanner@buero.example>", to: str = f"posteingang@{DOMAIN}",
         message_id: bool = True) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = "Mon, 02 Mar 2026 09:30:00 +0100"
    if message_id:
        msg["Message-ID"] = make_msgid(domain="buero.example")
    msg.set_content(body)
    for name, data in attachments:
        maintype, subtype = ("application", "pdf") if name.endswith(".pdf") else ("application", "octet-stream")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg


def text_pdf(*lines: str) -> bytes:
    return make_pdf(list(lines))


def by_subject(subject: str) -> Any:
    return lambda record: record.get("subject") == subject and record.get("status") in ("filed", "quarantined")


def filed_documents(stack: MailStack, record: dict[str, Any]) -> list[dict[str, Any]]:
    """The mail's documents (mail first), each once its ingest has finished."""
    return [stack.api.wait(document_id) for document_id in record["document_ids"]]


def dms_cli(stack: MailStack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dms.cli", "mail", *args], env=stack.env, capture_output=True,
                          text=True, timeout=300)


def test_scanned_pdf_to_the_customer_address_is_filed_and_findable(mail_stack: MailStack) -> None:
    number = customer(mail_stack)
    scan = scan_pdf([["Wartungsprotokoll", "Heizungsanlage Kellerraum", "Stichwort Zitronenfalter"]])
    subject = f"Scan {uuid.uuid4().hex[:8]}"
    msg = mail(subject, [("scan.pdf", scan)])
    mail_stack.send(msg, to=[f"akte+{number}@{DOMAIN}"])
    record = mail_stack.wait_mail(by_subject(subject))
    assert record["status"] == "filed" and record["customer_number"] == number
    mail_doc, scan_doc = filed_documents(mail_stack, record)
    assert scan_doc["status"] == "filed" and scan_doc["customer_number"] == number
    assert scan_doc["source"] == "email"
    assert mail_doc["class"] == "Korrespondenz" and mail_doc["folder"] == "02 Korrespondenz"
    assert mail_doc["customer_number"] == number and mail_doc["source"] == "email"
    hits = mail_stack.api.search("Zitronenfalter", customer=number)
    assert scan_doc["id"] in [hit["id"] for hit in hits["hits"]]
    related = mail_stack.api.get(f"/documents/{mail_doc['id']}").json()["related"]
    assert [(r["id"], r["kind"]) for r in related] == [(scan_doc["id"], "attachment")]
    back = mail_stack.api.get(f"/documents/{scan_doc['id']}").json()["related"]
    assert [(r["id"], r["kind"]) for r in back] == [(mail_doc["id"], "mail")]
    # the mail itself is kept byte for byte (after any trace header the gateway puts on top)
    original = mail_stack.api.get(f"/documents/{mail_doc['id']}/content")
    assert original.status_code == 200 and original.content.endswith(as_bytes(msg))
    assert mail_doc["fields"]["mail_subject"] == subject
    assert mail_doc["fields"]["mail_from"] == "scanner@buero.example"


def test_subject_token(mail_stack: MailStack) -> None:
    number = customer(mail_stack)
    subject = f"Lieferung [K-{number}] {uuid.uuid4().hex[:6]}"
    mail_stack.send(mail(subject, [("ls.pdf", text_pdf("Lieferschein 4711", "Position 1"))]),
                    to=[f"posteingang@{DOMAIN}"])
    record = mail_stack.wait_mail(by_subject(subject))
    assert record["customer_number"] == number and record["route"]["rule"] == "subject"
    docs = filed_documents(mail_stack, record)
    assert {d["customer_number"] for d in docs} == {number}


def test_customer_number_in_the_text(mail_stack: MailStack) -> None:
    number = customer(mail_stack)
    subject = f"Unterlagen {uuid.uuid4().hex[:6]}"
    msg = mail(subject, [("brief.pdf", text_pdf("Sehr geehrte Damen und Herren", "anbei der Brief."))],
               body=f"Guten Tag,\nunsere Kundennummer: {number}\nMit freundlichen Grüßen")
    mail_stack.send(msg, to=[f"posteingang@{DOMAIN}"])
    record = mail_stack.wait_mail(by_subject(subject))
    assert record["customer_number"] == number and record["route"]["rule"] == "text"
    assert {d["customer_number"] for d in filed_documents(mail_stack, record)} == {number}


def test_customer_found_from_the_sender_address(mail_stack: MailStack) -> None:
    address = f"einkauf-{uuid.uuid4().hex[:6]}@kunde.example"
    number = customer(mail_stack, emails=[address])
    subject = f"Bestellung {uuid.uuid4().hex[:6]}"
    msg = mail(subject, [("bestellung.pdf", text_pdf("Bestellung", "10 Stück"))], sender=f"Einkauf <{address}>")
    mail_stack.send(msg, to=[f"posteingang@{DOMAIN}"], mail_from=address)
    record = mail_stack.wait_mail(by_subject(subject))
    assert record["customer_number"] == number and record["route"]["rule"] == "sender"


def test_forwarded_mail_records_the_original_sender(mail_stack: MailStack) -> None:
    original_sender = f"chef-{uuid.uuid4().hex[:6]}@kunde.example"
    number = customer(mail_stack, emails=[original_sender])
    original = mail("Reklamation Lieferung", [("foto.pdf", text_pdf("Reklamation", "Gehäuse beschädigt"))],
                    sender=f"Chef <{original_sender}>", to="vertrieb@buero.example")
    subject = f"WG: Reklamation {uuid.uuid4().hex[:6]}"
    forward = mail(subject, body="Bitte ablegen.", sender="Sachbearbeiter <sb@buero.example>")
    forward.add_attachment(original)  # message/rfc822
    mail_stack.send(forward, to=[f"posteingang@{DOMAIN}"], mail_from="sb@buero.example")
    record = mail_stack.wait_mail(by_subject(subject))
    assert record["forwarded"][0]["sender"] == original_sender
    assert record["customer_number"] == number and record["route"]["rule"] == "sender"
    mail_doc = filed_documents(mail_stack, record)[0]
    assert mail_doc["fields"]["forwarded_from"] == original_sender
    assert mail_doc["fields"]["mail_from"] == "sb@buero.example"


def test_unknown_customer_goes_to_the_posteingang_with_the_reason(mail_stack: MailStack) -> None:
    subject = f"Irgendwas {uuid.uuid4().hex[:6]}"
    mail_stack.send(mail(subject, [("notiz.pdf", text_pdf("Eine Notiz ohne Zuordnung"))]),
                    to=[f"akte+4711@{DOMAIN}"])
    record = mail_stack.wait_mail(by_subject(subject))
    assert record["status"] == "filed" and record["customer_number"] is None
    for document in filed_documents(mail_stack, record):
        assert document["status"] == "needs_review", document
        assert document["folder"] == "99 Posteingang" and document["customer_number"] is None
        assert "Kundennummer 4711 aus der Adresse ist unbekannt." in document["status_reason"]


def test_address_hint_names_the_class(mail_stack: MailStack) -> None:
    number = customer(mail_stack)
    subject = f"Beleg {uuid.uuid4().hex[:6]}"
    mail_stack.send(mail(subject, [("beleg.pdf", text_pdf("Ein Beleg", "ohne Überschrift"))]),
                    to=[f"akte+{number}+rechnung@{DOMAIN}"])
    record = mail_stack.wait_mail(by_subject(subject))
    mail_doc, beleg = filed_documents(mail_stack, record)
    assert (beleg["class"], beleg["folder"], beleg["customer_number"]) == ("Rechnung", "04 Rechnungen", number)
    assert mail_doc["folder"] == "02 Korrespondenz"


def _flush(stack: MailStack, number: str) -> None:
    """Send a marker mail and wait for it: the processor files in arrival order, so every mail
    sent before it has been handled."""
    subject = f"Marker {uuid.uuid4().hex}"
    stack.send(mail(subject, body="Marker"), to=[f"akte+{number}@{DOMAIN}"])
    stack.wait_mail(by_subject(subject))


def test_duplicate_delivery_is_filed_once(mail_stack: MailStack) -> None:
    number = customer(mail_stack)
    with_id = mail(f"Doppelt {uuid.uuid4().hex[:6]}", [("d1.pdf", text_pdf("Doppelt eins"))])
    without_id = mail(f"Ohne ID {uuid.uuid4().hex[:6]}", [("d2.pdf", text_pdf("Doppelt zwei"))], message_id=False)
    for msg in (with_id, with_id, without_id, without_id):
        mail_stack.send(msg, to=[f"akte+{number}@{DOMAIN}"])
    _flush(mail_stack, number)
    records = mail_stack.mail_messages(customer=number)
    subjects = sorted(r["subject"] for r in records if not r["subject"].startswith("Marker"))
    assert subjects == sorted([with_id["Subject"], without_id["Subject"]])
    docs = mail_stack.wait_documents(number, 5)
    assert len(docs) == 5  # two mails with one attachment each, and the marker mail


def test_attachment_already_in_the_file_is_linked(mail_stack: MailStack) -> None:
    number = customer(mail_stack)
    data = text_pdf("Vertrag über Wartung", "Laufzeit zwei Jahre")
    existing = mail_stack.api.upload_ok(data, "vertrag.pdf", customer_number=number)
    mail_stack.api.wait(existing)
    subject = f"Vertrag nochmal {uuid.uuid4().hex[:6]}"
    mail_stack.send(mail(subject, [("vertrag-kopie.pdf", data)]), to=[f"akte+{number}@{DOMAIN}"])
    record = mail_stack.wait_mail(by_subject(subject))
    assert record["document_ids"][1:] == [existing]
    docs = mail_stack.wait_documents(number, 2)
    assert len(docs) == 2  # the existing one and the mail: nothing stored twice
    related = mail_stack.api.get(f"/documents/{existing}").json()["related"]
    assert [(r["id"], r["kind"]) for r in related] == [(record["mail_document_id"], "mail")]


def test_bad_mail_is_quarantined_and_the_next_is_filed(mail_stack: MailStack) -> None:
    number = customer(mail_stack)
    broken_sender = f"kaputt-{uuid.uuid4().hex[:6]}@buero.example"
    mail_stack.send(b"Das ist keine E-Mail,\r\nsondern nur Text ohne Kopfzeilen.\r\n", to=[f"akte+{number}@{DOMAIN}"],
                    mail_from=broken_sender)
    exe_subject = f"Programm {uuid.uuid4().hex[:6]}"
    mail_stack.send(mail(exe_subject, [("rechnung.pdf", text_pdf("Rechnung 1")), ("setup.exe", EXE)]),
                    to=[f"akte+{number}@{DOMAIN}"])
    good_subject = f"Gut {uuid.uuid4().hex[:6]}"
    mail_stack.send(mail(good_subject, [("gut.pdf", text_pdf("Lieferschein 1"))]), to=[f"akte+{number}@{DOMAIN}"])
    good = mail_stack.wait_mail(by_subject(good_subject))
    assert good["status"] == "filed" and good["customer_number"] == number
    exe = mail_stack.wait_mail(by_subject(exe_subject))
    assert exe["status"] == "quarantined" and exe["code"] == DANGEROUS_ATTACHMENT and "setup.exe" in exe["reason"]
    broken = mail_stack.wait_mail(lambda r: r["sender"] == broken_sender)
    assert broken["status"] == "quarantined" and broken["code"] == MALFORMED
    assert len(mail_stack.wait_documents(number, 2)) == 2  # only the good mail and its attachment


def test_quarantine_through_the_cli(mail_stack: MailStack) -> None:
    number = customer(mail_stack)
    keep_subject, drop_subject = f"Freigeben {uuid.uuid4().hex[:6]}", f"Löschen {uuid.uuid4().hex[:6]}"
    for subject in (keep_subject, drop_subject):
        mail_stack.send(mail(subject, [("brief.pdf", text_pdf(f"Brief {subject}")), ("tool.exe", EXE)]),
                        to=[f"akte+{number}@{DOMAIN}"])
    keep = mail_stack.wait_mail(by_subject(keep_subject))
    drop = mail_stack.wait_mail(by_subject(drop_subject))
    listed = dms_cli(mail_stack, "quarantine", "list")
    assert listed.returncode == 0, listed.stderr
    assert keep["id"] in listed.stdout and drop["id"] in listed.stdout and "dangerous_attachment" in listed.stdout

    released = dms_cli(mail_stack, "quarantine", "release", keep["id"], "--reason", "Absender bestätigt")
    assert released.returncode == 0, released.stderr + released.stdout
    assert "Freigegeben" in released.stdout
    record = mail_stack.api.get(f"/mail/messages/{keep['id']}").json()
    assert record["status"] == "filed" and record["customer_number"] == number
    mail_doc = mail_stack.api.wait(record["mail_document_id"])
    assert mail_doc["customer_number"] == number and mail_doc["folder"] == "02 Korrespondenz"
    # the .exe stays unfiled, named with the reason on the mail document
    assert any(s.startswith("tool.exe") for s in mail_doc["fields"]["mail_skipped"]), mail_doc["fields"]

    refused = dms_cli(mail_stack, "quarantine", "delete", drop["id"])
    assert refused.returncode != 0  # a reason is required
    deleted = dms_cli(mail_stack, "quarantine", "delete", drop["id"], "--reason", "Schadsoftware")
    assert deleted.returncode == 0, deleted.stderr
    assert mail_stack.api.get(f"/mail/messages/{drop['id']}").json()["status"] == "deleted"
    listed = dms_cli(mail_stack, "quarantine", "list")
    assert keep["id"] not in listed.stdout and drop["id"] not in listed.stdout
    history = dms_cli(mail_stack, "messages", "--customer", number)
    assert keep["id"] in history.stdout and "filed" in history.stdout


def test_quarantine_through_the_api(mail_stack: MailStack) -> None:
    number = customer(mail_stack)
    keep_subject, drop_subject = f"API frei {uuid.uuid4().hex[:6]}", f"API weg {uuid.uuid4().hex[:6]}"
    for subject in (keep_subject, drop_subject):
        mail_stack.send(mail(subject, [("skript.vbs", b'MsgBox "hallo"\r\n')]), to=[f"akte+{number}@{DOMAIN}"])
    keep = mail_stack.wait_mail(by_subject(keep_subject))
    drop = mail_stack.wait_mail(by_subject(drop_subject))
    api = mail_stack.api
    listed = api.get("/mail/quarantine", params={"limit": 200}).json()
    ids = [r["id"] for r in (listed["messages"] if isinstance(listed, dict) else listed)]
    assert keep["id"] in ids and drop["id"] in ids
    raw = api.get(f"/mail/quarantine/{keep['id']}/raw")
    assert raw.status_code == 200 and raw.headers["Content-Type"].startswith("message/rfc822")
    assert keep_subject.encode() in raw.content

    released = api.post(f"/mail/quarantine/{keep['id']}/release", params={"reason": "geprüft"})
    assert released.status_code == 200, released.text
    outcome = released.json()
    assert outcome["status"] == "filed" and outcome["parts"] == []
    mail_doc = api.wait(outcome["mail_document_id"])
    assert mail_doc["customer_number"] == number
    assert api.post(f"/mail/quarantine/{keep['id']}/release").status_code == 409  # not in the quarantine any more

    gone = api.http.delete(f"{api.base}/mail/quarantine/{drop['id']}", params={"reason": "Spam"}, timeout=60)
    assert gone.status_code == 200, gone.text
    assert gone.json()["status"] == "deleted"
    assert api.get(f"/mail/quarantine/{drop['id']}/raw").status_code in (404, 409)
