"""`dms mail-poll` and the periodic poll of `dms worker --beat` against a real dovecot on loopback.

Mail is put into the mailbox with IMAP APPEND, the poller runs as a subprocess (`dms mail-poll`
with a TOML config and the password/token in the environment), and the results are read back
through the HTTP API of a `dms serve` on the same data and over IMAP (inbox, processed, failed).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from mail_gateway.imap_client import encode_mailbox
from tests.docgen import make_pdf
from tests.live import TERMINAL, Api, LiveServer, Worker
from tests.servers import DovecotServer, make_base_dir

PROCESSED = "Kundenakte/Geprüft"  # non-ASCII on purpose: modified UTF-7 + the server's "." delimiter
FAILED = "Kundenakte/Fehler"
PROCESSED_ON_SERVER = '"Kundenakte.Gepr&APw-ft"'
FAILED_ON_SERVER = '"Kundenakte.Fehler"'
_numbers = count(1)


# --- servers ----------------------------------------------------------------------------------


@pytest.fixture
def dovecot() -> Iterator[DovecotServer]:
    """A fresh dovecot per test (starts in well under a second): an empty mailbox every time."""
    base = make_base_dir("kundenakte-dovecot-")
    server = DovecotServer().start(base)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """`dms serve` on embedded defaults, one data folder per module (each test has its own customer)."""
    server = LiveServer(tmp_path_factory.mktemp("imap") / "data").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def api(serve: LiveServer) -> Api:
    return Api(serve.url)


# --- helpers ----------------------------------------------------------------------------------


def imap_config(server: DovecotServer, *, security: str = "none", auth: str = "password",
                ca_file: str = "", poll_seconds: float = 60) -> str:
    port = server.ssl_port if security == "ssl" else server.port
    return f"""
