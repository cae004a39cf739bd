"""The WORM archive on embedded defaults (issue #12), through the API and the CLI of a real `dms serve`.

Invoices are archived when filed with the retain-until of their class (Berlin year end); a
reclassification or policy change only ever extends; legal holds are set on every archived
version and audited with the reason; `dms archive verify` finds a tampered sidecar and a missing
archive object. The same lifecycle on the real MinIO: tests/scaleout/test_archive_lifecycle.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from tests.docgen import make_pdf
from tests.live import Api, LiveServer

BERLIN_2036 = datetime.fromisoformat("2035-12-31T23:00:00+00:00")  # 2036-01-01 00:00 Europe/Berlin
BERLIN_2038 = datetime.fromisoformat("2037-12-31T23:00:00+00:00")
BERLIN_2037 = datetime.fromisoformat("2036-12-31T23:00:00+00:00")
CONFIG = "[retention]\nAngebot = 12\n"  # a longer class to reclassify into


def invoice(number: str, day: str = "15.03.2025") -> bytes:
    return make_pdf(["Rechnung", f"Rechnungsnummer: {number}   Rechnungsdatum: {day}", "Zahlbar in 14 Tagen, USt 19 %"])


def until(body: dict) -> datetime:
    assert body["archived_until"], body
    return datetime.fromisoformat(body["archived_until"])


def in_berlin_year_end(value: datetime, expected: datetime) -> bool:
    return expected <= value <= expected + timedelta(days=1)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    base = tmp_path_factory.mktemp("archive")
    (base / "config.toml").write_text(CONFIG, encoding="utf-8")
    live = LiveServer(base / "data", env={"DMS_CONFIG": str(base / "config.toml")}).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def api(server: LiveServer) -> Api:
    return Api(server.url)


def dms(server: LiveServer, *args: str, config: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(server.env)
    if config is not None:
        path = server.data_dir.parent / f"config-{abs(hash(config))}.toml"
        path.write_text(config, encoding="utf-8")
        env["DMS_CONFIG"] = str(path)
    return subprocess.run([sys.executable, "-m", "dms.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def locks(server: LiveServer, document_id: str) -> list[dict]:
    """The locks of a document's archived versions, as the embedded archive keeps them on disk."""
    folder = server.data_dir / "archive" / "archive" / "documents" / document_id
    return [json.loads(p.read_text()) for p in sorted(folder.rglob("*.lock.json"))]


def held(server: LiveServer, document_id: str) -> int:
    return sum(lock["legal_hold"] for lock in locks(server, document_id))


def filed_invoice(api: Api, customer: dict, number: str, day: str = "15.03.2025") -> dict:
    document_id = api.upload_ok(invoice(number, day), f"{number}.pdf", customer_number=customer["number"])
    body = api.wait(document_id)
    assert body["status"] == "filed" and body["class"] == "Rechnung", body
    return body


def test_an_invoice_is_archived_until_the_berlin_year_end(api: Api, server: LiveServer) -> None:
    customer = api.create_customer("Archiv Eins GmbH")
    body = filed_invoice(api, customer, "RE-2025-0001")
    assert body["document_date"] == "2025-03-15"
    assert in_berlin_year_end(until(body), BERLIN_2036), body["archived_until"]
    assert any(e["stage"] == "archive" and "archiviert" in (e["message"] or "") for e in body["events"])
    # the list and the customer file show it too
    listed = api.get("/documents", params={"customer": customer["number"]}).json()["documents"]
    assert listed[0]["archived_until"] == body["archived_until"]
    file = api.get(f"/customers/{customer['number']}/file").json()
    shown = [d for f in file["folders"] for d in f["documents"] if d["id"] == body["id"]]
    assert shown[0]["archived_until"] == body["archived_until"]
    # original, sidecar and text, each locked
    shown_cli = dms(server, "archive", "show", body["id"])
    assert shown_cli.returncode == 0, shown_cli.stderr
    for kind in ("original", "sidecar", "text"):
        assert f"v1 {kind}" in shown_cli.stdout and "(COMPLIANCE)" in shown_cli.stdout, shown_cli.stdout
    # a new version is archived too
    response = api.post(f"/documents/{body['id']}/versions",
                        files={"file": ("v2.pdf", invoice("RE-2025-0001", "15.03.2025") + b"\n%v2")})
    assert response.status_code == 202, response.text
    api.wait(body["id"], version=2)
    archived = locks(server, body["id"])
    assert len(archived) == 6 and {lock["mode"] for lock in archived} == {"COMPLIANCE"}
    # and the archive checks out
    verified = dms(server, "archive", "verify", "--customer", customer["number"])
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "in Ordnung" in verified.stdout


def test_an_old_invoice_is_not_archived_and_says_why(api: Api, server: LiveServer) -> None:
    customer = api.create_customer("Archiv Alt GmbH")
    body = filed_invoice(api, customer, "RE-2010-0001", "15.03.2010")
    assert body["archived_until"] is None
    assert any("nicht archiviert" in (e["message"] or "") for e in body["events"]), body["events"]
    assert locks(server, body["id"]) == []


