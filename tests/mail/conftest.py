"""Mail fixtures: a real `dms serve` and a real `dms mail-gateway` process on the same data.

`mail_stack` is one stack on embedded defaults per test module; `make_mail_stack` starts a fresh
one with a TOML override (merged over dms/defaults.toml via DMS_CONFIG) and/or extra environment
(e.g. `tests.server_env.isolated_env(...)` for the real servers). Mail goes in through smtplib,
results are read back through the HTTP API. Nothing of ours is mocked.
"""

from __future__ import annotations

import contextlib
import os
import signal
import smtplib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path
from typing import Any

import pytest

from tests.live import TERMINAL, Api, LiveServer, Worker, free_port


class GatewayProcess:
    """`dms mail-gateway` as a subprocess in its own process group (a kill takes its children)."""

    def __init__(self, env: dict[str, str], log_path: Path, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.env, self.log_path, self.host = env, log_path, host
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> GatewayProcess:
        """Start and wait until the SMTP port answers EHLO; fails loudly with the log tail."""
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "dms.cli", "mail-gateway", "--host", self.host, "--port", str(self.port)],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dms mail-gateway exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with smtplib.SMTP(self.host, self.port, timeout=5) as client:
                    code, _ = client.ehlo("probe.test")
                    if code == 250:
                        return self
            except (OSError, smtplib.SMTPException) as exc:
                last_error = exc
            time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"dms mail-gateway did not answer EHLO on {self.port} ({last_error}):\n{self.log()}")

    def log(self, tail: int = 6000) -> str:
        return self.log_path.read_text(errors="replace")[-tail:] if self.log_path.exists() else ""

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 60) -> int | None:
        """SIGTERM (graceful: the current mail is finished); SIGKILL if it does not end in time."""
        if not self.running():
            return self.proc.returncode if self.proc else None
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError(f"dms mail-gateway ignored SIGTERM for {timeout}s:\n{self.log()}") from None

    def kill(self) -> None:
        """SIGKILL the gateway and everything it started (no clean-up runs)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


def build_mail(
    *, subject: str, to: str | list[str], sender: str = "Scanner <scanner@buero.example>", body: str = "Siehe Anhang.",
    attachments: list[tuple[str, bytes, str]] | None = None, message_id: str | None = "auto",
) -> EmailMessage:
    """A mail with attachments `(filename, data, "maintype/subtype")`; a fresh Message-ID unless
    one is given (`message_id=None` leaves the header out)."""
    from email.utils import formatdate, make_msgid

    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to if isinstance(to, str) else ", ".join(to)
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=True)
    if message_id == "auto":
        msg["Message-ID"] = make_msgid(domain="buero.example")
    elif message_id:
        msg["Message-ID"] = message_id
    msg.set_content(body)
    for filename, data, mime in attachments or []:
        maintype, _, subtype = mime.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg


def as_bytes(msg: EmailMessage | bytes) -> bytes:
    return msg if isinstance(msg, bytes) else msg.as_bytes(policy=SMTP_POLICY)


@dataclass
class MailStack:
    data_dir: Path
    env: dict[str, str]  # full environment for subprocesses (DMS_DATA_DIR, DMS_CONFIG, ...)
    api: Api
    server: LiveServer
    gateway: GatewayProcess
    workers: list[Worker] = field(default_factory=list)

    def smtp(self, timeout: float = 30) -> smtplib.SMTP:
        """A connected smtplib client (EHLO not yet sent); use it as a context manager."""
        return smtplib.SMTP(self.gateway.host, self.gateway.port, timeout=timeout)

    def send(self, msg: EmailMessage | bytes, *, to: list[str], mail_from: str = "scanner@buero.example") -> None:
        """Deliver one message over SMTP; smtplib raises on any refusal (SMTPResponseException)."""
        with self.smtp() as client:
            refused = client.sendmail(mail_from, to, as_bytes(msg))
        assert not refused, refused

    def mail_messages(self, **params: Any) -> list[dict[str, Any]]:
        response = self.api.get("/mail/messages", params={"limit": 200, **params})
        assert response.status_code == 200, response.text
        body = response.json()
        return body["messages"] if isinstance(body, dict) else body

    def wait_mail(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 120) -> dict[str, Any]:
        """Poll GET /api/v1/mail/messages until a record matches `predicate`; returns it."""
        deadline = time.monotonic() + timeout
        while True:
            for record in self.mail_messages():
                if predicate(record):
                    return record
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no matching mail record after {timeout}s: {self.mail_messages()}\n"
                    f"gateway log:\n{self.gateway.log()}"
                )
            time.sleep(0.2)

    def documents(self, customer: str | None = None, **params: Any) -> list[dict[str, Any]]:
        query = {"limit": 1000, **params}
        if customer is not None:
            query["customer"] = customer
        response = self.api.get("/documents", params=query)
        assert response.status_code == 200, response.text
        return response.json()["documents"]

    def wait_documents(self, customer: str, count: int, timeout: float = 180) -> list[dict[str, Any]]:
        """Poll until `customer` has at least `count` documents, all in a final status."""
        deadline = time.monotonic() + timeout
        while True:
            docs = self.documents(customer)
            if len(docs) >= count and all(d["status"] in TERMINAL for d in docs):
                return docs
            if time.monotonic() > deadline:
                states = [(d.get("title"), d["status"]) for d in docs]
                raise AssertionError(
                    f"customer {customer}: expected {count} final documents, have {states}\n"
                    f"gateway log:\n{self.gateway.log()}"
                )
            time.sleep(0.2)

    def cli(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `dms <args>` on this stack's data (e.g. `users add`, `mail quarantine list`, `check`)."""
        result = subprocess.run(
            [sys.executable, "-m", "dms.cli", *args], env=self.env, input=input, capture_output=True, text=True,
            timeout=300,
        )
        if check:
            output = result.stdout + result.stderr
            assert result.returncode == 0, f"dms {' '.join(args)} → {result.returncode}:\n{output}"
        return result

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.gateway.stop()
        self.server.stop()


