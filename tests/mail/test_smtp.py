"""The SMTP side of `dms mail-gateway`, through real SMTP (smtplib and raw sockets) against the
running gateway process: envelope refusals, size limit, hostile sessions, SIGKILL after `250`,
STARTTLS and SMTP AUTH. Results are read back through the HTTP API and `dms check`."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import smtplib
import socket
import ssl
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.docgen import make_pdf
from tests.mail.conftest import MailStack, as_bytes, build_mail, make_mail_stack

LIMITS = """
[mail]
allowed_senders = ["buero.example", "chef@partner.example"]
max_message_mb = 0.2
"""


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def pdf_mail(subject: str, to: str, sender: str = "Scanner <scanner@buero.example>") -> bytes:
    pdf = make_pdf([f"Schreiben zum Vorgang {subject}", "Mit freundlichen Grüßen"])
    return as_bytes(build_mail(subject=subject, to=to, sender=sender,
                               attachments=[("brief.pdf", pdf, "application/pdf")]))


def filed(stack: MailStack, subject: str, timeout: float = 180) -> dict:
    return stack.wait_mail(lambda m: m.get("subject") == subject and m.get("status") == "filed", timeout)


class RawClient:
    """A deliberately misbehaving SMTP client on a plain socket."""

    def __init__(self, stack: MailStack) -> None:
        self.sock = socket.create_connection((stack.gateway.host, stack.gateway.port), timeout=30)
        self.file = self.sock.makefile("rb")
        self.greeting = self.reply()

    def reply(self) -> tuple[int, str]:
        lines = []
        while True:
            line = self.file.readline(100_000)
            if not line:
                raise ConnectionError("connection closed")
            lines.append(line.decode("utf-8", "replace").rstrip("\r\n"))
            if line[3:4] != b"-":
                return int(line[:3]), "\n".join(lines)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def cmd(self, line: bytes) -> tuple[int, str]:
        self.send(line + b"\r\n")
        return self.reply()

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailStack]:
    """Allowed senders and a 0.2 MB size limit."""
    stack = make_mail_stack(tmp_path_factory.mktemp("smtp"), config_toml=LIMITS)
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def customer(stack: MailStack) -> dict:
    return stack.api.create_customer("Mailkunde SMTP GmbH")


def test_sender_not_on_the_list_is_refused_with_550_5_7_1(stack: MailStack, customer: dict) -> None:
    to = f"akte+{customer['number']}@kanzlei.example"
    for sender in ("spam@evil.example", "kollege@partner.example", "scanner@buero.example.evil.example"):
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            stack.send(pdf_mail(unique("Fremd"), to), to=[to], mail_from=sender)
        assert refused.value.smtp_code == 550
        assert refused.value.smtp_error.startswith(b"5.7.1"), refused.value.smtp_error
    with stack.smtp() as client:  # the list: a domain (and its subdomains) or one address
        client.ehlo()
        for allowed in ("scanner@buero.example", "copier@scan.buero.example", "chef@partner.example"):
            assert client.mail(allowed)[0] == 250
            client.rset()


def test_unknown_recipient_is_refused_with_550_5_1_1(stack: MailStack, customer: dict) -> None:
    with stack.smtp() as client:
        client.ehlo()
        assert client.mail("scanner@buero.example")[0] == 250
        for unknown in ("info@kanzlei.example", "aktex@kanzlei.example", "akte-10001@kanzlei.example"):
            code, message = client.rcpt(unknown)
            assert (code, message[:5]) == (550, b"5.1.1"), (unknown, code, message)
        for broken in ("akte", "@kanzlei.example"):
            assert client.rcpt(broken)[0] >= 500, broken
        for known in (f"akte+{customer['number']}@kanzlei.example", "akte@kanzlei.example",
                      "posteingang@kanzlei.example", f"AKTE+{customer['number']}+rechnung@Kanzlei.Example"):
            assert client.rcpt(known)[0] == 250, known


def test_oversize_mail_is_refused_with_552_5_3_4(stack: MailStack, customer: dict) -> None:
    to = f"akte+{customer['number']}@kanzlei.example"
    big = build_mail(subject=unique("Zu groß"), to=to, attachments=[("gross.bin", b"\x01" * 300_000,
                                                                       "application/octet-stream")])
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:  # declared with SIZE= in MAIL FROM
        stack.send(big, to=[to])
    assert refused.value.smtp_code == 552
    assert refused.value.smtp_error.startswith(b"5.3.4")
    # a client that does not declare the size gets 552 after the data, and the session goes on
    client = RawClient(stack)
    try:
        assert client.cmd(b"EHLO raw.test")[0] == 250
        assert client.cmd(b"MAIL FROM:<scanner@buero.example>")[0] == 250
        assert client.cmd(f"RCPT TO:<{to}>".encode())[0] == 250
        assert client.cmd(b"DATA")[0] == 354
        client.send(b"Subject: gross\r\n\r\n" + (b"x" * 998 + b"\r\n") * 300 + b".\r\n")
        code, text = client.reply()
        assert code == 552 and text.startswith("552 5.3.4"), text
        assert client.cmd(b"RSET")[0] == 250
        assert client.cmd(b"NOOP")[0] == 250
    finally:
        client.close()


def test_hostile_sessions_do_not_stop_the_gateway(stack: MailStack, customer: dict) -> None:
    to = f"akte+{customer['number']}@kanzlei.example"
    aborted = unique("Abgebrochen")
    # binary junk and an absurdly long command line
    client = RawClient(stack)
    try:
        assert client.cmd(b"\x00\xff\xfe garbage \x1b[31m")[0] >= 500
        client.send(b"EHLO " + b"A" * 3_000_000 + b"\r\n")
        assert client.reply()[0] >= 500
        assert client.cmd(b"MAIL FROM:<" + b"a" * 5000 + b"@buero.example>")[0] >= 500
        assert client.cmd(b"NOOP")[0] == 250
    finally:
        client.close()
    # a client that disconnects in the middle of DATA: nothing is accepted, nothing filed
    client = RawClient(stack)
    assert client.cmd(b"EHLO raw.test")[0] == 250
    assert client.cmd(b"MAIL FROM:<scanner@buero.example>")[0] == 250
    assert client.cmd(f"RCPT TO:<{to}>".encode())[0] == 250
    assert client.cmd(b"DATA")[0] == 354
    client.send(f"Subject: {aborted}\r\nFrom: scanner@buero.example\r\n\r\nHalb".encode())
    client.close()
    # a header line far beyond the line limit inside DATA (no CRLF for 3 MB) → refused, session ok
    client = RawClient(stack)
    try:
        assert client.cmd(b"EHLO raw.test")[0] == 250
        assert client.cmd(b"MAIL FROM:<scanner@buero.example>")[0] == 250
        assert client.cmd(f"RCPT TO:<{to}>".encode())[0] == 250
        assert client.cmd(b"DATA")[0] == 354
        client.send(b"X-Long: " + b"y" * 3_000_000 + b"\r\n\r\nbody\r\n.\r\n")
        assert client.reply()[0] in (500, 552)
        assert client.cmd(b"RSET")[0] == 250
    finally:
        client.close()
    # the gateway answers the next client and files its mail
    good = unique("Nach dem Müll")
    stack.send(pdf_mail(good, to), to=[to])
    record = filed(stack, good)
    assert record["customer_number"] == customer["number"]
    assert not [m for m in stack.mail_messages() if m.get("subject") == aborted]


def test_sigkill_right_after_250_files_each_mail_exactly_once(stack: MailStack) -> None:
    customer = stack.api.create_customer("Absturzkunde GmbH")
    to = f"akte+{customer['number']}@kanzlei.example"
    subjects = [unique(f"Vor dem Absturz {i}") for i in range(3)]
    with stack.smtp() as client:
        for subject in subjects:
            assert client.sendmail("scanner@buero.example", [to], pdf_mail(subject, to)) == {}
    stack.gateway.kill()  # right after the last 250: nothing had time to be filed cleanly
    stack.gateway.start()
    for subject in subjects:
        filed(stack, subject)
    docs = stack.wait_documents(customer["number"], 6)
    assert len(docs) == 6, [(d["title"], d["source"]) for d in docs]  # 3 mails + 3 attachments, once each
    assert all(d["source"] == "email" for d in docs)
    records = [m for m in stack.mail_messages(customer=customer["number"]) if m["subject"] in subjects]
    assert sorted(m["subject"] for m in records) == sorted(subjects)
    # nothing is left in the spool
    assert "(0 wartend)" in stack.cli("check", check=False).stdout


def test_sigterm_stops_gracefully_and_the_mail_is_filed_after_the_restart(stack: MailStack) -> None:
    customer = stack.api.create_customer("Feierabend GmbH")
    to = f"akte+{customer['number']}@kanzlei.example"
    subject = unique("Vor dem Beenden")
    stack.send(pdf_mail(subject, to), to=[to])
    assert stack.gateway.stop() == 0  # SIGTERM: finishes the mail it is filing, then exits cleanly
    assert "Mail-Gateway beendet" in stack.gateway.log()
    stack.gateway.start()
    filed(stack, subject)
    assert len(stack.wait_documents(customer["number"], 2)) == 2


def test_dms_check_warns_about_an_open_gateway_without_sender_list(tmp_path: Path) -> None:
    config = tmp_path / "open.toml"
    config.write_text('[mail]\nhost = "0.0.0.0"\n', encoding="utf-8")
    env = {**os.environ, "DMS_DATA_DIR": str(tmp_path / "data"), "DMS_CONFIG": str(config)}
    run = subprocess.run([sys.executable, "-m", "dms.cli", "check"], env=env, capture_output=True, text=True,
                         timeout=120)
    (line,) = [x for x in run.stdout.splitlines() if x.startswith("mail ")]
    assert "0.0.0.0:2525" in line and "WARNUNG" in line and "allowed_senders" in line, line
    config.write_text('[mail]\nhost = "0.0.0.0"\nallowed_senders = ["buero.example"]\n', encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "dms.cli", "check"], env=env, capture_output=True, text=True,
                         timeout=120)
    (line,) = [x for x in run.stdout.splitlines() if x.startswith("mail ")]
    assert "WARNUNG" not in line and line.endswith("ok"), line


# --- disallowed senders quarantined instead -----------------------------------------------------


def test_disallowed_sender_is_quarantined_when_configured(tmp_path: Path) -> None:
    stack = make_mail_stack(tmp_path, config_toml="""
