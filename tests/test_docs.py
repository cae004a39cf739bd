"""Every setting and every endpoint is documented in the README (a test fails otherwise)."""

from __future__ import annotations

import re
from pathlib import Path

from dms.config import ENV_VARS, Settings
from dms.web import create_app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_environment_variable_is_documented() -> None:
    missing = [name for name in ENV_VARS if f"`{name}`" not in README]
    assert not missing, f"undocumented settings: {missing}"


def test_every_endpoint_is_documented(tmp_path) -> None:
    app = create_app(Settings.from_env({"DMS_DATA_DIR": str(tmp_path)}))
    def shape(path: str) -> str:  # placeholder names may differ: <id> vs <document_id>
        return re.sub(r"<[^>]+>", "<>", path)

    documented = {(m, shape(p)) for m, p in re.findall(r"`(GET|POST|PATCH|PUT|DELETE) (/api/[^`]*)`", README)}
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = shape(rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if (method, path) not in documented:
                missing.append(f"{method} {path}")
    assert not missing, f"undocumented endpoints: {missing}"
    app.extensions["dms"].close()


def test_every_limit_is_documented() -> None:
    """Each key of the limit sections of dms/defaults.toml appears in the README's tables."""
    settings = Settings.from_env({})
    missing = []
    for section in ("ingest", "archives", "api"):
        for key in settings.rules[section]:
            if f"`{section}.{key}`" not in README:
                missing.append(f"{section}.{key}")
    missing += [f"search.{key}" for key in settings.rules["search"] if f"`{key}`" not in README]
    assert not missing, f"undocumented limits: {missing}"


def test_every_mail_setting_is_documented() -> None:
    """Each key of [mail], [mail.relay] and [mail.imap] appears in the README's mail settings table."""
    mail = Settings.from_env({}).rules["mail"]
    keys = [f"mail.{k}" for k, v in mail.items() if not isinstance(v, dict)]
    keys += [f"mail.{section}.{k}" for section in ("relay", "imap") for k in mail[section]]
    missing = [key for key in keys if f"`{key}`" not in README]
    assert not missing, f"undocumented mail settings: {missing}"