[mail.imap]
host = "127.0.0.1"
port = {port}
security = "{security}"
username = "{server.username}"
auth = "{auth}"
mailbox = "INBOX"
processed_folder = "{PROCESSED}"
failed_folder = "{FAILED}"
poll_seconds = {poll_seconds}
ca_file = "{ca_file}"
"""


def poll_env(serve: LiveServer, tmp_path: Path, config: str, **extra: str) -> dict[str, str]:
    path = tmp_path / f"imap-{next(_numbers)}.toml"
    path.write_text(config, encoding="utf-8")
    env = {**serve.env, "DMS_CONFIG": str(path), **extra}
    for name in ("DMS_MAIL_IMAP_PASSWORD", "DMS_MAIL_IMAP_TOKEN"):
        if name not in extra:
            env.pop(name, None)
    return env


def mail_poll(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dms.cli", "mail-poll", *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


def scan_mail(number: str, *, subject: str = "Scan", to: str | None = None, message_id: bool = True) -> EmailMessage:
    """A real mail from the office scanner with a PDF naming the customer number."""
    n = next(_numbers)
    msg = EmailMessage()
    msg["From"] = "Scanner Büro <scanner@buero.example>"
    msg["To"] = to or f"akte+{number}@akte.example"
    msg["Subject"] = f"{subject} {n}"
    msg["Date"] = format_datetime(datetime.now().astimezone())
    if message_id:
        msg["Message-ID"] = make_msgid(domain="buero.example")
    msg.set_content(f"Gescannt am Kopierer, Vorgang {n}.")
    pdf = make_pdf([f"Lieferschein {n}", f"Kundennummer {number}", f"Position {n} Schrauben"])
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=f"lieferschein-{n}.pdf")
    return msg


def append(server: DovecotServer, *messages: EmailMessage | bytes) -> None:
    client = server.imap()
    try:
        for msg in messages:
            raw = msg if isinstance(msg, bytes) else msg.as_bytes()
            typ, data = client.append("INBOX", None, None, raw)
            assert typ == "OK", data
    finally:
        client.logout()


def folder_count(server: DovecotServer, folder: str) -> int:
    client = server.imap()
    try:
        typ, data = client.select(folder, readonly=True)
        assert typ == "OK", (folder, data)
        return int(data[0])
    finally:
        client.logout()


def folder_subjects(server: DovecotServer, folder: str) -> list[str]:
    client = server.imap()
    try:
        typ, data = client.select(folder, readonly=True)
        assert typ == "OK", (folder, data)
        typ, data = client.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])") if int(data[0]) else ("OK", [])
        return [item[1].decode().split(":", 1)[1].strip() for item in data if isinstance(item, tuple)]
    finally:
        client.logout()


def mail_records(api: Api, **params: Any) -> list[dict[str, Any]]:
    response = api.get("/mail/messages", params={"limit": 200, **params})
    assert response.status_code == 200, response.text
    body = response.json()
    return body["messages"] if isinstance(body, dict) else body


def documents(api: Api, number: str) -> list[dict[str, Any]]:
    response = api.get("/documents", params={"customer": number, "limit": 1000})
    assert response.status_code == 200, response.text
    return response.json()["documents"]


def wait_documents(api: Api, number: str, expected: int, timeout: float = 300) -> list[dict[str, Any]]:
    """Until the customer has `expected` documents, all final (more than expected fails at once)."""
    deadline = time.monotonic() + timeout
    while True:
        docs = documents(api, number)
        assert len(docs) <= expected, [(d.get("title"), d["status"]) for d in docs]
        if len(docs) == expected and all(d["status"] in TERMINAL for d in docs):
            return docs
        if time.monotonic() > deadline:
            raise AssertionError(f"customer {number}: {[(d.get('title'), d['status']) for d in docs]}")
        time.sleep(0.3)


def wait_until(condition: Callable[[], bool], context: Callable[[], str], timeout: float = 300,
               interval: float = 0.3) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, context()[-6000:]
        time.sleep(interval)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr[-6000:]}"
    return result.stdout


# --- tests ------------------------------------------------------------------------------------


def test_mailbox_names_are_modified_utf7() -> None:
    assert encode_mailbox("INBOX") == '"INBOX"'
    assert encode_mailbox("Kundenakte.Geprüft") == '"Kundenakte.Gepr&APw-ft"'
    assert encode_mailbox("A & B") == '"A &- B"'
    assert encode_mailbox('Ä"') == '"&AMQ-\\""'


def test_polled_mail_is_filed_and_moved(dovecot: DovecotServer, serve: LiveServer, api: Api, tmp_path: Path) -> None:
    customer = api.create_customer("IMAP Testkunde GmbH")
    number = customer["number"]
    first = scan_mail(number, subject="Lieferschein")
    bad_ids = {f"exe-{time.time_ns()}@buero.example", f"inj-{time.time_ns()}@buero.example"}
    exe_id, inj_id = sorted(bad_ids)
    exe = (b"From: scanner@buero.example\r\nTo: akte+" + number.encode() + b"@akte.example\r\n"
           b"Subject: kaputt exe\r\nMessage-ID: <" + exe_id.encode() + b">\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XYZ\"\r\n\r\n"
           b"--XYZ\r\nContent-Type: application/octet-stream; name=\"setup.exe\"\r\n"
           b"Content-Disposition: attachment; filename=\"setup.exe\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           b"TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAgAAAAA4fug4AtAnNIbgBTM0h\r\n"
           b"--XYZ--\r\n")
    injected = (b"From: scanner@buero.example\r\nTo: akte+" + number.encode() + b"@akte.example\r\n"
                b"Subject: =?utf-8?q?kaputt_injiziert=0D=0ABcc:_boese@evil.example?=\r\n"
                b"Message-ID: <" + inj_id.encode() + b">\r\n\r\nText\r\n")
    append(dovecot, first, exe, first.as_bytes(), injected)  # `first` twice (same Message-ID): filed once
    env = poll_env(serve, tmp_path, imap_config(dovecot), DMS_MAIL_IMAP_PASSWORD=dovecot.password)

    out = ok(mail_poll(env, "--once"))
    assert "4 gelesen" in out and "1 abgelegt" in out and "1 Duplikate" in out and "2 in Quarantäne" in out, out

    assert folder_count(dovecot, "INBOX") == 0
    assert folder_count(dovecot, PROCESSED_ON_SERVER) == 2
    assert len(folder_subjects(dovecot, FAILED_ON_SERVER)) == 2
    docs = wait_documents(api, number, 2)  # the mail (.eml) and the PDF
    assert sorted(d["source"] for d in docs) == ["email", "email"]
    filed = [r for r in mail_records(api) if r["subject"] == first["Subject"]]
    assert len(filed) == 1 and filed[0]["status"] == "filed" and filed[0]["via"] == "imap", filed
    assert filed[0]["customer_number"] == number
    assert filed[0]["envelope"]["imap_ref"].startswith("INBOX:")
    quarantined = [r for r in mail_records(api, status="quarantined")
                   if (r["message_id"] or "").strip("<>") in bad_ids]
    assert sorted(r["code"] for r in quarantined) == ["dangerous_attachment", "header_injection"], quarantined

    # nothing left: a second run reads nothing and files nothing
    out = ok(mail_poll(env, "--once"))
    assert "0 gelesen" in out, out
    assert len(documents(api, number)) == 2


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_imaps_and_starttls(security: str, dovecot: DovecotServer, serve: LiveServer, api: Api,
                            tmp_path: Path) -> None:
    number = api.create_customer(f"TLS {security} GmbH")["number"]
    append(dovecot, scan_mail(number))
    # the certificate is self-signed: without it as CA file the poller refuses the server
    untrusted = poll_env(serve, tmp_path, imap_config(dovecot, security=security),
                         DMS_MAIL_IMAP_PASSWORD=dovecot.password)
    result = mail_poll(untrusted, "--once")
    assert result.returncode == 1 and "CERTIFICATE_VERIFY_FAILED" in result.stderr, result.stderr
    assert folder_count(dovecot, "INBOX") == 1

    trusted = poll_env(serve, tmp_path, imap_config(dovecot, security=security, ca_file=str(dovecot.cert_path)),
                       DMS_MAIL_IMAP_PASSWORD=dovecot.password)
    assert "1 abgelegt" in ok(mail_poll(trusted, "--once"))
    assert folder_count(dovecot, "INBOX") == 0
    assert folder_count(dovecot, PROCESSED_ON_SERVER) == 1
    wait_documents(api, number, 2)
    assert "method=PLAIN" in dovecot.log_path.read_text() and ", TLS," in dovecot.log_path.read_text()


def test_xoauth2_bearer_token(dovecot: DovecotServer, serve: LiveServer, api: Api, tmp_path: Path) -> None:
    """Dovecot's oauth2 passdb checks the token at a real introspection endpoint (RFC 7662)."""
    number = api.create_customer("OAuth Kunde AG")["number"]
    append(dovecot, scan_mail(number))
    config = imap_config(dovecot, security="starttls", auth="xoauth2", ca_file=str(dovecot.cert_path))
    assert dovecot.introspection is not None and dovecot.token
    asked = dovecot.introspection.requests

    wrong = mail_poll(poll_env(serve, tmp_path, config, DMS_MAIL_IMAP_TOKEN="not-the-token"), "--once")
    assert wrong.returncode == 1 and "Anmeldung" in wrong.stderr, wrong.stderr
    assert dovecot.introspection.requests == asked + 1
    assert folder_count(dovecot, "INBOX") == 1

    env = poll_env(serve, tmp_path, config, DMS_MAIL_IMAP_TOKEN=dovecot.token)
    assert "1 abgelegt" in ok(mail_poll(env, "--once"))
    assert dovecot.introspection.requests == asked + 2
    assert "method=XOAUTH2" in dovecot.log_path.read_text()
    assert folder_count(dovecot, "INBOX") == 0
    wait_documents(api, number, 2)


