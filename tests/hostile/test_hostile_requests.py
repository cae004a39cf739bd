"""Hostile requests: huge, deep and broken JSON, hostile names, and stored files that try to
become pages on our origin. Through HTTP against the real service on both stacks."""

from __future__ import annotations

import json
from collections.abc import Iterator

import requests

from tests.docgen import make_pdf
from tests.hostile.conftest import HostileStack

MB = 1024 * 1024


def _zeros_json(total: int, chunk: int = MB) -> Iterator[bytes]:
    """A JSON object of `total` bytes, produced lazily so the test itself stays small."""
    head, tail = b'{"name": "', b'"}'
    yield head
    left = total - len(head) - len(tail)
    while left > 0:
        part = min(chunk, left)
        yield b"A" * part
        left -= part
    yield tail


class SizedBody:
    """A lazily produced body with a known length (sent with Content-Length, not chunked)."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[bytes]:
        return _zeros_json(self.size)


def test_huge_json_body_is_refused_before_it_is_read(hostile_stack: HostileStack) -> None:
    api = hostile_stack.api
    url = api.base + "/customers"
    with hostile_stack.memory() as memory:
        response = requests.post(url, data=SizedBody(250 * MB), timeout=300,
                                 headers={"Content-Type": "application/json"})
        assert response.status_code == 413, response.text[:300]
        chunked = requests.post(url, data=_zeros_json(30 * MB), timeout=300,
                                headers={"Content-Type": "application/json"})
        assert chunked.status_code == 413, chunked.text[:300]
    assert response.json()["error"]["code"] == "too_large"
    assert memory.peak_mb < 1024, f"peak RSS {memory.peak_mb:.0f} MB"
    # a 20 MB name is no customer
    twenty = requests.post(url, data=b"".join(_zeros_json(20 * MB)), timeout=120,
                           headers={"Content-Type": "application/json"})
    assert twenty.status_code == 413
    assert len(twenty.content) < 2000, "the refusal does not echo the input"
    assert hostile_stack.alive()


def test_endless_chunk_size_line_does_not_freeze_the_server(hostile_stack: HostileStack) -> None:
    """Transfer-Encoding: chunked whose first chunk-size line never ends (waitress would re-join
    it with every packet on its event loop): refused at once, other clients keep being served."""
    import socket
    import time
    from urllib.parse import urlsplit

    target = urlsplit(hostile_stack.server.url)
    started = time.monotonic()
    with socket.create_connection((target.hostname, target.port), timeout=60) as sock:
        sock.sendall(b"POST /api/v1/customers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        try:
            for _ in range(64):  # up to 64 MB of one "chunk size" line
                sock.sendall(b"A" * MB)
        except OSError:
            pass  # the server closed the connection: refused
        answer = sock.recv(200)
    assert answer.startswith(b"HTTP/1.1 400"), answer
    assert time.monotonic() - started < 20
    health_started = time.monotonic()
    assert hostile_stack.api.get("/health").status_code == 200
    assert time.monotonic() - health_started < 2


def test_broken_json_is_a_400_with_a_short_message(hostile_stack: HostileStack) -> None:
    api = hostile_stack.api
    cases = {
        b"[" * 100_000 + b"]" * 100_000: "too_deep",
        b'{"name": "\\ud800"}': "invalid_unicode",
        b'{"name": {"nested": "object"}}': "invalid_request",
        b'{"name": 42}': "invalid_request",
        b'{"name": "x", "tags": [{"a": 1}]}': "invalid_request",
        b"\xff\xfe{}": "invalid_unicode",
        b'{"name": "' + b"y" * 5000 + b'"}': "too_long",
    }
    for body, code in cases.items():
        response = api.http.post(api.base + "/customers", data=body, timeout=60,
                                 headers={"Content-Type": "application/json"})
        assert response.status_code == 400, (body[:40], response.text[:200])
        assert response.json()["error"]["code"] == code, (body[:40], response.text[:200])
        assert len(response.content) < 1000, "error messages quote only a short prefix"
    number = api.create_customer("Patchziel GmbH")["number"]
    patched = api.patch(f"/customers/{number}", json={"name": {"$ne": 1}})
    assert patched.status_code == 400
    assert api.get(f"/customers/{number}").json()["name"] == "Patchziel GmbH"
    assert hostile_stack.alive()


def test_names_and_titles_are_cleaned(hostile_stack: HostileStack) -> None:
    api = hostile_stack.api
    customer = api.create_customer("Muster\u202eHandel\x00 GmbH\u2066", tags=["a\x07b", "Ga\u0308rtner"])
    assert customer["name"] == "MusterHandel GmbH"
    assert customer["tags"] == sorted(["ab", "G\u00e4rtner"])  # NFC: a + combining diaeresis becomes one ä
    pdf = make_pdf(["Rechnung", f"Kundennummer {customer['number']}", "Bidiprobe"])
    response = api.upload(pdf, "..", title="Titel\u202e fdp.exe", customer_number=customer["number"])
    assert response.status_code == 202, response.text
    document = api.wait(response.json()["id"])
    assert document["title"] == "Titel fdp.exe"
    latest = document["latest_version"]
    assert latest["filename"] not in ("..", ".", "") and "/" not in latest["filename"]
    traversal = api.upload(make_pdf(["Pfadprobe"]), "../../etc/passwd.pdf")
    assert traversal.status_code == 202
    stored = api.wait(traversal.json()["id"])["latest_version"]
    assert stored["filename"] == "passwd.pdf"
    assert stored.get("original_filename") == "../../etc/passwd.pdf"
    assert hostile_stack.alive()


XHTML = b"""<?xml version="1.0" encoding="UTF-8"?>
<html xmlns="http://www.w3.org/1999/xhtml"><body>
<script>fetch('/api/v1/customers').then(r => r.text()).then(t => navigator.sendBeacon('/steal', t))</script>
<p>Rechnung</p></body></html>"""


def test_stored_markup_is_never_served_as_a_page(hostile_stack: HostileStack) -> None:
    api = hostile_stack.api
    document_id = api.upload_ok(XHTML, "rechnung.xml")
    api.wait(document_id)
    for path in (f"/documents/{document_id}/content", f"/documents/{document_id}/content?version=1"):
        response = api.get(path)
        assert response.status_code == 200
        assert response.headers["Content-Disposition"].startswith("attachment"), response.headers
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        csp = response.headers["Content-Security-Policy"]
        assert csp.startswith("sandbox") and "default-src 'none'" in csp
    # a PDF still opens inline (with the same sandbox policy)
    pdf_id = api.upload_ok(make_pdf(["Inlineprobe"]), "inline.pdf")
    api.wait(pdf_id)
    pdf = api.get(f"/documents/{pdf_id}/content")
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.headers["Content-Disposition"].startswith("inline")
    assert pdf.headers["Content-Security-Policy"].startswith("sandbox")
    # every response says nosniff, errors included
    for response in (api.get("/health"), api.get("/documents/nope"), api.get("/config")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_json_error_bodies_stay_json(hostile_stack: HostileStack) -> None:
    response = hostile_stack.api.http.post(hostile_stack.api.base + "/customers", data="nicht json",
                                           headers={"Content-Type": "application/json"}, timeout=30)
    assert response.status_code == 400
    assert json.loads(response.text)["error"]["code"] == "invalid_json"
