"""Receipts (`[mail] receipt = true`): the sender gets a German reply through the relay, here a
local aiosmtpd sink that collects what it is sent. Mail goes in through smtplib to a running
gateway; the processor files in arrival order and sends a receipt right after filing, so once a
later mail's receipt arrived, an earlier mail that must not be answered was handled too."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.utils import make_msgid
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.live import free_port
from tests.mail.conftest import MailStack, make_mail_stack

DOMAIN = "akte.example"
EXE = b"MZ\x90\x00" + b"\x00" * 56 + b"\x40\x00\x00\x00PE\x00\x00" + b"\x00" * 300


class Sink:
    """The relay: an aiosmtpd server keeping every message (envelope sender, recipients, parsed)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], Message]] = []
        self.lock = threading.Lock()
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port())

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook
        parsed = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        with self.lock:
            self.received.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 OK"

    def wait_for(self, predicate: Callable[[Message], bool], timeout: float = 120) -> tuple[str, list[str], Message]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for item in self.received:
                    if predicate(item[2]):
                        return item
            time.sleep(0.1)
        raise AssertionError(f"no matching receipt; received: {[m['Subject'] for _, _, m in self.received]}")

    def replies_to(self, message_id: str) -> list[Message]:
        with self.lock:
            return [m for _, _, m in self.received if m["In-Reply-To"] == message_id]


@pytest.fixture(scope="module")
def sink() -> Iterator[Sink]:
    sink = Sink()
    sink.controller.start()
    try:
        yield sink
    finally:
        sink.controller.stop()


@pytest.fixture(scope="module")
def stack(sink: Sink, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailStack]:
    config = (f'[mail]\nreceipt = true\n\n[mail.relay]\nhost = "127.0.0.1"\nport = {sink.controller.port}\n'
              'from_address = "kundenakte@akte.example"\n')
    started = make_mail_stack(tmp_path_factory.mktemp("receipt"), config_toml=config)
    try:
        yield started
    finally:
        started.stop()


def mail(subject: str, attachments: list[tuple[str, bytes]] | None = None, **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Scanner <scanner@buero.example>"
    msg["To"] = f"posteingang@{DOMAIN}"
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="buero.example")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("Anbei.")
    for name, data in attachments or []:
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return msg


def pdf(text: str) -> bytes:
    from tests.docgen import make_pdf

    return make_pdf([text])


def replied(message: EmailMessage) -> Callable[[Message], bool]:
    return lambda reply: reply["In-Reply-To"] == message["Message-ID"]


def test_receipt_names_customer_and_folder(stack: MailStack, sink: Sink) -> None:
    customer = stack.api.create_customer("Quittung Bau GmbH")
    number = customer["number"]
    msg = mail(f"Rechnungen {uuid.uuid4().hex[:6]}", [("re.pdf", pdf("Rechnung 1"))])
    stack.send(msg, to=[f"akte+{number}+rechnung@{DOMAIN}"])
    envelope_from, rcpt, reply = sink.wait_for(replied(msg))
    assert envelope_from in ("", "<>") and rcpt == ["scanner@buero.example"]  # null return path (RFC 3834)
    assert reply["Auto-Submitted"] == "auto-replied"
    assert msg["Message-ID"] in reply["References"]
    assert reply["From"] == "kundenakte@akte.example"
    assert reply["Subject"] == f"Abgelegt: {msg['Subject']}"
    body = reply.get_content()
    assert f"Kunde {number} (Quittung Bau GmbH)" in body
    assert "re.pdf" in body and "04 Rechnungen" in body and "02 Korrespondenz" in body


def test_receipt_for_the_posteingang_gives_the_reason(stack: MailStack, sink: Sink) -> None:
    msg = mail(f"Unklar {uuid.uuid4().hex[:6]}", [("x.pdf", pdf("Eine Notiz"))])
    stack.send(msg, to=[f"akte+4711@{DOMAIN}"])
    _, _, reply = sink.wait_for(replied(msg))
    body = reply.get_content()
    assert "99 Posteingang" in body and "Kundennummer 4711 aus der Adresse ist unbekannt." in body


def test_receipt_for_a_quarantined_mail(stack: MailStack, sink: Sink) -> None:
    msg = mail(f"Programm {uuid.uuid4().hex[:6]}", [("setup.exe", EXE)])
    stack.send(msg, to=[f"posteingang@{DOMAIN}"])
    _, _, reply = sink.wait_for(replied(msg))
    assert reply["Subject"].startswith("Nicht abgelegt")
    assert "setup.exe" in reply.get_content() and "zurückgehalten" in reply.get_content()


def test_no_receipt_for_automatic_mail_or_an_empty_return_path(stack: MailStack, sink: Sink) -> None:
    auto = mail(f"Abwesend {uuid.uuid4().hex[:6]}", Auto_Submitted="auto-replied")
    bulk = mail(f"Newsletter {uuid.uuid4().hex[:6]}", Precedence="bulk")
    listed = mail(f"Liste {uuid.uuid4().hex[:6]}", List_Id="<info.buero.example>")
    bounce = mail(f"Unzustellbar {uuid.uuid4().hex[:6]}")
    for msg in (auto, bulk, listed):
        stack.send(msg, to=[f"posteingang@{DOMAIN}"])
    stack.send(bounce, to=[f"posteingang@{DOMAIN}"], mail_from="")
    last = mail(f"Danach {uuid.uuid4().hex[:6]}")
    stack.send(last, to=[f"posteingang@{DOMAIN}"])
    sink.wait_for(replied(last))  # filed after the others: they were handled before
    for msg in (auto, bulk, listed, bounce):
        assert sink.replies_to(msg["Message-ID"]) == [], msg["Subject"]
        record = stack.wait_mail(lambda r, s=msg["Subject"]: r["subject"] == s)
        assert record["status"] == "filed"


def test_relay_down_does_not_fail_the_filing(tmp_path_factory: pytest.TempPathFactory) -> None:
    config = f'[mail]\nreceipt = true\n\n[mail.relay]\nhost = "127.0.0.1"\nport = {free_port()}\n'
    down = make_mail_stack(tmp_path_factory.mktemp("relay-down"), config_toml=config)
    try:
        subject = f"Ohne Relay {uuid.uuid4().hex[:6]}"
        down.send(mail(subject, [("a.pdf", pdf("Brief"))]), to=[f"posteingang@{DOMAIN}"])
        record = down.wait_mail(lambda r: r["subject"] == subject and r["status"] != "filing")
        assert record["status"] == "filed"
        after = f"Danach {uuid.uuid4().hex[:6]}"  # filed after the first one's receipt was tried
        down.send(mail(after), to=[f"posteingang@{DOMAIN}"])
        assert down.wait_mail(lambda r: r["subject"] == after and r["status"] != "filing")["status"] == "filed"
        assert f"receipt for mail {record['id']} not sent" in down.gateway.log(tail=100_000)
    finally:
        down.stop()
