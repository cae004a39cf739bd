"""Settings: environment variables for deployment, a TOML file for the business rules.

Unset backend variables mean the embedded default (local files, SQLite, embedded
full-text index, in-process worker threads).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from dms.errors import ValidationError

ENV_VARS: dict[str, str] = {
    "DMS_DATA_DIR": "Folder for all embedded data (objects, catalog, index). Default: ./data",
    "DMS_CONFIG": "Path of a TOML file overriding dms/defaults.toml (Aktenplan, classes, rules, retention).",
    "DMS_DATABASE_URL": "SQLAlchemy URL of the catalog. Default: SQLite in the data folder.",
    "DMS_S3_ENDPOINT": "S3 endpoint URL (e.g. http://minio:9000). Unset: local object store.",
    "DMS_S3_ACCESS_KEY": "S3 access key.",
    "DMS_S3_SECRET_KEY": "S3 secret key.",
    "DMS_S3_REGION": "S3 region. Default: us-east-1",
    "DMS_S3_BUCKET": "Bucket for documents (versioned). Default: kundenakte-documents",
    "DMS_S3_ARCHIVE_BUCKET": "Bucket with Object Lock for the WORM archive. Default: kundenakte-archive",
    "DMS_OPENSEARCH_URL": "OpenSearch URL. Unset: embedded full-text index.",
    "DMS_OPENSEARCH_INDEX": "Alias name of the search index. Default: kundenakte-documents",
    "DMS_REDIS_URL": "Redis URL of the Celery broker. Unset: in-process worker threads.",
    "DMS_CELERY_QUEUE": (
        "Name of the Celery queue in Redis; deployments sharing one Redis need different names. "
        "Default: kundenakte"
    ),
    "DMS_WORKERS": "Worker threads of the in-process queue. Default: 2",
    "DMS_CELERY_VISIBILITY_TIMEOUT": (
        "Seconds until Celery delivers an unacknowledged task again (worker lost). "
        "Must exceed the longest ingest. Default: 3600"
    ),
    "DMS_AUTH_MODE": (
        "'local' (no authentication, single-user laptop mode; `dms serve` listens on loopback only) or "
        "'users' (API tokens and user passwords, see `dms users` and `dms tokens`). Default: local"
    ),
    "DMS_SECRET_KEY": (
        "Key that signs the web client's short-lived message cookie; the same on every web process. "
        "Default: a random key kept in DMS_DATA_DIR/.web-secret"
    ),
    "DMS_WORK_DIR": "Scratch folder of ingest attempts (OCR pages etc.). Default: DMS_DATA_DIR/work",
    # --- webhooks (dms/webhooks/config.py; more endpoints as [[webhooks]] in the TOML) ---
    "DMS_WEBHOOK_URLS": "Webhook URLs (comma-separated) that get every document event, signed with DMS_WEBHOOK_SECRET.",
    "DMS_WEBHOOK_SECRET": "HMAC-SHA256 secret (at least 16 characters) of the DMS_WEBHOOK_URLS endpoints.",
    # --- email-in (mail_gateway/settings.py; names changeable in [mail.relay] / [mail.imap]) ---
    "DMS_MAIL_IMAP_PASSWORD": "Password of the [mail.imap] mailbox read by `dms mail-poll`.",
    "DMS_MAIL_IMAP_TOKEN": "OAuth 2 bearer token of the [mail.imap] mailbox when `auth = \"xoauth2\"`.",
    "DMS_MAIL_RELAY_PASSWORD": "Password of the [mail.relay] SMTP relay that sends receipts.",
}


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_rules(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Defaults from the package, overridden by the file at `path` (if any)."""
    text = resources.files("dms").joinpath("defaults.toml").read_text(encoding="utf-8")
    rules = tomllib.loads(text)
    if path:
        try:
            with open(path, "rb") as fh:
                rules = _deep_merge(rules, tomllib.load(fh))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ValidationError(f"Konfiguration {path} ist nicht lesbar: {exc}", code="bad_config") from exc
    return rules


def _webhook_env(env: dict[str, str], rules: dict[str, Any]) -> dict[str, str]:
    """The environment the webhook endpoints are configured from (secrets stay out of the TOML)."""
    hooks = rules.get("webhooks")
    names = {str(h.get("secret_env")) for h in hooks if isinstance(h, dict)} if isinstance(hooks, list) else set()
    return {k: v for k, v in env.items() if k.startswith("DMS_WEBHOOK_") or k in names}


def _mail_env(env: dict[str, str], rules: dict[str, Any]) -> dict[str, str]:
    """The environment the mail secrets are read from (see mail_gateway/settings.py)."""
    mail = rules.get("mail", {}) if isinstance(rules.get("mail"), dict) else {}
    names = {
        str(section.get(key)) for section in (mail.get("relay", {}), mail.get("imap", {}))
        if isinstance(section, dict) for key in ("password_env", "token_env") if section.get(key)
    }
    return {k: v for k, v in env.items() if k.startswith("DMS_MAIL_") or k in names}


@dataclass(frozen=True)
class ClassSpec:
    name: str
    folder: str
    rules: tuple[dict[str, Any], ...]


