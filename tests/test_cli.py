"""The CLI as a user runs it: separate processes on one data folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docgen import make_pdf


def dms(data_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DMS_DATA_DIR": str(data_dir)}
    result = subprocess.run(
        [sys.executable, "-m", "dms.cli", *args], env=env, capture_output=True, text=True, timeout=300
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_customers_ingest_and_search(tmp_path: Path) -> None:
    data = tmp_path / "data"
    out = dms(data, "customers", "add", "Bäckerei Krümel", "--kind", "legal").stdout
    assert out.split("\t")[0] == "10001"
    assert dms(data, "customers", "add", "Zweite GmbH", "--number", "20000").stdout.startswith("20000")
    duplicate = dms(data, "customers", "add", "Dritte GmbH", "--number", "20000", check=False)
    assert duplicate.returncode == 1 and "bereits vergeben" in duplicate.stderr
    assert "Bäckerei Krümel" in dms(data, "customers", "list").stdout

    inbox = tmp_path / "inbox"
    (inbox / "sub").mkdir(parents=True)
    (inbox / "r1.pdf").write_bytes(make_pdf(["Rechnung", "Kundennummer 10001", "Brezelteig"]))
    (inbox / "sub" / "r2.pdf").write_bytes(make_pdf(["Lieferschein", "Butterbrezel"]))
    (inbox / "copy.pdf").write_bytes((inbox / "r1.pdf").read_bytes())
    result = dms(data, "ingest", str(inbox), "--customer", "10001")
    assert "filed: 2" in result.stdout and "duplicate: 1" in result.stdout, result.stdout
    assert "Ablegen" in result.stdout  # the progress bar label

    found = dms(data, "search", "Brezelteige").stdout
    assert found.startswith("1 Treffer") and "*Brezelteig*" in found
    assert dms(data, "search", "Butterbrezel", "--customer", "20000").stdout.startswith("0 Treffer")


def test_ingest_reports_failures_with_exit_code(tmp_path: Path) -> None:
    data = tmp_path / "data"
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.7\n garbage")
    result = dms(data, "ingest", str(bad), check=False)
    assert result.returncode == 2
    assert "failed: 1" in result.stdout and "corrupt_pdf" in result.stderr


def test_check_reports_each_backend(tmp_path: Path) -> None:
    out = dms(tmp_path / "data", "check").stdout
    for line in ("store", "catalog", "index", "queue"):
        assert any(row.startswith(line) and row.endswith(": ok") for row in out.splitlines()), out
    assert "in-process" in out and "sqlite" in out


def test_catalog_and_index_are_rebuilt_from_the_object_store_alone(tmp_path: Path) -> None:
    data = tmp_path / "data"
    dms(data, "customers", "add", "Wiederaufbau GmbH")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.pdf").write_bytes(make_pdf(["Rechnung", "Kundennummer 10001", "Pflaumenkuchen"]))
    dms(data, "ingest", str(inbox))
    for derived in ("catalog.db", "catalog.db-wal", "catalog.db-shm", "search.db", "search.db-wal", "search.db-shm"):
        (data / derived).unlink(missing_ok=True)
    assert dms(data, "search", "Pflaumenkuchen").stdout.startswith("0 Treffer")
    out = dms(data, "rebuild-catalog").stdout
    assert "customers: 1" in out and "documents: 1" in out, out
    assert "1 Dokumente indexiert" in dms(data, "reindex").stdout
    found = dms(data, "search", "Pflaumenkuchen", "--customer", "10001").stdout
    assert found.startswith("1 Treffer"), found


@pytest.mark.servers
def test_check_reports_the_real_servers(tmp_path: Path, real_servers) -> None:
    from tests.server_env import isolated_env

    env = isolated_env(real_servers.env(), "check")
    result = subprocess.run(
        [sys.executable, "-m", "dms.cli", "check"], env={**os.environ, **env, "DMS_DATA_DIR": str(tmp_path)},
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for name, where in (("store", "S3"), ("catalog", "postgresql"), ("index", "OpenSearch"), ("queue", "Celery"),
                        ("archive", "Object Lock")):
        assert any(row.startswith(name) and where in row and row.endswith(": ok") for row in lines), result.stdout
    # a backend that does not answer is reported, with exit code 1
    down = {**env, "DMS_OPENSEARCH_URL": "http://127.0.0.1:9", "DMS_DATA_DIR": str(tmp_path)}
    failed = subprocess.run([sys.executable, "-m", "dms.cli", "check"], env={**os.environ, **down},
                            capture_output=True, text=True, timeout=120)
    assert failed.returncode == 1 and "FEHLER" in failed.stdout
