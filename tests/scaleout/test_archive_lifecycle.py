"""The WORM archive on the real servers (issue #12): a `dms serve` and a `dms worker` on MinIO
(documents bucket + Object Lock archive bucket), PostgreSQL, OpenSearch and Redis.

What MinIO itself enforces is checked with the raw minio client: an archived version cannot be
deleted or overwritten, its retain-until follows the rules (Berlin year end), a reclassification
or policy change never shortens it, a legal hold is set on every archived version. `dms archive
verify` finds a tampered sidecar in the documents bucket and a missing archive object (one of a
class kept for seconds, deleted by the raw client once its lock expired).
The same lifecycle on embedded defaults: tests/test_archive.py.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from minio import Minio
from minio.error import S3Error

from tests.docgen import make_pdf
from tests.live import Api, LiveServer, Worker
from tests.server_env import isolated_env

pytestmark = pytest.mark.servers

SECONDS = 15  # Lieferschein: kept for seconds here, so its lock expires during the test
CONFIG = f"[retention]\nAngebot = 12\n\n[retention.Lieferschein]\nseconds = {SECONDS}\n"
BERLIN_2036 = datetime.fromisoformat("2035-12-31T23:00:00+00:00")  # 2036-01-01 00:00 Europe/Berlin
BERLIN_2037 = datetime.fromisoformat("2036-12-31T23:00:00+00:00")
BERLIN_2038 = datetime.fromisoformat("2037-12-31T23:00:00+00:00")


@dataclass
class Stack:
    server: LiveServer
    api: Api
    client: Minio
    archive: str  # bucket names
    documents: str

    def objects(self, document_id: str) -> list:
        """Every archived object version of a document (raw listing)."""
        found = self.client.list_objects(self.archive, prefix=f"archive/documents/{document_id}/", recursive=True,
                                         include_version=True)
        return [o for o in found if not o.is_delete_marker]

    def retain_until(self, document_id: str) -> set[datetime]:
        return {self.client.get_object_retention(self.archive, o.object_name, version_id=o.version_id)
                .retain_until_date for o in self.objects(document_id)}

    def read(self, bucket: str, key: str, version_id: str | None = None) -> bytes:
        response = self.client.get_object(bucket, key, version_id=version_id)
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def dms(self, *args: str, config: str | None = None) -> subprocess.CompletedProcess[str]:
        env = dict(self.server.env)
        if config is not None:
            path = self.server.data_dir.parent / f"config-{hashlib.sha256(config.encode()).hexdigest()[:8]}.toml"
            path.write_text(config, encoding="utf-8")
            env["DMS_CONFIG"] = str(path)
        return subprocess.run([sys.executable, "-m", "dms.cli", *args], env=env, capture_output=True, text=True,
                              timeout=120)


@pytest.fixture(scope="module")
def stack(servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base: Path = tmp_path_factory.mktemp("archive-s3")
    (base / "config.toml").write_text(CONFIG, encoding="utf-8")
    env = {**isolated_env(servers.env(), "archive"), "DMS_CONFIG": str(base / "config.toml")}
    server = LiveServer(base / "data", env=env).start()
    worker = None
    try:
        worker = Worker(server.env, base / "worker.log", concurrency=2).start()
        yield Stack(server, Api(server.url), servers.minio.client(), env["DMS_S3_ARCHIVE_BUCKET"],
                    env["DMS_S3_BUCKET"])
    finally:
        if worker is not None:
            worker.stop()
        server.stop()


def in_berlin_year_end(values: set[datetime], expected: datetime) -> bool:
    return bool(values) and all(expected <= v <= expected + timedelta(days=1) for v in values)


def filed(stack: Stack, customer: dict, lines: list[str], name: str, klass: str = "Rechnung") -> dict:
    document_id = stack.api.upload_ok(make_pdf(lines), name, customer_number=customer["number"])
    body = stack.api.wait(document_id)
    assert body["status"] == "filed" and body["class"] == klass, body
    return body


def invoice(stack: Stack, customer: dict, number: str) -> dict:
    return filed(stack, customer, ["Rechnung", f"Rechnungsnummer: {number}   Rechnungsdatum: 15.03.2025",
                                   "Zahlbar in 14 Tagen, USt 19 %"], f"{number}.pdf")


def test_an_archived_version_cannot_be_deleted_or_overwritten(stack: Stack) -> None:
    customer = stack.api.create_customer("WORM Eins GmbH")
    body = invoice(stack, customer, "RE-2025-1001")
    assert body["document_date"] == "2025-03-15"
    until = datetime.fromisoformat(body["archived_until"])
    assert BERLIN_2036 <= until <= BERLIN_2036 + timedelta(days=1)
    objects = {o.object_name.rsplit("/", 1)[1]: o for o in stack.objects(body["id"])}
    assert set(objects) == {"original", "meta.json", "text.txt"}, objects
    assert in_berlin_year_end(stack.retain_until(body["id"]), BERLIN_2036)
    for item in objects.values():
        assert stack.client.get_object_retention(stack.archive, item.object_name,
                                                 version_id=item.version_id).mode == "COMPLIANCE"
    original = objects["original"]
    assert hashlib.sha256(stack.read(stack.archive, original.object_name, original.version_id)).hexdigest() \
        == body["latest_version"]["sha256"]
    # MinIO refuses to delete the archived version, and it is still there
    with pytest.raises(S3Error):
        stack.client.remove_object(stack.archive, original.object_name, version_id=original.version_id)
    before = stack.read(stack.archive, original.object_name, original.version_id)
    # a put under the same key only adds a version: the archived one stays as it was
    stack.client.put_object(stack.archive, original.object_name, io.BytesIO(b"forged"), 6)
    assert stack.read(stack.archive, original.object_name, original.version_id) == before
    assert stack.read(stack.archive, original.object_name) == b"forged"  # the newest, not the archived one


def test_reclassification_and_policy_changes_only_extend(stack: Stack) -> None:
    customer = stack.api.create_customer("WORM Zwei GmbH")
    document_id = invoice(stack, customer, "RE-2025-1002")["id"]
    response = stack.api.patch(f"/documents/{document_id}", json={"class": "Angebot"})  # 12 years here
    assert response.status_code == 200, response.text
    assert in_berlin_year_end(stack.retain_until(document_id), BERLIN_2038)
    response = stack.api.patch(f"/documents/{document_id}", json={"class": "Lieferschein"})  # seconds here
    assert response.status_code == 200, response.text
    assert in_berlin_year_end(stack.retain_until(document_id), BERLIN_2038)
    assert datetime.fromisoformat(response.json()["archived_until"]) >= BERLIN_2038
    # a policy change: shorter leaves every lock, longer extends them
    other = invoice(stack, customer, "RE-2025-1003")["id"]
    shorter = stack.dms("archive", "catch-up", "--reconcile", config=CONFIG.replace("[retention]\n",
                                                                                     "[retention]\nRechnung = 8\n"))
    assert shorter.returncode == 0, shorter.stdout + shorter.stderr
    assert in_berlin_year_end(stack.retain_until(other), BERLIN_2036)
    longer = stack.dms("archive", "catch-up", "--reconcile", config=CONFIG.replace("[retention]\n",
                                                                                    "[retention]\nRechnung = 11\n"))
    assert longer.returncode == 0, longer.stdout + longer.stderr
    assert in_berlin_year_end(stack.retain_until(other), BERLIN_2037)
    assert in_berlin_year_end(stack.retain_until(document_id), BERLIN_2038)


def test_a_legal_hold_is_set_on_every_archived_version(stack: Stack) -> None:
    customer = stack.api.create_customer("WORM Hold GmbH")
    document_id = invoice(stack, customer, "RE-2025-1004")["id"]
    response = stack.api.post(f"/documents/{document_id}/versions",
                              files={"file": ("v2.pdf", make_pdf(["Rechnung", "Rechnungsnummer: RE-2025-1004",
                                                                  "Rechnungsdatum: 15.03.2025", "korrigiert"]))})
    assert response.status_code == 202, response.text
    stack.api.wait(document_id, version=2)

    def holds() -> list[bool]:
        return [stack.client.is_object_legal_hold_enabled(stack.archive, o.object_name, version_id=o.version_id)
                for o in stack.objects(document_id)]

    assert len(holds()) == 6 and not any(holds())
    response = stack.api.post(f"/customers/{customer['number']}/legal-hold", params={"reason": "Rechtsstreit"})
    assert response.status_code == 200 and response.json()["objects"] == 6, response.text
    assert all(holds())
    # a version archived while the hold is on is held too
    response = stack.api.post(f"/documents/{document_id}/versions",
                              files={"file": ("v3.pdf", make_pdf(["Rechnung", "Rechnungsnummer: RE-2025-1004",
                                                                  "Rechnungsdatum: 15.03.2025", "v3"]))})
    assert response.status_code == 202, response.text
    stack.api.wait(document_id, version=3)
    assert len(holds()) == 9 and all(holds())
    released = stack.api.http.delete(f"{stack.api.base}/customers/{customer['number']}/legal-hold",
                                     params={"reason": "Vergleich geschlossen"})
    assert released.status_code == 200, released.text
    assert not any(holds())


def test_verify_finds_a_tampered_sidecar_and_a_missing_archive_object(stack: Stack) -> None:
    customer = stack.api.create_customer("WORM Prüfung GmbH")
    tampered = invoice(stack, customer, "RE-2025-1005")["id"]
    short = filed(stack, customer, ["Lieferschein", "Lieferdatum 01.12.2026", "Liefermenge 3 Stück"],
                  "lieferschein.pdf", klass="Lieferschein")["id"]
    assert short and stack.objects(short), "the Lieferschein was archived (for seconds)"
    clean = stack.dms("archive", "verify", "--customer", customer["number"])
    assert clean.returncode == 0, clean.stdout + clean.stderr
    # someone edits the live sidecar in the documents bucket
    key = f"documents/{tampered}/v1/meta.json"
    forged = stack.read(stack.documents, key).replace(b'"size":', b'"forged": true, "size":')
    stack.client.put_object(stack.documents, key, io.BytesIO(forged), len(forged))
    # and, once its lock expired, deletes the Lieferschein's archived original
    [original] = [o for o in stack.objects(short) if o.object_name.endswith("/original")]
    deadline = time.monotonic() + SECONDS + 60
    while True:
        try:
            stack.client.remove_object(stack.archive, original.object_name, version_id=original.version_id)
            break
        except S3Error:
            assert time.monotonic() < deadline, "the seconds lock never expired"
            time.sleep(1)
    result = stack.dms("archive", "verify", "--customer", customer["number"])
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"SIDECAR      {tampered} v1 sidecar" in result.stdout, result.stdout
    assert f"FEHLT        {short} v1 original" in result.stdout, result.stdout
