"""The audit log's hash chain on both catalogs (SQLite and PostgreSQL): appends from many
threads and engines at once keep one chain, filters and paging agree, and migration 0004
chains the rows written before it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from dms.catalog import Catalog, migrate
from dms.catalog.audit import AuditFilter
from dms.catalog.audit_chain import GENESIS
from tests.server_env import fresh_postgres_database, unique

THREADS = 8
PER_THREAD = 25


def _chain(catalog: Catalog) -> list[dict]:
    return list(catalog.audit.rows())


def test_an_empty_log_verifies(catalog: Catalog) -> None:
    report = catalog.audit.verify()
    assert report.ok and report.checked == 0 and report.last_id is None


def test_entries_are_chained_from_genesis(catalog: Catalog) -> None:
    customer = catalog.create_customer("Kette GmbH", folders=["01 Stammdaten"])
    for n in range(3):
        catalog.audit.record("anna", "customer.read", "customer", customer.number, ip="10.0.0.1",
                             user_agent="probe", request_id=f"r{n}", nested={"ä": [1, 2.5, None]})
    rows = _chain(catalog)
    assert [row["prev_hash"] for row in rows] == [GENESIS, rows[0]["hash"], rows[1]["hash"]]
    assert all(row["customer_number"] == customer.number for row in rows)
    assert rows[0]["details"] == {"nested": {"ä": [1, 2.5, None]}}
    report = catalog.audit.verify()
    assert report.ok and report.checked == 3 and report.last_hash == rows[-1]["hash"]


@pytest.mark.parametrize("engines", ["one engine", "an engine per thread"])
def test_concurrent_appends_keep_one_chain(catalog: Catalog, engines: str) -> None:
    """8 threads append at once (a barrier starts them together); with an engine each they are
    as independent as separate processes. No append fails, none is lost, the chain is one line."""
    writers = [catalog] * THREADS if engines == "one engine" else [Catalog(catalog.url) for _ in range(THREADS)]
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def append(index: int) -> None:
        try:
            barrier.wait(30)
            for n in range(PER_THREAD):
                writers[index].audit.record(f"writer-{index}", "probe", "test", str(n))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    if engines != "one engine":
        for writer in writers:
            writer.close()
    assert not errors, errors[:3]
    rows = _chain(catalog)
    assert len(rows) == THREADS * PER_THREAD
    assert len({row["prev_hash"] for row in rows}) == len(rows)  # no fork: every predecessor claimed once
    report = catalog.audit.verify()
    assert report.ok, report.problem
    assert report.checked == THREADS * PER_THREAD
    for index in range(THREADS):  # each writer's entries in its own order
        mine = [row["object_id"] for row in rows if row["actor"] == f"writer-{index}"]
        assert mine == [str(n) for n in range(PER_THREAD)]


def test_filters_and_paging(catalog: Catalog) -> None:
    for n in range(7):
        catalog.audit.record("anna" if n % 2 else "bernd", "document.read", "document", f"doc-{n % 3}")
    everything = catalog.audit.page(AuditFilter(), limit=100)
    assert [e["id"] for e in everything] == sorted((e["id"] for e in everything), reverse=True)
    assert {e["document_id"] for e in catalog.audit.page(AuditFilter(document_id="doc-1"))} == {"doc-1"}
    assert {e["actor"] for e in catalog.audit.page(AuditFilter(actor="anna"))} == {"anna"}
    assert catalog.audit.page(AuditFilter(action="nothing")) == []
    today = datetime.now(UTC).date()
    assert len(catalog.audit.page(AuditFilter(date_from=today, date_to=today))) == 7
    assert catalog.audit.page(AuditFilter(date_to=today - timedelta(days=1))) == []
    first = catalog.audit.page(AuditFilter(), limit=3)
    second = catalog.audit.page(AuditFilter(before=first[-1]["id"]), limit=3)
    third = catalog.audit.page(AuditFilter(before=second[-1]["id"]), limit=3)
    assert [e["id"] for e in first + second + third] == [e["id"] for e in everything]


def test_a_changed_row_is_found(catalog: Catalog) -> None:
    for n in range(5):
        catalog.audit.record("anna", "document.download", "document", f"d{n}", version=1)
    target = _chain(catalog)[2]["id"]
    with catalog.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET actor = 'mallory' WHERE id = :id"), {"id": target})
    report = catalog.audit.verify()
    assert not report.ok and report.bad_id == target and report.checked == 2


# --- migration 0004 on a catalog with entries from before it --------------------------------


@pytest.fixture
def old_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "embedded":
        return f"sqlite:///{tmp_path / 'old.db'}"
    env = request.getfixturevalue("server_env")
    return fresh_postgres_database(env["DMS_DATABASE_URL"], unique("audit04").replace("-", "_"))


def test_migration_chains_the_entries_written_before_it(old_url: str) -> None:
    assert migrate.upgrade(old_url, "0003") == "0003"
    engine = sa.create_engine(old_url)
    try:
        with engine.begin() as conn:
            for n in range(4):
                conn.execute(
                    sa.text("INSERT INTO audit_log (at, actor, action, object_type, object_id, details) "
                            "VALUES (:at, 'cli', 'customer.create', 'customer', :number, :details)"),
                    {"at": datetime(2026, 11, 1, 12, n, 0, 123456, tzinfo=UTC), "number": str(10001 + n),
                     "details": '{"alt": true}'},
                )
    finally:
        engine.dispose()
    assert migrate.upgrade(old_url) == migrate.head()
    catalog = Catalog(old_url)
    try:
        rows = _chain(catalog)
        assert [row["object_id"] for row in rows] == ["10001", "10002", "10003", "10004"]
        assert rows[0]["prev_hash"] == GENESIS and rows[0]["ip"] is None
        assert catalog.audit.verify().ok
        catalog.audit.record("cli", "customer.read", "customer", "10001")  # new entries continue the chain
        report = catalog.audit.verify()
        assert report.ok and report.checked == 5
    finally:
        catalog.close()