def test_without_move_capability(serve: LiveServer, api: Api, tmp_path: Path) -> None:
    """A server without MOVE: UID COPY + \\Deleted + UID EXPUNGE (only that mail)."""
    base = make_base_dir("kundenakte-dovecot-")
    server = DovecotServer(capabilities="IMAP4rev1 LITERAL+ SASL-IR UIDPLUS IDLE").start(base)
    try:
        number = api.create_customer("Ohne MOVE GmbH")["number"]
        append(server, scan_mail(number), scan_mail(number))
        env = poll_env(serve, tmp_path, imap_config(server), DMS_MAIL_IMAP_PASSWORD=server.password)
        assert "2 abgelegt" in ok(mail_poll(env, "--once"))
        assert folder_count(server, "INBOX") == 0
        assert folder_count(server, PROCESSED_ON_SERVER) == 2
        log = server.log_path.read_text()
        assert "expunged=2" in log or "deleted=2" in log, log[-3000:]
        wait_documents(api, number, 4)
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


def test_missing_password_and_unreachable_mailbox(serve: LiveServer, tmp_path: Path, dovecot: DovecotServer) -> None:
    result = mail_poll(poll_env(serve, tmp_path, imap_config(dovecot)), "--once")
    assert result.returncode == 1 and "Passwort fehlt" in result.stderr, result.stderr
    dovecot.stop()
    result = mail_poll(poll_env(serve, tmp_path, imap_config(dovecot), DMS_MAIL_IMAP_PASSWORD="x"), "--once")
    assert result.returncode == 1 and "nicht erreichbar" in result.stderr, result.stderr


