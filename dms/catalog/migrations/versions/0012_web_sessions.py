"""Web client sessions and the login rate limit (issue #13).

- `web_sessions`: one row per signed-in browser: sha256 of the cookie's secret (`id`), the user,
  the session's CSRF token, when it started and was last used (idle timeout), address and agent.
- `login_failures`: failed logins counted per `user:<name>` and `ip:<address>` within a window,
  and until when further attempts are refused.

Tolerant of databases that `metadata.create_all` built from newer models.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _tables() -> set[str]:
    return set(sa.inspect(op.get_bind()).get_table_names())


def upgrade() -> None:
    tables = _tables()
    if "web_sessions" not in tables:
        op.create_table(
            "web_sessions",
            sa.Column("id", sa.String(length=64), nullable=False),
            sa.Column("username", sa.String(length=64), nullable=False),
            sa.Column("csrf_token", sa.String(length=64), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("ip", sa.String(length=64), nullable=True),
            sa.Column("user_agent", sa.String(length=500), nullable=True),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index("ix_web_sessions_username", "web_sessions", ["username"], unique=False)
    if "login_failures" not in tables:
        op.create_table(
            "login_failures",
            sa.Column("key", sa.String(length=200), nullable=False),
            sa.Column("failures", sa.Integer(), nullable=False),
            sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
            sa.PrimaryKeyConstraint("key"),
        )


def downgrade() -> None:
    tables = _tables()
    if "login_failures" in tables:
        op.drop_table("login_failures")
    if "web_sessions" in tables:
        op.drop_index("ix_web_sessions_username", table_name="web_sessions")
        op.drop_table("web_sessions")
