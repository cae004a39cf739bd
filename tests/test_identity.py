"""Users, roles and API tokens: the CLI as an operator runs it, the secrets' formats, migration 0003."""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dms.identity import credentials
from dms.identity.roles import PERMISSIONS, ROLES, grants

TOKEN_RE = re.compile(r"^dms_[0-9a-f]{12}_[0-9a-f]{64}$")


def dms(data_dir: Path, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DMS_DATA_DIR": str(data_dir)}
    result = subprocess.run(
        [sys.executable, "-m", "dms.cli", *args], env=env, capture_output=True, text=True, timeout=120,
        input=stdin if stdin is not None else "",
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def rows(data_dir: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(data_dir / "catalog.db") as conn:
        return conn.execute(sql).fetchall()


def every_byte(data_dir: Path) -> bytes:
    """Everything the data folder holds (database, its WAL, objects, index)."""
    return b"".join(p.read_bytes() for p in sorted(data_dir.rglob("*")) if p.is_file())


# --- roles and secrets ---------------------------------------------------------------------


def test_the_role_table() -> None:
    assert set(ROLES) == {"admin", "clerk", "auditor"}
    assert ROLES["admin"] == set(PERMISSIONS)
    assert ROLES["clerk"] == {"documents:read", "documents:write", "customers:read", "customers:write"}
    assert ROLES["auditor"] == {"documents:read", "customers:read", "audit:read"}
    assert not any(p.endswith(":write") or p == "admin" for p in ROLES["auditor"])
    assert grants(frozenset({"admin"}), "documents:write")
    assert not grants(ROLES["clerk"], "audit:read")


def test_token_format_and_hash() -> None:
    token_id, token = credentials.new_token()
    assert TOKEN_RE.match(token) and credentials.token_id_of(token) == token_id
    assert credentials.token_matches(hashlib.sha256(token.encode()).hexdigest(), token)
    other = "1" if token[-1] == "0" else "0"  # one character changed (never the same one)
    assert not credentials.token_matches(credentials.hash_token(token), token[:-1] + other)
    for bad in ("", "dms_", token + "x", token.replace("dms_", "xyz_"), token.upper(), f"dms_{token_id}"):
        assert credentials.token_id_of(bad) is None


def test_password_hashes_are_argon2id_with_bounded_cost() -> None:
    hashed = credentials.hash_password("richtig-langes-passwort")
    assert hashed.startswith("$argon2id$") and "richtig" not in hashed
    params = credentials.HASHER
    assert params.memory_cost <= 64 * 1024 and params.time_cost <= 3 and params.parallelism <= 2
    checker = credentials.PasswordChecker()
    assert checker.verify(hashed, "richtig-langes-passwort")
    assert not checker.verify(hashed, "falsch-langes-passwort")
    assert not checker.verify(None, "richtig-langes-passwort")  # unknown user: same work, never true
    assert not checker.verify(hashed, "x" * (credentials.MAX_PASSWORD + 1))
    with pytest.raises(Exception, match="zu kurz"):
        credentials.hash_password("kurz")


def test_expiry_parsing() -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert credentials.parse_expiry("365d", now) == now + timedelta(days=365)
    assert credentials.parse_expiry("12w", now) == now + timedelta(weeks=12)
    assert credentials.parse_expiry("48h", now) == now + timedelta(hours=48)
    assert credentials.parse_expiry("2027-01-31", now) == datetime(2027, 2, 1, tzinfo=UTC)
    assert credentials.parse_expiry(None, now) is None and credentials.parse_expiry("never", now) is None
    for bad in ("0d", "-1d", "soon", "2020-01-01", "99999999d"):
        with pytest.raises(Exception):  # noqa: B017 - ValidationError or out of range, never silently accepted
            credentials.parse_expiry(bad, now)


# --- the CLI -------------------------------------------------------------------------------


def test_users_add_list_disable_passwd(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert dms(data, "users", "add", "Anna", "--role", "admin", "--display-name", "Anna Admin").stdout == (
        "anna\tadmin\tAnna Admin\n"
    )
    dms(data, "users", "add", "bernd", "--role", "clerk")
    dms(data, "users", "add", "carla", "--role", "auditor")
    again = dms(data, "users", "add", "ANNA", "--role", "clerk", check=False)
    assert again.returncode == 1 and "gibt es bereits" in again.stderr
    assert dms(data, "users", "add", "dora", "--role", "boss", check=False).returncode == 2  # click: invalid choice
    assert dms(data, "users", "add", "kein name", "--role", "clerk", check=False).returncode == 1

    listing = dms(data, "users", "list").stdout.splitlines()
    assert [line.split("\t")[:5] for line in listing] == [
        ["anna", "Anna Admin", "admin", "aktiv", "kein Passwort"],
        ["bernd", "bernd", "clerk", "aktiv", "kein Passwort"],
        ["carla", "carla", "auditor", "aktiv", "kein Passwort"],
    ]

    # the password comes from stdin (not a TTY here), never from argv
    dms(data, "users", "passwd", "anna", stdin="ein-sehr-geheimes-passwort\n")
    assert dms(data, "users", "passwd", "anna", "ein-sehr-geheimes-passwort", check=False).returncode == 2
    short = dms(data, "users", "passwd", "bernd", stdin="kurz\n", check=False)
    assert short.returncode == 1 and "zu kurz" in short.stderr
    assert dms(data, "users", "passwd", "bernd", stdin="", check=False).returncode == 1
    unknown = dms(data, "users", "passwd", "niemand", stdin="ein-sehr-geheimes-passwort\n", check=False)
    assert unknown.returncode == 1 and "Unbekannter Benutzer" in unknown.stderr
    [(hashed,)] = rows(data, "SELECT password_hash FROM users WHERE username = 'anna'")
    assert hashed.startswith("$argon2id$")
    assert b"ein-sehr-geheimes-passwort" not in every_byte(data)

    dms(data, "users", "disable", "bernd")
    states = {line.split("\t")[0]: line.split("\t")[3] for line in dms(data, "users", "list").stdout.splitlines()}
    assert states == {"anna": "aktiv", "bernd": "gesperrt", "carla": "aktiv"}
    assert dms(data, "users", "disable", "niemand", check=False).returncode == 1
    dms(data, "users", "enable", "bernd")

    actions = rows(data, "SELECT actor, action, object_id FROM audit_log WHERE object_type = 'user' ORDER BY id")
    assert ("cli", "user.password", "anna") in actions and ("cli", "user.disable", "bernd") in actions


def test_tokens_create_list_revoke(tmp_path: Path) -> None:
    data = tmp_path / "data"
    created = dms(data, "tokens", "create", "--name", "erp", "--scope", "documents:write", "--scope",
                  "customers:write", "--expires", "365d")
    token = created.stdout.strip()
    assert TOKEN_RE.match(token), created.stdout  # alone on stdout: TOKEN=$(dms tokens create …)
    assert "nur dieses eine Mal" in created.stderr and token not in created.stderr

    # only the hash is stored, nowhere the token or its secret part
    [(token_id, name, secret_hash)] = rows(data, "SELECT id, name, secret_hash FROM api_tokens")
    assert (token_id, name) == (token[4:16], "erp")
    assert secret_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token[17:].encode() not in every_byte(data)

    listing = dms(data, "tokens", "list").stdout
    assert token[17:] not in listing and token not in listing
    fields = listing.strip().split("\t")
    assert fields[:2] == ["erp", "customers:write,documents:write"]
    assert fields[3] == "zuletzt nie" and fields[4].startswith("gültig bis " + str(datetime.now(UTC).year + 1))

    again = dms(data, "tokens", "create", "--name", "erp", "--scope", "documents:read", check=False)
    assert again.returncode == 1 and "bereits" in again.stderr
    assert dms(data, "tokens", "create", "--name", "x", "--scope", "everything", check=False).returncode == 2
    assert dms(data, "tokens", "create", "--name", "x", "--scope", "admin", "--expires", "bald",
               check=False).returncode == 1
    assert dms(data, "tokens", "create", "--name", "x", check=False).returncode == 2  # a scope is required

    assert dms(data, "tokens", "revoke", "erp").stdout.strip() == "Token erp widerrufen"
    assert dms(data, "tokens", "list").stdout == ""
    assert "widerrufen" in dms(data, "tokens", "list", "--all").stdout
    assert dms(data, "tokens", "revoke", "erp", check=False).returncode == 1
    # the name is free again; the revoked row stays for the audit trail
    assert TOKEN_RE.match(dms(data, "tokens", "create", "--name", "erp", "--scope", "admin").stdout.strip())
    assert rows(data, "SELECT count(*) FROM api_tokens WHERE name = 'erp'") == [(2,)]
    actions = [a for (a,) in rows(data, "SELECT action FROM audit_log WHERE object_type = 'token' ORDER BY id")]
    assert actions == ["token.create", "token.revoke", "token.create"]


# --- migration 0003 -------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.servers)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    from tests.server_env import fresh_postgres_database, unique

    env = request.getfixturevalue("real_servers").env()
    return fresh_postgres_database(env["DMS_DATABASE_URL"], unique("identity").replace("-", "_"))


def _tables(url: str) -> set[str]:
    from sqlalchemy import inspect

    from dms.catalog.catalog import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def _schema_diff(url: str) -> list:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from dms.catalog.catalog import make_engine
    from dms.catalog.models import Base

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def _insert_0002_customer(url: str, number: str, name: str) -> None:
    """A customer row of the 0002 schema (today's models have columns that schema lacks)."""
    from sqlalchemy import text

    from dms.catalog.catalog import make_engine

    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO customers (id, number, name, kind, status, tags, folders, created_at) "
                     "VALUES (:id, :number, :name, 'legal', 'Kunde', '[]', '[\"01 Stammdaten\"]', :at)"),
                {"id": f"00000000-0000-0000-0000-{number:0>12}", "number": number, "name": name,
                 "at": datetime.now(UTC)},
            )
    finally:
        engine.dispose()


def test_0003_upgrades_a_0002_catalog(database_url: str) -> None:
    from dms.catalog import Catalog, migrate
    from dms.identity.repository import IdentityRepository

    assert migrate.upgrade(database_url, "0002") == "0002"
    assert not {"users", "api_tokens"} & _tables(database_url)
    _insert_0002_customer(database_url, "10001", "Vor Benutzern GmbH")  # as that release wrote it

    assert migrate.upgrade(database_url) == migrate.head()
    assert {"users", "api_tokens"} <= _tables(database_url)
    assert _schema_diff(database_url) == []

    catalog = Catalog(database_url)
    try:
        assert catalog.get_customer("10001").name == "Vor Benutzern GmbH"
        identity = IdentityRepository.for_catalog(catalog)
        identity.add_user("anna", "admin", display_name="Anna Ärztin")
        identity.set_password("anna", "ein-sehr-geheimes-passwort")
        expires = datetime.now(UTC) + timedelta(days=1)
        token, secret = identity.create_token("erp", ["documents:write", "customers:write"], expires_at=expires)
        stored, secret_hash = identity.token_record(token.id)  # type: ignore[misc]
        assert credentials.token_matches(secret_hash, secret) and stored.usable()
        assert stored.scopes == ("customers:write", "documents:write")
        assert abs((stored.expires_at - expires).total_seconds()) < 1  # type: ignore[operator]
        identity.touch_token(token.id)
        first_use = identity.token_record(token.id)[0].last_used_at  # type: ignore[index]
        identity.touch_token(token.id)  # within the minute: not written again
        assert first_use is not None and identity.token_record(token.id)[0].last_used_at == first_use  # type: ignore[index]
        user = identity.get_user("ANNA")
        assert (user.display_name, user.role, user.active, user.has_password) == ("Anna Ärztin", "admin", True, True)
        identity.revoke_token("erp")
        assert not identity.token_record(token.id)[0].usable()  # type: ignore[index]
    finally:
        catalog.close()

    # and back: 0002 without the new tables, the catalog's data kept
    migrate_down(database_url, "0002")
    assert not {"users", "api_tokens"} & _tables(database_url)
    assert "customers" in _tables(database_url)


def migrate_down(url: str, revision: str) -> None:
    from alembic import command

    from dms.catalog import migrate
    from dms.catalog.catalog import make_engine

    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            command.downgrade(migrate.alembic_config(conn), revision)
    finally:
        engine.dispose()


def test_0003_adopts_a_catalog_that_create_all_built(tmp_path: Path) -> None:
    """`create_schema` (create_all) already makes the new tables; the stamped upgrade must not fail on them."""
    from dms.catalog import Catalog, migrate

    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    catalog = Catalog(url)
    catalog.create_schema()
    catalog.close()
    assert {"users", "api_tokens"} <= _tables(url)
    assert migrate.upgrade(url) == migrate.head()
    assert _schema_diff(url) == []