@dataclass
class Settings:
    data_dir: Path = Path("data")
    database_url: str | None = None
    s3_endpoint: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_region: str = "us-east-1"
    s3_bucket: str = "kundenakte-documents"
    s3_archive_bucket: str = "kundenakte-archive"
    opensearch_url: str | None = None
    opensearch_index: str = "kundenakte-documents"
    redis_url: str | None = None
    workers: int = 2
    celery_visibility_timeout: int = 3600
    celery_queue: str = "kundenakte"
    auth_mode: str = "local"
    work_root: Path | None = None
    secret_key: str | None = field(default=None, repr=False)
    rules: dict[str, Any] = field(default_factory=load_rules)
    # DMS_WEBHOOK_* and the variables named by `[[webhooks]] secret_env` (see dms/webhooks/config.py)
    webhook_env: dict[str, str] = field(default_factory=dict, repr=False)
    # DMS_MAIL_* and the variables named by [mail.relay]/[mail.imap] (see mail_gateway/settings.py)
    mail_env: dict[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        env = dict(os.environ if environ is None else environ)
        rules = load_rules(env.get("DMS_CONFIG") or None)
        values: dict[str, Any] = {
            "data_dir": Path(env.get("DMS_DATA_DIR", "data")),
            "database_url": env.get("DMS_DATABASE_URL") or None,
            "s3_endpoint": env.get("DMS_S3_ENDPOINT") or None,
            "s3_access_key": env.get("DMS_S3_ACCESS_KEY") or None,
            "s3_secret_key": env.get("DMS_S3_SECRET_KEY") or None,
            "s3_region": env.get("DMS_S3_REGION", "us-east-1"),
            "s3_bucket": env.get("DMS_S3_BUCKET", "kundenakte-documents"),
            "s3_archive_bucket": env.get("DMS_S3_ARCHIVE_BUCKET", "kundenakte-archive"),
            "opensearch_url": env.get("DMS_OPENSEARCH_URL") or None,
            "opensearch_index": env.get("DMS_OPENSEARCH_INDEX", "kundenakte-documents"),
            "redis_url": env.get("DMS_REDIS_URL") or None,
            "workers": int(env.get("DMS_WORKERS", "2")),
            "celery_visibility_timeout": int(env.get("DMS_CELERY_VISIBILITY_TIMEOUT", "3600")),
            "celery_queue": env.get("DMS_CELERY_QUEUE") or "kundenakte",
            "auth_mode": env.get("DMS_AUTH_MODE", "local"),
            "work_root": Path(env["DMS_WORK_DIR"]) if env.get("DMS_WORK_DIR") else None,
            "secret_key": env.get("DMS_SECRET_KEY") or None,
            "rules": rules,
            "webhook_env": _webhook_env(env, rules),
            "mail_env": _mail_env(env, rules),
        }
        values.update(overrides)
        return cls(**values)

    # --- business rules, typed views over the TOML -------------------------------------------

    @property
    def folder_template(self) -> list[str]:
        return list(self.rules["aktenplan"]["folders"])

    @property
    def inbox_folder(self) -> str:
        return str(self.rules["aktenplan"]["inbox"])

    @property
    def document_classes(self) -> dict[str, ClassSpec]:
        return {
            name: ClassSpec(name, spec["folder"], tuple(spec.get("rules", ())))
            for name, spec in self.rules["classes"].items()
        }

    @property
    def fallback_class(self) -> str:
        return str(self.rules["classification"]["fallback_class"])

    @property
    def customer_number_patterns(self) -> list[str]:
        return list(self.rules["classification"]["customer_number_patterns"])

    @property
    def first_customer_number(self) -> int:
        return int(self.rules["customers"]["first_number"])

    @property
    def ocr_languages(self) -> str:
        return str(self.rules["ocr"]["languages"])

    @property
    def ocr_dpi(self) -> int:
        return int(self.rules["ocr"]["dpi"])

    @property
    def ocr_min_text_chars(self) -> int:
        return int(self.rules["ocr"]["min_text_chars"])

    @property
    def ocr_page_timeout(self) -> int:
        return int(self.rules["ocr"]["page_timeout_seconds"])

    @property
    def max_upload_bytes(self) -> int:
        return int(self.rules["ingest"]["max_upload_mb"]) * 1024 * 1024

    def limit(self, section: str, key: str) -> int:
        """An integer limit from the configuration, e.g. limit("search", "max_terms")."""
        return int(self.rules[section][key])

    @property
    def work_dir(self) -> Path:
        """Scratch space of ingest attempts (one folder per attempt, removed afterwards)."""
        return self.work_root or self.data_dir / "work"

    @property
    def retention_policies(self) -> dict[str, Any]:
        """The retention policy per document class (`retention.policy.RetentionPolicy`)."""
        from retention.policies import load_policies

        return dict(load_policies(self.rules))

    @property
    def web_secret(self) -> str:
        """DMS_SECRET_KEY, else a random key made once and kept (0600) in the data folder."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / ".web-secret"
        try:
            return path.read_text().strip() or self._new_secret(path)
        except FileNotFoundError:
            return self._new_secret(path)

    @staticmethod
    def _new_secret(path: Path) -> str:
        import secrets

        path.parent.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(48)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return path.read_text().strip()
        with os.fdopen(fd, "w") as fh:
            fh.write(secret)
        return secret

    @property
    def web(self) -> dict[str, Any]:
        """The web client's session settings (`[web]`)."""
        return dict(self.rules.get("web", {}))

    def folder_for_class(self, document_class: str) -> str:
        spec = self.document_classes.get(document_class)
        return spec.folder if spec else self.inbox_folder
