"""SPF/DKIM/DMARC of incoming mail against a real DNS server on loopback (dnslib), with a DKIM
key made in the test: through the running gateway (`sender_auth = "record"` and `"enforce"`),
and the verdict function itself for the DNS failure cases."""

from __future__ import annotations

import base64
import dataclasses
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from dnslib import QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from dms.config import Settings
from mail_gateway import sender_auth
from mail_gateway.model import Envelope
from mail_gateway.settings import MailSettings
from tests.docgen import make_pdf
from tests.live import free_port
from tests.mail.conftest import MailStack, as_bytes, build_mail, make_mail_stack

DOMAIN = "kanzlei.example"  # signs with DKIM, SPF allows 127.0.0.1, DMARC p=reject
FOREIGN = "fremd.example"  # SPF -all


class Zone(BaseResolver):
    """Answers TXT queries from a dict; every other name is NXDOMAIN."""

    def __init__(self, records: dict[str, list[str]]) -> None:
        self.records = records

    def resolve(self, request, handler):  # noqa: ANN001, ANN201 - dnslib's interface
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        if name not in self.records:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype == QTYPE.TXT:
            for text in self.records[name]:
                chunks = [text[i:i + 250] for i in range(0, len(text), 250)]  # 255 bytes per string
                reply.add_answer(RR(name, QTYPE.TXT, rdata=TXT(chunks), ttl=60))
        return reply


@dataclasses.dataclass
class Dns:
    port: int
    private_key: bytes  # PEM of the DKIM key of DOMAIN, selector "scan1"

    @property
    def server(self) -> str:
        return f"127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def dns() -> Iterator[Dns]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    public = base64.b64encode(key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
    records = {
        f"scan1._domainkey.{DOMAIN}": [f"v=DKIM1; k=rsa; p={public}"],
        DOMAIN: ["v=spf1 ip4:127.0.0.1 -all"],
        f"_dmarc.{DOMAIN}": ["v=DMARC1; p=reject; adkim=r; aspf=r"],
        FOREIGN: ["v=spf1 -all"],
    }
    port = free_port()
    quiet = DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data", prefix=False)
    servers = [DNSServer(Zone(records), address="127.0.0.1", port=port, tcp=tcp, logger=quiet) for tcp in (False, True)]
    for server in servers:
        server.start_thread()
    try:
        yield Dns(port, pem)
    finally:
        for server in servers:
            server.stop()


