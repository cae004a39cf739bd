"""Isolated slices of the real servers: a fresh database, unique buckets and index alias."""

from __future__ import annotations

import uuid


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def fresh_postgres_database(url: str, name: str) -> str:
    """Create an empty database next to the one in `url`; returns its URL."""
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    with psycopg.connect(
        host=parsed.host, port=parsed.port, user=parsed.username, password=parsed.password,
        dbname=parsed.database, autocommit=True,
    ) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return parsed.set(database=name).render_as_string(hide_password=False)


def isolated_env(server_env: dict[str, str], name: str, redis_db: int = 0) -> dict[str, str]:
    """Every DMS_* variable for a stack of its own on the shared servers."""
    from sqlalchemy.engine import make_url

    tag = unique(name).lower()
    return {
        **server_env,
        "DMS_DATABASE_URL": fresh_postgres_database(server_env["DMS_DATABASE_URL"], tag.replace("-", "_")),
        "DMS_S3_BUCKET": f"{tag}-docs",
        "DMS_S3_ARCHIVE_BUCKET": f"{tag}-archive",
        "DMS_OPENSEARCH_INDEX": f"{tag}-idx",
        "DMS_CELERY_QUEUE": f"{tag}-tasks",  # stacks sharing one Redis never take each other's tasks
        "DMS_REDIS_URL": make_url(server_env["DMS_REDIS_URL"]).set(database=str(redis_db)).render_as_string(
            hide_password=False
        ),
    }