def test_reclassification_and_policy_changes_never_shorten(api: Api, server: LiveServer) -> None:
    customer = api.create_customer("Archiv Zwei GmbH")
    document_id = filed_invoice(api, customer, "RE-2025-0002")["id"]
    # into a longer class (Angebot = 12 years here): extended
    response = api.patch(f"/documents/{document_id}", json={"class": "Angebot"})
    assert response.status_code == 200, response.text
    assert in_berlin_year_end(until(response.json()), BERLIN_2038)
    # into a shorter one (Lieferschein = 6 years): kept
    response = api.patch(f"/documents/{document_id}", json={"class": "Lieferschein"})
    assert in_berlin_year_end(until(response.json()), BERLIN_2038)
    assert {lock["retain_until"] for lock in locks(server, document_id)} == {"2037-12-31T23:00:00+00:00"}
    # a policy change: shorter does nothing, longer extends every archived version
    other = filed_invoice(api, customer, "RE-2025-0003")["id"]
    shorter = dms(server, "archive", "catch-up", "--reconcile", config="[retention]\nRechnung = 8\nAngebot = 12\n")
    assert shorter.returncode == 0, shorter.stdout + shorter.stderr
    assert in_berlin_year_end(until(api.get(f"/documents/{other}").json()), BERLIN_2036)
    longer = dms(server, "archive", "catch-up", "--reconcile", config="[retention]\nRechnung = 11\nAngebot = 12\n")
    assert longer.returncode == 0 and "Sperren verlängert" in longer.stdout, longer.stdout + longer.stderr
    assert in_berlin_year_end(until(api.get(f"/documents/{other}").json()), BERLIN_2037)
    assert [lock["retain_until"] for lock in locks(server, other)] == ["2036-12-31T23:00:00+00:00"] * 3
    assert in_berlin_year_end(until(api.get(f"/documents/{document_id}").json()), BERLIN_2038)
    # the archive still checks out under the configuration it runs with
    assert dms(server, "archive", "verify", "--customer", customer["number"],
               config="[retention]\nRechnung = 11\nAngebot = 12\n").returncode == 0


def test_legal_hold_on_documents_and_customers(api: Api, server: LiveServer) -> None:
    customer = api.create_customer("Archiv Hold GmbH")
    first = filed_invoice(api, customer, "RE-2025-0004")["id"]
    missing = api.post(f"/documents/{first}/legal-hold")
    assert missing.status_code == 400 and missing.json()["error"]["field"] == "reason", missing.text
    response = api.post(f"/documents/{first}/legal-hold", params={"reason": "Betriebsprüfung 2026"})
    assert response.status_code == 200, response.text
    assert response.json()["legal_hold"] is True and response.json()["objects"] == 3
    assert api.get(f"/documents/{first}").json()["legal_hold"] is True
    assert held(server, first) == 3
    # the customer's hold covers its documents, also those archived later
    response = api.post(f"/customers/{customer['number']}/legal-hold", json={"reason": "Rechtsstreit Az. 1 O 23/26"})
    assert response.status_code == 200, response.text
    assert api.get(f"/customers/{customer['number']}").json()["legal_hold"] is True
    second = filed_invoice(api, customer, "RE-2025-0005")["id"]
    assert held(server, second) == 3
    # releasing the document's own hold keeps the customer's
    response = api.http.delete(f"{api.base}/documents/{first}/legal-hold", params={"reason": "Prüfung beendet"})
    assert response.status_code == 200, response.text
    assert api.get(f"/documents/{first}").json()["legal_hold"] is False
    assert held(server, first) == 3
    # releasing the customer's (CLI) releases every version
    released = dms(server, "archive", "release", "--customer", customer["number"], "--reason", "Vergleich")
    assert released.returncode == 0, released.stderr
    assert held(server, first) == held(server, second) == 0
    response = api.post(f"/documents/{second}/legal-hold", params={"reason": "Anfrage Finanzamt"})
    assert response.status_code == 200 and held(server, second) == 3, response.text
    # every step audited with its reason
    entries = api.get("/audit", params={"customer": customer["number"], "limit": 100}).json()["entries"]
    reasons = {(e["action"], e["details"].get("reason")) for e in entries}
    assert {("document.legal_hold_set", "Betriebsprüfung 2026"),
            ("customer.legal_hold_set", "Rechtsstreit Az. 1 O 23/26"),
            ("document.legal_hold_released", "Prüfung beendet"),
            ("customer.legal_hold_released", "Vergleich"),
            ("document.legal_hold_set", "Anfrage Finanzamt")} <= reasons, reasons


def test_verify_finds_a_tampered_sidecar_and_a_missing_object(api: Api, server: LiveServer) -> None:
    customer = api.create_customer("Archiv Prüfung GmbH")
    document_id = filed_invoice(api, customer, "RE-2025-0006")["id"]
    # someone edits the live sidecar in the documents store (its newest version, on disk)
    sidecar = max((server.data_dir / "objects" / "documents" / document_id / "v1" / "meta.json.obj").iterdir())
    sidecar.write_bytes(sidecar.read_bytes().replace(b'"size":', b'"size": 1,"x":'))
    # and removes an archived object from the embedded archive's folder
    original = server.data_dir / "archive" / "archive" / "documents" / document_id / "v1" / "original.obj"
    next(p for p in original.iterdir() if not p.name.endswith(".lock.json")).unlink()
    result = dms(server, "archive", "verify", "--customer", customer["number"])
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"SIDECAR      {document_id} v1 sidecar" in result.stdout, result.stdout
    assert f"FEHLT        {document_id} v1 original" in result.stdout, result.stdout
    assert "2 Befunde" in result.stdout, result.stdout


def test_check_says_the_embedded_archive_is_not_tamper_proof(server: LiveServer) -> None:
    result = dms(server, "check")
    [line] = [row for row in result.stdout.splitlines() if row.startswith("archive")]
    assert "nur in Software" in line and "WORM" in line and "S3 Object Lock COMPLIANCE" in line, line
    assert line.endswith(": ok"), line