def signed_mail(dns: Dns, subject: str, to: str) -> bytes:
    msg = build_mail(subject=subject, to=to, sender=f"Anna Berg <anna@{DOMAIN}>",
                     attachments=[("vollmacht.pdf", make_pdf([f"Vollmacht {subject}"]), "application/pdf")])
    raw = as_bytes(msg)
    signature = dkim.sign(raw, b"scan1", DOMAIN.encode(), dns.private_key,
                          include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
    return signature + raw


def config(dns: Dns, mode: str) -> str:
    return f'[mail]\nsender_auth = "{mode}"\ndns_servers = ["{dns.server}"]\n'


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def record_stack(dns: Dns, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailStack]:
    stack = make_mail_stack(tmp_path_factory.mktemp("auth-record"), config_toml=config(dns, "record"))
    try:
        yield stack
    finally:
        stack.stop()


def final(stack: MailStack, subject: str) -> dict:
    return stack.wait_mail(lambda m: m.get("subject") == subject and m.get("status") in ("filed", "quarantined"))


def test_signed_mail_passes_dkim_and_dmarc_and_the_verdict_is_recorded(record_stack: MailStack, dns: Dns) -> None:
    customer = record_stack.api.create_customer("Signiert GmbH")
    to = f"akte+{customer['number']}@akte.example"
    subject = unique("Signiert")
    record_stack.send(signed_mail(dns, subject, to), to=[to], mail_from=f"anna@{DOMAIN}")
    record = final(record_stack, subject)
    assert record["status"] == "filed"
    verdict = record["sender_auth"]
    assert (verdict["spf"], verdict["dkim"], verdict["dmarc"]) == ("pass", "pass", "pass"), verdict
    assert verdict["policy"] == "reject" and verdict["from_domain"] == DOMAIN
    # and on the documents
    document = record_stack.api.get(f"/documents/{record['mail_document_id']}").json()
    assert document["fields"].get("sender_auth_dmarc") == "pass", document["fields"]


def test_tampered_body_fails_dkim_but_is_filed_in_record_mode(record_stack: MailStack, dns: Dns) -> None:
    customer = record_stack.api.create_customer("Verändert GmbH")
    to = f"akte+{customer['number']}@akte.example"
    subject = unique("Verändert")
    raw = signed_mail(dns, subject, to).replace(b"Siehe Anhang.", b"Siehe Anhang!")
    record_stack.send(raw, to=[to], mail_from=f"bounce@{FOREIGN}")  # SPF fails too: nothing aligns
    record = final(record_stack, subject)
    assert record["status"] == "filed"
    verdict = record["sender_auth"]
    assert (verdict["spf"], verdict["dkim"], verdict["dmarc"]) == ("fail", "fail", "fail"), verdict


def test_enforce_quarantines_a_mail_that_fails_dmarc(dns: Dns, tmp_path: Path) -> None:
    stack = make_mail_stack(tmp_path, config_toml=config(dns, "enforce"))
    try:
        customer = stack.api.create_customer("Streng GmbH")
        to = f"akte+{customer['number']}@akte.example"
        forged, genuine = unique("Gefälscht"), unique("Echt")
        unsigned = as_bytes(build_mail(subject=forged, to=to, sender=f"Chefin <chefin@{DOMAIN}>",
                                       attachments=[("zahlung.pdf", make_pdf(["Bitte sofort zahlen"]),
                                                     "application/pdf")]))
        stack.send(unsigned, to=[to], mail_from=f"chefin@{FOREIGN}")
        stack.send(signed_mail(dns, genuine, to), to=[to], mail_from=f"anna@{DOMAIN}")
        bad, good = final(stack, forged), final(stack, genuine)
        assert (bad["status"], bad["code"]) == ("quarantined", "sender_auth_failed"), bad
        assert bad["sender_auth"]["dmarc"] == "fail"
        assert good["status"] == "filed"
        titles = [d["title"] for d in stack.wait_documents(customer["number"], 2)]
        assert not [t for t in titles if "zahlung" in t.lower() or forged in t], titles
    finally:
        stack.stop()


# --- the verdict function on DNS trouble and alignment (no gateway needed) ------------------------


def mail_settings(tmp_path: Path, **changes: object) -> MailSettings:
    base = MailSettings.from_settings(Settings.from_env({"DMS_DATA_DIR": str(tmp_path)}))
    return dataclasses.replace(base, **changes)


def envelope(mail_from: str) -> Envelope:
    return Envelope(mail_from, ("akte@akte.example",), datetime.now(UTC), "smtp", peer="127.0.0.1", helo="mx.test")


def test_unreachable_dns_gives_temperror_not_an_exception(dns: Dns, tmp_path: Path) -> None:
    dead = free_port()  # nothing listens there
    mail = mail_settings(tmp_path, dns_servers=(f"127.0.0.1:{dead}",), sender_auth="enforce")
    verdict = sender_auth.check(signed_mail(dns, "x", "akte@akte.example"), envelope(f"anna@{DOMAIN}"), mail)
    assert (verdict["spf"], verdict["dkim"], verdict["dmarc"]) == ("temperror", "temperror", "temperror"), verdict
    assert sender_auth.enforcement_reason(verdict, mail) is None  # not a failure: nothing to enforce


def test_dmarc_alignment_and_missing_records(dns: Dns, tmp_path: Path) -> None:
    mail = mail_settings(tmp_path, dns_servers=(dns.server,), sender_auth="enforce")
    # unsigned, but SPF passes for the From domain itself → aligned → pass
    plain = as_bytes(build_mail(subject="x", to="akte@akte.example", sender=f"anna@{DOMAIN}"))
    assert sender_auth.check(plain, envelope(f"anna@{DOMAIN}"), mail)["dmarc"] == "pass"
    # a subdomain in MAIL FROM is aligned in relaxed mode, but it has no SPF record of its own
    assert sender_auth.check(plain, envelope(f"bounce@news.{DOMAIN}"), mail)["spf"] == "none"
    # no DMARC record for the From domain → none, never enforced
    foreign = as_bytes(build_mail(subject="x", to="akte@akte.example", sender=f"info@{FOREIGN}"))
    verdict = sender_auth.check(foreign, envelope(f"info@{FOREIGN}"), mail)
    assert (verdict["spf"], verdict["dmarc"]) == ("fail", "none")
    assert sender_auth.enforcement_reason(verdict, mail) is None
    assert sender_auth.aligned(f"mail.{DOMAIN}", DOMAIN, "r") and not sender_auth.aligned(f"mail.{DOMAIN}", DOMAIN, "s")