[mail]
allowed_senders = ["buero.example"]
disallowed_sender_action = "quarantine"
""")
    try:
        subject = unique("Von draußen")
        stack.send(pdf_mail(subject, "akte@kanzlei.example", sender="spam@evil.example"),
                   to=["akte@kanzlei.example"], mail_from="spam@evil.example")
        record = stack.wait_mail(lambda m: m.get("subject") == subject and m.get("status") == "quarantined")
        assert record["code"] == "sender_not_allowed"
        assert stack.documents() == []
    finally:
        stack.stop()


# --- STARTTLS and SMTP AUTH ----------------------------------------------------------------------


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1/localhost and its key, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "gateway.crt", directory / "gateway.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture(scope="module")
def tls_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MailStack, Path]]:
    base = tmp_path_factory.mktemp("smtp-tls")
    cert, key = self_signed(base)
    stack = make_mail_stack(base, config_toml=f"""
[mail]
tls_cert = "{cert}"
tls_key = "{key}"
require_tls = true
auth_required = true
auth_require_tls = true
""")
    try:
        stack.cli("users", "add", "kopierer", "--role", "clerk")
        stack.cli("users", "passwd", "kopierer", input="Kopierer-Passwort-2026\n")
        stack.cli("users", "add", "pruefer", "--role", "auditor")
        stack.cli("users", "passwd", "pruefer", input="Pruefer-Passwort-2026\n")
        yield stack, cert
    finally:
        stack.stop()


def tls_client(stack: MailStack, cert: Path) -> smtplib.SMTP:
    client = stack.smtp()
    client.ehlo("kopierer.buero.example")
    client.starttls(context=ssl.create_default_context(cafile=str(cert)))
    client.ehlo("kopierer.buero.example")
    return client


def test_tls_and_auth_required_refuse_mail_without_them(tls_stack: tuple[MailStack, Path]) -> None:
    stack, cert = tls_stack
    with stack.smtp() as client:  # require_tls: nothing but EHLO/STARTTLS/QUIT before STARTTLS
        client.ehlo()
        assert "starttls" in client.esmtp_features
        assert "auth" not in client.esmtp_features  # no credentials over a plain connection
        code, message = client.mail("scanner@buero.example")
        assert (code, message[:5]) == (530, b"5.7.0")
        assert client.docmd("AUTH", "PLAIN AGtvcGllcmVyAHg=")[0] == 530
    with tls_client(stack, cert) as client:  # auth_required: encrypted, but not logged in
        code, message = client.mail("scanner@buero.example")
        assert (code, message[:5]) == (530, b"5.7.0"), message
        assert client.rcpt("akte@kanzlei.example")[0] == 530


def test_starttls_and_auth_with_a_user_password(tls_stack: tuple[MailStack, Path]) -> None:
    stack, cert = tls_stack
    customer = stack.api.create_customer("TLS-Kunde GmbH")
    to = f"akte+{customer['number']}@kanzlei.example"
    subject = unique("Über TLS")
    with tls_client(stack, cert) as client:
        assert "auth" in client.esmtp_features
        assert client.login("kopierer", "Kopierer-Passwort-2026")[0] == 235
        assert client.sendmail("scanner@buero.example", [to], pdf_mail(subject, to)) == {}
    record = filed(stack, subject)
    assert record["customer_number"] == customer["number"]
    assert record["envelope"]["auth_user"] == "kopierer"
    assert record["envelope"]["tls"] is True


def test_wrong_password_or_missing_permission_gets_535(tls_stack: tuple[MailStack, Path]) -> None:
    stack, cert = tls_stack
    for user, password in (("kopierer", "falsch-falsch-falsch"), ("niemand", "Kopierer-Passwort-2026"),
                           ("pruefer", "Pruefer-Passwort-2026")):  # an auditor may not file documents
        with tls_client(stack, cert) as client, pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.login(user, password)
        assert refused.value.smtp_code == 535, user


def test_api_token_as_password(tls_stack: tuple[MailStack, Path]) -> None:
    stack, cert = tls_stack
    writer = stack.cli("tokens", "create", "--name", "scanner-2og", "--scope", "documents:write").stdout.strip()
    reader = stack.cli("tokens", "create", "--name", "nur-lesen", "--scope", "documents:read").stdout.strip()
    with tls_client(stack, cert) as client, pytest.raises(smtplib.SMTPAuthenticationError):
        client.login("scanner", reader)
    subject = unique("Mit Token")
    with tls_client(stack, cert) as client:
        assert client.login("scanner", writer)[0] == 235
        client.sendmail("scanner@buero.example", ["posteingang@kanzlei.example"],
                        pdf_mail(subject, "posteingang@kanzlei.example"))
    record = stack.wait_mail(lambda m: m.get("subject") == subject and m.get("status") in ("filed", "quarantined"))
    assert record["envelope"]["auth_user"] == "token:scanner-2og"
