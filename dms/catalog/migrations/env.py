"""Alembic environment of the catalog.

Run through `dms.catalog.migrate` (which passes an open connection in `config.attributes`),
or by the `alembic` command with `sqlalchemy.url` in a developer's alembic.ini.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from dms.catalog.catalog import make_engine
from dms.catalog.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(**kwargs: object) -> None:
    context.configure(target_metadata=target_metadata, compare_type=True, **kwargs)


def run_offline() -> None:
    """Emit SQL instead of running it (`alembic upgrade --sql`)."""
    _configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    # SQLite cannot ALTER most things: later revisions use batch mode there.
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    engine = make_engine(str(url))
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
