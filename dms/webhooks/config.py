"""Webhook endpoints and the delivery policy, from the settings.

Endpoints come from `[[webhooks]]` tables of the TOML configuration (`url`, `secret_env` naming
the environment variable with the secret, optional `events`) and from `DMS_WEBHOOK_URLS`
(comma-separated) with `DMS_WEBHOOK_SECRET`. A broken configuration is a `bad_config` error at
start, never a silently dropped event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from dms.config import Settings
from dms.domain import DocumentStatus
from dms.errors import ValidationError

# document status → event name; only these final states are published
STATUS_EVENTS: dict[str, str] = {
    DocumentStatus.FILED: "document.filed",
    DocumentStatus.NEEDS_REVIEW: "document.needs_review",
    DocumentStatus.FAILED: "document.failed",
}
EVENTS: frozenset[str] = frozenset(STATUS_EVENTS.values())
MIN_SECRET = 16
URLS_ENV = "DMS_WEBHOOK_URLS"
SECRET_ENV = "DMS_WEBHOOK_SECRET"


@dataclass(frozen=True)
class Target:
    """An endpoint as the outbox knows it: its URL and the events it subscribed to (no secret)."""

    url: str
    events: frozenset[str] = EVENTS


@dataclass(frozen=True)
class Endpoint:
    url: str
    secret: str = field(repr=False)
    events: frozenset[str] = EVENTS

    @property
    def target(self) -> Target:
        return Target(self.url, self.events)


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 12
    backoff_seconds: float = 5.0
    max_backoff_seconds: float = 3600.0
    timeout_seconds: float = 10.0
    poll_seconds: float = 2.0

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failed attempt (exponential, capped)."""
        return float(min(self.max_backoff_seconds, self.backoff_seconds * 2 ** max(0, attempts - 1)))


def _bad(message: str) -> ValidationError:
    return ValidationError(message, code="bad_config")


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _bad(f"Webhook-URL {url[:100]!r} ist keine http(s)-Adresse.")
    return url


def _check_secret(secret: str | None, url: str, where: str) -> str:
    if not secret:
        raise _bad(f"Webhook {url[:100]}: das Geheimnis fehlt ({where}).")
    if len(secret) < MIN_SECRET:
        raise _bad(f"Webhook {url[:100]}: das Geheimnis ({where}) ist kürzer als {MIN_SECRET} Zeichen.")
    return secret


def _events(raw: object, url: str) -> frozenset[str]:
    if raw is None:
        return EVENTS
    if not isinstance(raw, list) or not raw or not set(raw) <= EVENTS:
        raise _bad(f"Webhook {url[:100]}: events muss eine Liste aus {', '.join(sorted(EVENTS))} sein.")
    return frozenset(raw)


def endpoints(settings: Settings) -> list[Endpoint]:
    """Every configured endpoint (TOML first, then DMS_WEBHOOK_URLS); one URL at most once."""
    env = settings.webhook_env
    found: dict[str, Endpoint] = {}
    hooks = settings.rules.get("webhooks", [])
    if not isinstance(hooks, list):
        raise _bad("webhooks muss eine Liste von [[webhooks]]-Tabellen sein.")
    for hook in hooks:
        if not isinstance(hook, dict) or not isinstance(hook.get("url"), str):
            raise _bad("Jeder [[webhooks]]-Eintrag braucht url = \"https://…\".")
        url = _check_url(hook["url"].strip())
        name = hook.get("secret_env")
        if not isinstance(name, str) or not name:
            raise _bad(f"Webhook {url[:100]}: secret_env (Name der Umgebungsvariable) fehlt.")
        found[url] = Endpoint(url, _check_secret(env.get(name), url, name), _events(hook.get("events"), url))
    for url in (u.strip() for u in re.split(r"[,\s]+", env.get(URLS_ENV, "")) if u.strip()):
        found.setdefault(url, Endpoint(_check_url(url), _check_secret(env.get(SECRET_ENV), url, SECRET_ENV)))
    return list(found.values())


def policy(settings: Settings) -> DeliveryPolicy:
    raw = settings.rules.get("webhook_delivery", {})
    defaults = DeliveryPolicy()
    try:
        return DeliveryPolicy(
            max_attempts=max(1, int(raw.get("max_attempts", defaults.max_attempts))),
            backoff_seconds=max(0.0, float(raw.get("backoff_seconds", defaults.backoff_seconds))),
            max_backoff_seconds=max(0.0, float(raw.get("max_backoff_seconds", defaults.max_backoff_seconds))),
            timeout_seconds=max(0.1, float(raw.get("timeout_seconds", defaults.timeout_seconds))),
            poll_seconds=max(0.05, float(raw.get("poll_seconds", defaults.poll_seconds))),
        )
    except (TypeError, ValueError, AttributeError) as exc:
        raise _bad(f"[webhook_delivery] ist ungültig: {exc}") from exc
