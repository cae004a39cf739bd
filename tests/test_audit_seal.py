"""Sealing the audit trail into the WORM archive (issue #12), on embedded defaults.

`dms audit seal` and `dms audit verify` run as subprocesses on a real catalog and the embedded
archive (data folder `archive/`). The chain is rewritten in the database with the project's own
hash function, consistently, so that the plain chain check passes: only the sealed copy shows it.
The same on the real MinIO and PostgreSQL: tests/scaleout/test_audit_seal_s3.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dms.app.tasks import AUDIT_SEAL_TASK, run_task
from dms.catalog import Catalog, migrate
from dms.catalog.audit import AuditFilter
from dms.catalog.audit_chain import entry_hash
from dms.catalog.models import AuditRow, AuditSealRow
from dms.config import Settings
from dms.errors import Forbidden
from dms.queue.celery_app import beat_schedule
from dms.services import Services
from dms.storage.base import ArchiveStore
from dms.storage.local_archive import LocalArchiveStore
from retention.policy import BERLIN, year_end

PREFIX = "archive/audit/"


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dms.cli", *args], env=env, capture_output=True, text=True,
                          timeout=300)


@dataclass
class Trail:
    """A catalog with audit entries, the environment of the CLI on it and its archive."""

    env: dict[str, str]
    catalog: Catalog
    archive: ArchiveStore

    def add(self, n: int, action: str = "document.download") -> list[int]:
        return [self.catalog.audit.record("anna", action, "document", f"doc-{i}", version=1, ip="10.1.1.1")
                for i in range(n)]

    def seal(self) -> subprocess.CompletedProcess[str]:
        return cli(self.env, "audit", "seal")

    def verify(self) -> subprocess.CompletedProcess[str]:
        return cli(self.env, "audit", "verify")

    def objects(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for stored in self.archive.list_versions(PREFIX):
            found.setdefault(stored.key, []).append(stored.version_id)
        return found

    def sealed_lines(self, key: str) -> list[dict[str, Any]]:
        data = self.archive.get(key)
        return [json.loads(line) for line in data.decode("utf-8").splitlines()]


def cli_env(data_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("DMS_")}
    env.update({"DMS_DATA_DIR": str(data_dir), **(extra or {})})
    return env


@pytest.fixture
def trail(tmp_path: Path) -> Iterator[Trail]:
    data = tmp_path / "data"
    data.mkdir()
    url = f"sqlite:///{(data / 'catalog.db').resolve()}"
    migrate.upgrade(url)
    catalog = Catalog(url)
    try:
        yield Trail(cli_env(data), catalog, LocalArchiveStore(data / "archive"))
    finally:
        catalog.close()


# --- helpers shared with the MinIO test ------------------------------------------------------


def rewrite_chain(catalog: Catalog, target: int, **changes: Any) -> None:
    """Change entry `target` and recompute every hash from it on, consistently (what someone with
    write access to the database can do): the plain chain check passes afterwards."""
    rows = list(catalog.audit.rows())
    prev = None
    with catalog.engine.begin() as conn:
        for row in rows:
            if row["id"] < target:
                prev = row["hash"]
                continue
            entry = {**row, **(changes if row["id"] == target else {})}
            if prev is not None:
                entry["prev_hash"] = prev
            entry["hash"] = entry_hash(entry)
            conn.execute(sa.update(AuditRow).where(AuditRow.id == row["id"]).values(
                prev_hash=entry["prev_hash"], hash=entry["hash"],
                **{name: entry[name] for name in changes if row["id"] == target},
            ))
            prev = entry["hash"]
    assert catalog.audit.verify().ok  # the rewrite is consistent: the chain alone does not show it


def assert_rewrite_found(trail: Trail, target: int) -> None:
    result = trail.verify()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Audit-Kette intakt" in result.stdout  # the plain chain check is fooled ...
    assert f"Eintrag {target}: weicht von der versiegelten Kopie" in result.stderr  # ... the seal is not
    assert "geändert: details" in result.stderr
    assert "Kettenkopf passt nicht" in result.stderr


def first_seal(trail: Trail, entries: int = 6) -> tuple[list[int], str]:
    ids = trail.add(entries)
    result = trail.seal()
    assert result.returncode == 0, result.stderr
    key = f"{PREFIX}{ids[0]}-{ids[-1]}.jsonl"
    assert f"Versiegelt: Einträge {ids[0]}–{ids[-1]} ({entries})" in result.stdout
    return ids, key


# --- sealing -----------------------------------------------------------------------------------


def test_seal_writes_the_entries_and_head_locked_into_the_archive(trail: Trail) -> None:
    ids, key = first_seal(trail)
    objects = trail.objects()
    assert set(objects) == {key, key.removesuffix(".jsonl") + ".manifest.json"}
    catalog_rows = list(trail.catalog.audit.rows())[: len(ids)]
    lines = trail.sealed_lines(key)
    assert [line["id"] for line in lines] == ids
    assert [line["hash"] for line in lines] == [row["hash"] for row in catalog_rows]

    manifest = json.loads(trail.archive.get(key.removesuffix(".jsonl") + ".manifest.json"))
    data = trail.archive.get(key)
    assert manifest["sha256"] == hashlib.sha256(data).hexdigest()
    assert (manifest["first_seq"], manifest["last_seq"], manifest["count"]) == (ids[0], ids[-1], len(ids))
    assert manifest["head_hash"] == catalog_rows[-1]["hash"] and manifest["head_seq"] == ids[-1]

    until = year_end(datetime.now(BERLIN).date(), 10)  # [audit] seal_retention_years = 10
    for version in objects[key]:
        lock = trail.archive.lock(key, version)
        assert lock.mode == "COMPLIANCE" and lock.retain_until == until

    (row,) = trail.catalog.seals.all()
    assert (row.key, row.version_id, row.first_seq, row.last_seq) == (key, objects[key][0], ids[0], ids[-1])
    assert row.head_hash == manifest["head_hash"] and row.sha256 == manifest["sha256"]

    (sealed,) = [e for e in trail.catalog.audit.entries("audit_seal", f"{ids[0]}-{ids[-1]}")]
    assert sealed["action"] == "audit.sealed" and sealed["actor"] == "cli"
    assert sealed["details"]["key"] == key and sealed["details"]["head_hash"] == row.head_hash
    assert sealed["id"] > ids[-1]  # it belongs to the next seal


def test_a_second_seal_with_nothing_new_writes_nothing(trail: Trail) -> None:
    first_seal(trail)
    before = trail.objects()
    again = trail.seal()
    assert again.returncode == 0, again.stderr
    assert "Nichts zu versiegeln" in again.stdout
    assert trail.objects() == before and len(trail.catalog.seals.all()) == 1


def test_a_second_seal_covers_only_the_new_entries(trail: Trail) -> None:
    ids, key = first_seal(trail)
    new = trail.add(3, action="customer.read")
    result = trail.seal()
    assert result.returncode == 0, result.stderr
    seals = trail.catalog.seals.all()
    assert [s.key for s in seals][0] == key and len(seals) == 2
    second = seals[1]
    assert second.first_seq == ids[-1] + 1 and second.last_seq == new[-1]
    lines = trail.sealed_lines(second.key)
    assert lines[0]["action"] == "audit.sealed"  # the first seal's own entry
    assert [line["id"] for line in lines[-3:]] == new
    assert all(line["id"] > ids[-1] for line in lines)
    assert lines[0]["prev_hash"] == seals[0].head_hash  # the second seal continues the first

    verified = trail.verify()
    assert verified.returncode == 0, verified.stderr
    assert f"Siegel intakt: 2 Siegel, {len(ids) + len(lines)} versiegelte Einträge" in verified.stdout


def test_the_setting_sets_the_retention_of_the_seal(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = tmp_path / "dms.toml"
    config.write_text("[audit]\nseal_retention_years = 3\n", encoding="utf-8")
    env = cli_env(data, {"DMS_CONFIG": str(config)})
    assert cli(env, "customers", "add", "Siegel GmbH").returncode == 0  # an audited action
    result = cli(env, "audit", "seal")
    assert result.returncode == 0, result.stderr
    archive = LocalArchiveStore(data / "archive")
    (jsonl,) = [o for o in archive.list_versions(PREFIX) if o.key.endswith(".jsonl")]
    assert archive.lock(jsonl.key, jsonl.version_id).retain_until == year_end(datetime.now(BERLIN).date(), 3)


def test_sealing_refuses_a_chain_altered_since_the_last_seal(trail: Trail) -> None:
    first_seal(trail)
    (target,) = trail.add(1)
    trail.add(2)
    with trail.catalog.engine.begin() as conn:
        conn.execute(sa.update(AuditRow).where(AuditRow.id == target).values(actor="bernd"))
    before = trail.objects()
    result = trail.seal()
    assert result.returncode == 2, result.stdout
    assert "Versiegeln verweigert" in result.stderr and f"Eintrag {target}" in result.stderr
    assert trail.objects() == before


def test_the_daily_task_seals(services: Services) -> None:
    schedule = beat_schedule(Settings.from_env({}))
    assert schedule[AUDIT_SEAL_TASK]["task"] == AUDIT_SEAL_TASK
    assert str(schedule[AUDIT_SEAL_TASK]["schedule"]).startswith("<crontab: 15 1 ")  # daily 01:15 UTC
    services.catalog.audit.record("anna", "customer.read", "customer", "10001")
    sealed = run_task(services, AUDIT_SEAL_TASK, {})["sealed"]
    assert len(sealed) == 1 and sealed[0].startswith(PREFIX)
    assert run_task(services, AUDIT_SEAL_TASK, {}) == {"sealed": []}
    (entry,) = services.catalog.audit.entries("audit_seal", sealed[0].removeprefix(PREFIX).removesuffix(".jsonl"))
    assert entry["actor"] == "scheduler"


# --- verification against the seals ------------------------------------------------------------


def test_verify_passes_on_a_sealed_intact_trail(trail: Trail) -> None:
    ids, _key = first_seal(trail)
    result = trail.verify()
    assert result.returncode == 0, result.stderr
    assert "Audit-Kette intakt" in result.stdout
    assert f"Siegel intakt: 1 Siegel, {len(ids)} versiegelte Einträge bis Eintrag {ids[-1]}" in result.stdout


def test_verify_finds_a_rewritten_chain_through_the_sealed_copy(trail: Trail) -> None:
    ids, _key = first_seal(trail)
    trail.add(2)
    rewrite_chain(trail.catalog, ids[2], details={"harmlos": True})
    assert_rewrite_found(trail, ids[2])


def test_verify_finds_the_rewrite_when_the_seal_rows_are_deleted_too(trail: Trail) -> None:
    ids, key = first_seal(trail)
    rewrite_chain(trail.catalog, ids[1], details={"harmlos": True})
    with trail.catalog.engine.begin() as conn:
        conn.execute(sa.delete(AuditSealRow))
    assert_rewrite_found(trail, ids[1])  # the archive is the reference, not the catalog's rows
    assert f"Siegel {key} steht im Archiv, fehlt aber im Katalog" in trail.verify().stderr


def test_seal_records_again_what_the_archive_has_and_the_catalog_lost(trail: Trail) -> None:
    """A crash after writing a seal, or a deleted row: the archive is the reference, `seal` adopts it."""
    _ids, key = first_seal(trail)
    with trail.catalog.engine.begin() as conn:
        conn.execute(sa.delete(AuditSealRow))
    lost = trail.verify()
    assert lost.returncode == 1 and f"Siegel {key} steht im Archiv, fehlt aber im Katalog" in lost.stderr
    result = trail.seal()
    assert result.returncode == 0, result.stderr
    assert trail.catalog.seals.all()[0].key == key
    (adopted,) = [e for e in trail.catalog.audit.page(AuditFilter(action="audit.seal_adopted"))]
    assert adopted["details"]["keys"] == [key]
    verified = trail.verify()
    assert verified.returncode == 0, verified.stderr


def test_verify_finds_a_removed_sealed_head(trail: Trail) -> None:
    """Removing the newest entries leaves an intact chain; their sealed copies show them missing."""
    ids, key = first_seal(trail)
    with trail.catalog.engine.begin() as conn:
        conn.execute(sa.delete(AuditRow).where(AuditRow.id >= ids[-1]))
    assert trail.catalog.audit.verify().ok
    result = trail.verify()
    assert result.returncode == 1
    # SQLite hands the freed id to the next entry (verify's own `audit.verify`): then it differs
    assert (f"Eintrag {ids[-1]}: ist in {key} versiegelt, fehlt aber im Katalog (entfernt)" in result.stderr
            or f"Eintrag {ids[-1]}: weicht von der versiegelten Kopie in {key} ab" in result.stderr)
    assert "Kettenkopf" in result.stderr or "fehlt aber im Katalog" in result.stderr


def test_verify_checks_the_seal_objects_themselves(trail: Trail, tmp_path: Path) -> None:
    """The embedded archive enforces its rules in software only: someone on the disk can change a
    seal object or its lock, and verify says so (the S3 Object Lock bucket refuses both)."""
    _ids, key = first_seal(trail)
    version = trail.objects()[key][0]
    root = tmp_path / "data" / "archive" / (key + ".obj")
    (root / version).write_bytes((root / version).read_bytes().replace(b"document.download", b"document.dowNload"))
    lock_file = root / (version + ".lock.json")
    lock = json.loads(lock_file.read_text())
    lock["retain_until"] = datetime(2020, 1, 1, tzinfo=UTC).isoformat()
    lock_file.write_text(json.dumps(lock))
    result = trail.verify()
    assert result.returncode == 1
    assert f"Siegel {key} (Version {version}): sha256" in result.stderr
    assert f"{key} (Version {version}) ist nicht mehr gesperrt" in result.stderr
    assert "in der versiegelten Kopie nicht stimmig" in result.stderr


def test_a_sealed_object_cannot_be_deleted(trail: Trail) -> None:
    _ids, key = first_seal(trail)
    for name, versions in trail.objects().items():
        for version in versions:
            with pytest.raises(Forbidden) as refused:
                trail.archive.delete_version(name, version)
            assert refused.value.code == "retention_active"
    assert trail.archive.get(key)  # still there
    assert trail.verify().returncode == 0