def make_mail_stack(
    tmp_path: Path, *, config_toml: str = "", env: dict[str, str] | None = None, worker: bool = False
) -> MailStack:
    """Start `dms serve` + `dms mail-gateway` (+ a `dms worker` when `worker`) on a fresh data dir.

    The caller stops it (`stack.stop()`); the `mail_stack` fixture and `mail_stack_factory` do so.
    """
    tmp_path.mkdir(parents=True, exist_ok=True)
    stack_env: dict[str, str] = dict(env or {})
    if config_toml:
        config = tmp_path / "mail.toml"
        config.write_text(config_toml, encoding="utf-8")
        stack_env["DMS_CONFIG"] = str(config)
    data_dir = tmp_path / "data"
    server = LiveServer(data_dir, env=stack_env)
    gateway = GatewayProcess(server.env, tmp_path / "gateway.log")
    stack = MailStack(data_dir, server.env, Api(server.url), server, gateway)
    try:
        server.start()
        if worker:
            stack.workers.append(Worker(server.env, tmp_path / "worker.log", concurrency=2).start())
        gateway.start()
    except BaseException:
        stack.stop()
        raise
    return stack


@pytest.fixture(scope="module")
def mail_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailStack]:
    """One stack on embedded defaults per test module."""
    stack = make_mail_stack(tmp_path_factory.mktemp("mail"))
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def mail_stack_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., MailStack]]:
    """`factory(config_toml="...", env={...}, worker=False)` → a fresh stack, stopped after the test."""
    started: list[MailStack] = []

    def factory(config_toml: str = "", env: dict[str, str] | None = None, worker: bool = False) -> MailStack:
        stack = make_mail_stack(tmp_path_factory.mktemp("mail"), config_toml=config_toml, env=env, worker=worker)
        started.append(stack)
        return stack

    try:
        yield factory
    finally:
        for stack in started:
            stack.stop()
