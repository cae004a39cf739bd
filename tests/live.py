"""A real `dms serve` process on a free loopback port, and a small HTTP client for it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

TERMINAL = {"filed", "needs_review", "failed"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "DMS_DATA_DIR": str(data_dir), **(env or {})}
        self.log_path = data_dir.parent / f"serve-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> LiveServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dms.cli", "serve", "--port", str(self.port)],
            env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dms serve exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if requests.get(self.url + "/api/v1/health", timeout=2).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"dms serve did not become healthy:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


class Worker:
    """A `dms worker` (Celery) process in its own process group, so a kill takes its pool children too."""

    def __init__(self, env: dict[str, str], log_path: Path, concurrency: int = 1, beat: bool = False) -> None:
        self.env, self.log_path, self.concurrency = env, log_path, concurrency
        self.beat = beat  # `dms worker --beat`: also sends the periodic tasks
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> Worker:
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "dms.cli", "worker", "--concurrency", str(self.concurrency),
                 *(["--beat"] if self.beat else [])],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while " ready." not in self.log()[offset:]:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start:\n{self.log()[-3000:]}")
            time.sleep(0.2)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()


class Api:
    """Thin client: every call goes over HTTP to the live server."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url + "/api/v1"
        self.http = requests.Session()

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.http.get(self.base + path, timeout=60, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.http.post(self.base + path, timeout=60, **kw)

    def patch(self, path: str, **kw: Any) -> requests.Response:
        return self.http.patch(self.base + path, timeout=60, **kw)

    def create_customer(self, name: str, **extra: Any) -> dict[str, Any]:
        response = self.post("/customers", json={"name": name, **extra})
        assert response.status_code == 201, response.text
        return response.json()

    def upload(self, data: bytes, filename: str, **form: str) -> requests.Response:
        return self.post("/documents", files={"file": (filename, data)}, data=form)

    def upload_ok(self, data: bytes, filename: str, **form: str) -> str:
        response = self.upload(data, filename, **form)
        assert response.status_code == 202, response.text
        return response.json()["id"]

    def wait(self, document_id: str, timeout: float = 120, version: int | None = None) -> dict[str, Any]:
        """Poll until the document (and, if given, that version) reached a final status."""
        deadline = time.monotonic() + timeout
        while True:
            body = self.get(f"/documents/{document_id}").json()
            latest = (body.get("latest_version") or {}).get("number")
            if body["status"] in TERMINAL and (version is None or latest == version):
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"document {document_id} stuck in {body['status']}: {body.get('events')}")
            time.sleep(0.1)

    def search(self, q: str, **params: str) -> dict[str, Any]:
        response = self.get("/search", params={"q": q, **params})
        assert response.status_code == 200, response.text
        return response.json()
