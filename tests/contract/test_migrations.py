"""Alembic migrations build exactly the schema of dms/catalog/models.py, on PostgreSQL and SQLite."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from dms.catalog import Catalog, migrate
from dms.catalog.catalog import make_engine
from dms.catalog.models import Base
from tests.server_env import fresh_postgres_database, unique


def _schema_diff(url: str) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.servers)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    env = request.getfixturevalue("server_env")
    return fresh_postgres_database(env["DMS_DATABASE_URL"], unique("migrate").replace("-", "_"))


def test_migrated_schema_equals_the_models(empty_url: str) -> None:
    assert migrate.current(empty_url) is None
    assert migrate.upgrade(empty_url) == migrate.head()
    assert migrate.current(empty_url) == migrate.head()
    assert _schema_diff(empty_url) == []


def test_upgrade_is_idempotent_and_safe_in_parallel(empty_url: str) -> None:
    workers = 4 if empty_url.startswith("postgresql") else 1  # SQLite: one writer by design
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(lambda _: migrate.upgrade(empty_url), range(4)))
    assert results == [migrate.head()] * 4
    assert _schema_diff(empty_url) == []


def test_a_database_from_create_all_is_adopted_with_its_data(empty_url: str) -> None:
    catalog = Catalog(empty_url)
    catalog.create_schema()
    customer = catalog.create_customer("Alt GmbH", folders=["01 Stammdaten"])
    catalog.close()
    assert migrate.current(empty_url) is None
    assert migrate.upgrade(empty_url) == migrate.head()
    catalog = Catalog(empty_url)
    try:
        assert catalog.get_customer(customer.number).name == "Alt GmbH"
    finally:
        catalog.close()


def test_downgrade_to_base_removes_every_table(empty_url: str) -> None:
    from alembic import command
    from sqlalchemy import inspect

    migrate.upgrade(empty_url)
    engine = make_engine(empty_url)
    try:
        with engine.begin() as conn:
            command.downgrade(migrate.alembic_config(conn), "base")
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