def test_poller_killed_mid_run_files_each_mail_once(dovecot: DovecotServer, serve: LiveServer, api: Api,
                                                    tmp_path: Path) -> None:
    number = api.create_customer("Absturz Test KG")["number"]
    mails = [scan_mail(number, subject="Absturz") for _ in range(8)]
    subjects = {m["Subject"] for m in mails}
    append(dovecot, *mails)
    env = poll_env(serve, tmp_path, imap_config(dovecot, poll_seconds=1), DMS_MAIL_IMAP_PASSWORD=dovecot.password)
    log_path = tmp_path / "poll-loop.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "dms.cli", "mail-poll"], env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def mid_run() -> bool:  # the third mail is being filed
            assert proc.poll() is None, log_path.read_text()
            return len([r for r in mail_records(api) if r["subject"] in subjects]) >= 3

        wait_until(mid_run, log_path.read_text, interval=0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    done_before = len([r for r in mail_records(api) if r["subject"] in subjects])
    assert done_before < 8, "the poller was not killed mid-run"
    assert folder_count(dovecot, "INBOX") > 0

    out = ok(mail_poll(env, "--once"))
    records = [r for r in mail_records(api) if r["subject"] in subjects]
    assert sorted(r["subject"] for r in records) == sorted(subjects), (out, records)
    assert all(r["status"] == "filed" for r in records), records
    assert folder_count(dovecot, "INBOX") == 0
    assert sorted(folder_subjects(dovecot, PROCESSED_ON_SERVER)) == sorted(subjects)
    assert len(documents(api, number)) == 16  # 8 mails + 8 PDFs, none twice
    # ingests the killed process had queued are picked up by `dms serve` at its next start
    serve.stop()
    serve.start()
    docs = wait_documents(api, number, 16)
    assert {d["status"] for d in docs} <= TERMINAL


def test_loop_polls_until_sigterm(dovecot: DovecotServer, serve: LiveServer, api: Api, tmp_path: Path) -> None:
    number = api.create_customer("Schleife GmbH")["number"]
    env = poll_env(serve, tmp_path, imap_config(dovecot), DMS_MAIL_IMAP_PASSWORD=dovecot.password)
    log_path = tmp_path / "poll-loop.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "dms.cli", "mail-poll", "--interval", "1"], env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: "Kundenakte/Fehler created" in log_path.read_text(), log_path.read_text)
        append(dovecot, scan_mail(number))  # arrives after the first poll: a later round takes it
        wait_until(lambda: folder_count(dovecot, PROCESSED_ON_SERVER) == 1, log_path.read_text)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(120) == 0, log_path.read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    assert folder_count(dovecot, "INBOX") == 0
    wait_documents(api, number, 2)


@pytest.mark.servers
def test_worker_beat_polls_the_mailbox(real_servers: Any, dovecot: DovecotServer, tmp_path: Path) -> None:
    """`dms worker --beat` on the real servers polls by itself every poll_seconds."""
    from tests.server_env import isolated_env

    config = tmp_path / "beat.toml"
    config.write_text(imap_config(dovecot, poll_seconds=1), encoding="utf-8")
    env = {**isolated_env(real_servers.env(), "imap-beat"), "DMS_CONFIG": str(config),
           "DMS_MAIL_IMAP_PASSWORD": dovecot.password}
    server = LiveServer(tmp_path / "data", env=env).start()
    worker = None
    try:
        worker = Worker(server.env, tmp_path / "worker.log", concurrency=2, beat=True).start()
        api = Api(server.url)
        number = api.create_customer("Beat Kunde GmbH")["number"]
        msg = scan_mail(number, subject="Periodisch")
        append(dovecot, msg)
        wait_until(lambda: folder_count(dovecot, "INBOX") == 0, worker.log)
        # the mailbox is shared by this module's tests: earlier tests' mails are there too
        assert folder_subjects(dovecot, PROCESSED_ON_SERVER).count(msg["Subject"]) == 1
        docs = wait_documents(api, number, 2)
        assert {d["status"] for d in docs} == {"filed"}, docs
        records = [r for r in mail_records(api) if r["subject"] == msg["Subject"]]
        assert len(records) == 1 and records[0]["via"] == "imap", records
        assert "'fetched': 1" in worker.log()  # the periodic task `mail.poll` read it (no mail-poll ran)
    finally:
        if worker is not None:
            worker.stop()
        server.stop()
