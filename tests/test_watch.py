"""The hot folder (`dms watch`): real files, a real `dms watch` process, checked through the HTTP API
of a `dms serve` on the same data folder."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dms.services import Services
from dms.watch import HotFolder
from tests.docgen import make_pdf
from tests.live import Api, LiveServer

DOCUMENT_ID = re.compile(r"Dokument ([0-9a-f-]{36})")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("watch") / "data")
    try:
        yield live.start()
    finally:
        live.stop()


@pytest.fixture(scope="module")
def api(server: LiveServer) -> Api:
    return Api(server.url)


@pytest.fixture(scope="module")
def number(api: Api) -> str:
    return api.create_customer("Heißer Ordner GmbH")["number"]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "eingang"
    path.mkdir()
    return path


def watch(server: LiveServer, folder: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """One `dms watch --once` on the server's data folder (it runs the ingests before it exits)."""
    return subprocess.run(
        [sys.executable, "-m", "dms.cli", "watch", str(folder), "--once", "--interval", "0.3", *extra],
        env=server.env, capture_output=True, text=True, timeout=300,
    )


def drop(path: Path, data: bytes) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def test_files_in_customer_folders_and_the_root_are_filed(server: LiveServer, api: Api, number: str,
                                                          folder: Path) -> None:
    invoice = drop(folder / number / "rechnung.pdf", make_pdf(["Rechnung", "Heißordnerprobe Zitronenfalter"]))
    drop(folder / number / "2026" / "lieferschein.pdf", make_pdf(["Lieferschein", "Heißordnerprobe Lieferung"]))
    drop(folder / "brief.pdf", make_pdf(["Auftragsbestätigung", f"Kundennummer {number}", "Heißordnerprobe Brief"]))
    drop(folder / ".versteckt.pdf", make_pdf(["versteckt"]))
    drop(folder / "halb.pdf.part", b"%PDF-1.4 noch nicht fertig")

    result = watch(server, folder)
    assert result.returncode == 0, result.stdout + result.stderr
    assert files(folder) == {
        f"done/{number}/rechnung.pdf", f"done/{number}/2026/lieferschein.pdf", "done/brief.pdf",
        ".versteckt.pdf", "halb.pdf.part",  # never taken
    }
    assert (folder / "done" / number / "rechnung.pdf").read_bytes() == invoice  # moved, not rewritten
    ids = DOCUMENT_ID.findall(result.stdout)
    assert len(ids) == 3, result.stdout
    documents = {api.get(f"/documents/{i}").json()["latest_version"]["filename"]: api.wait(i) for i in ids}
    assert {name: (d["status"], d["customer_number"], d["source"]) for name, d in documents.items()} == {
        "rechnung.pdf": ("filed", number, "hotfolder"),
        "lieferschein.pdf": ("filed", number, "hotfolder"),
        "brief.pdf": ("filed", number, "hotfolder"),  # the classifiers found the number in the text
    }
    assert documents["rechnung.pdf"]["folder"] == "04 Rechnungen"
    stored = api.get(f"/documents/{documents['rechnung.pdf']['id']}/content")
    assert hashlib.sha256(stored.content).hexdigest() == hashlib.sha256(invoice).hexdigest()
    assert api.search("Zitronenfalter", customer=number)["total"] >= 1

    # the same file again: a duplicate, moved to done/ with a note naming the document
    drop(folder / number / "rechnung.pdf", invoice)
    again = watch(server, folder)
    assert again.returncode == 0, again.stdout + again.stderr
    note = (folder / "done" / number / "rechnung (2).pdf.reason.txt").read_text(encoding="utf-8")
    assert "Duplikat" in note and documents["rechnung.pdf"]["id"] in note
    assert (folder / "done" / number / "rechnung (2).pdf").read_bytes() == invoice


