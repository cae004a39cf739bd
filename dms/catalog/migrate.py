"""Schema migrations of the catalog (Alembic), driven from code: no alembic.ini at runtime.

The scripts live in `dms/catalog/migrations/`. `upgrade` is safe to call from several processes
at once on PostgreSQL (an advisory lock serialises them) and adopts a database that an older
release created with `metadata.create_all` (no `alembic_version` table yet) by stamping the
initial revision first.

New revision (developers): `python -m dms.catalog.migrate revision "what changed" <database url>`.
"""

from __future__ import annotations

import sys

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, text

from dms.catalog.catalog import make_engine

SCRIPT_LOCATION = "dms.catalog:migrations"
INITIAL_REVISION = "0001"
LOCK_KEY = 0x6B756E64656E  # pg_advisory_xact_lock key, "kunden" in hex


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    """A programmatic Alembic config; the connection (or URL) goes to env.py via attributes."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if connection is not None:
        config.attributes["connection"] = connection
    if url is not None:
        config.attributes["url"] = url
    return config


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(url: str, revision: str = "head") -> str | None:
    """Bring the catalog at `url` to `revision`; returns the revision it is at afterwards."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
            config = alembic_config(conn)
            if _current(conn) is None and inspect(conn).has_table("documents"):
                command.stamp(config, INITIAL_REVISION)  # created by create_all before migrations existed
            command.upgrade(config, revision)
            return _current(conn)
    finally:
        engine.dispose()


def current(url: str) -> str | None:
    """The revision the catalog at `url` is at; None for an empty or unversioned database."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return _current(conn)
    finally:
        engine.dispose()


def head() -> str | None:
    """The newest revision in the scripts."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "revision":
        # Autogenerate against a database that is at head (e.g. a fresh SQLite file after upgrade).
        upgrade(argv[2])
        command.revision(alembic_config(url=argv[2]), message=argv[1], autogenerate=True)
        return 0
    print('usage: python -m dms.catalog.migrate revision "message" <database url>', file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