def test_an_unknown_customer_folder_goes_to_failed_with_the_reason(server: LiveServer, api: Api,
                                                                   folder: Path) -> None:
    data = drop(folder / "99999" / "fremd.pdf", make_pdf(["Rechnung", "Fremdkundenprobe"]))
    before = api.get("/documents", params={"limit": "1000"}).json()["documents"]
    result = watch(server, folder)
    assert result.returncode == 2, result.stdout + result.stderr  # like `dms ingest`: something failed
    assert files(folder) == {"failed/99999/fremd.pdf", "failed/99999/fremd.pdf.reason.txt"}
    assert (folder / "failed" / "99999" / "fremd.pdf").read_bytes() == data
    reason = (folder / "failed" / "99999" / "fremd.pdf.reason.txt").read_text(encoding="utf-8")
    assert "Kunde 99999 existiert nicht" in reason and "customer_not_found" in reason
    assert api.get("/documents", params={"limit": "1000"}).json()["documents"] == before  # nothing stored


def test_a_corrupt_pdf_is_stored_failed_and_its_file_goes_to_done(server: LiveServer, api: Api, number: str,
                                                                   folder: Path) -> None:
    """done/ means "the DMS has it": the original is kept, the document says why it failed."""
    drop(folder / number / "kaputt.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog " + b"\x00" * 100)
    result = watch(server, folder)
    assert result.returncode == 0, result.stdout + result.stderr
    assert files(folder) == {f"done/{number}/kaputt.pdf"}
    [document_id] = DOCUMENT_ID.findall(result.stdout)
    document = api.wait(document_id)
    assert document["status"] == "failed" and "corrupt_pdf" in document["status_reason"]
    assert document["customer_number"] == number and document["source"] == "hotfolder"


def test_a_growing_file_is_taken_once_it_is_stable(server: LiveServer, api: Api, number: str,
                                                   folder: Path) -> None:
    data = make_pdf(["Rechnung", "Wachsende Datei", *[f"Zeile {i}" for i in range(40)]])
    target = folder / number / "scan.pdf"
    target.parent.mkdir(parents=True)
    chunks = [data[i:i + len(data) // 30 + 1] for i in range(0, len(data), len(data) // 30 + 1)]

    def write_slowly() -> None:
        with open(target, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
                out.flush()
                time.sleep(0.25)

    writer = threading.Thread(target=write_slowly)
    writer.start()
    try:
        while not target.exists():
            time.sleep(0.01)
        early = watch(server, folder)
        still_writing = writer.is_alive()
    finally:
        writer.join()
    assert still_writing, "the scanner finished before the watcher looked twice: the test proves nothing"
    assert early.returncode == 0 and "abgelegt" not in early.stdout, early.stdout + early.stderr
    assert files(folder) == {f"{number}/scan.pdf"}

    result = watch(server, folder)
    assert result.returncode == 0, result.stdout + result.stderr
    assert files(folder) == {f"done/{number}/scan.pdf"}
    [document_id] = DOCUMENT_ID.findall(result.stdout)
    assert api.wait(document_id)["status"] == "filed"
    assert api.get(f"/documents/{document_id}/content").content == data  # the whole file, not a prefix


def test_size_and_mtime_must_hold_over_two_polls(services: Services, tmp_path: Path) -> None:
    """The stability rule on its own (no queue: the pipeline is not run)."""
    root = tmp_path / "ordner"
    path = root / "brief.pdf"
    drop(path, b"%PDF-1.4 erster Teil")
    hot = HotFolder(services, root)
    assert hot.poll() == []  # first sight
    with open(path, "ab") as out:
        out.write(b" zweiter Teil")
    assert hot.poll() == []  # grew since
    [outcome] = hot.poll()  # unchanged over two polls
    assert outcome.result == "filed" and outcome.moved_to == "done/brief.pdf"
    assert services.catalog.documents.get(outcome.document_id).source == "hotfolder"
    assert hot.poll() == [] and files(root) == {"done/brief.pdf"}
