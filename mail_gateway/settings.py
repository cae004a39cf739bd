"""Typed view of the `[mail]` section of the configuration (dms/defaults.toml) and its secrets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dms.config import Settings
from dms.errors import ValidationError

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


@dataclass(frozen=True)
class RelaySettings:
    host: str
    port: int
    starttls: bool
    username: str
    password: str | None
    from_address: str


@dataclass(frozen=True)
class ImapSettings:
    host: str
    port: int
    security: str  # "ssl" | "starttls" | "none"
    username: str
    auth: str  # "password" | "xoauth2"
    password: str | None
    token: str | None
    mailbox: str
    processed_folder: str
    failed_folder: str
    poll_seconds: float
    ca_file: str

    @property
    def configured(self) -> bool:
        return bool(self.host and self.username)


@dataclass(frozen=True)
class MailSettings:
    domains: tuple[str, ...]
    local_part: str
    separator: str
    general_addresses: tuple[str, ...]
    subject_token_prefix: str
    allowed_senders: tuple[str, ...]
    disallowed_sender_action: str  # "refuse" | "quarantine"
    host: str
    port: int
    tls_cert: str
    tls_key: str
    require_tls: bool
    auth_required: bool
    auth_require_tls: bool
    sender_auth: str  # "none" | "record" | "enforce"
    dns_servers: tuple[str, ...]
    max_message_bytes: int
    max_attachments: int
    max_depth: int
    max_header_bytes: int
    max_header_line_bytes: int
    min_inline_image_bytes: int
    combine_images: bool
    blocked_extensions: frozenset[str]
    spool_dir: Path
    receipt: bool
    relay: RelaySettings
    imap: ImapSettings

    @classmethod
    def from_settings(cls, settings: Settings) -> MailSettings:
        mail: dict[str, Any] = dict(settings.rules.get("mail", {}))
        relay: dict[str, Any] = dict(mail.get("relay", {}))
        imap: dict[str, Any] = dict(mail.get("imap", {}))
        env = settings.mail_env

        def secret(name: Any) -> str | None:
            return env.get(str(name)) or None if name else None

        action = str(mail.get("disallowed_sender_action", "refuse"))
        if action not in ("refuse", "quarantine"):
            raise ValidationError(f"[mail] disallowed_sender_action {action!r}: erlaubt sind refuse, quarantine.",
                                  code="bad_config")
        sender_auth = str(mail.get("sender_auth", "none"))
        if sender_auth not in ("none", "record", "enforce"):
            raise ValidationError(f"[mail] sender_auth {sender_auth!r}: erlaubt sind none, record, enforce.",
                                  code="bad_config")
        security = str(imap.get("security", "ssl"))
        if security not in ("ssl", "starttls", "none"):
            raise ValidationError(f"[mail.imap] security {security!r}: erlaubt sind ssl, starttls, none.",
                                  code="bad_config")
        imap_auth = str(imap.get("auth", "password"))
        if imap_auth not in ("password", "xoauth2"):
            raise ValidationError(f"[mail.imap] auth {imap_auth!r}: erlaubt sind password, xoauth2.",
                                  code="bad_config")
        spool = str(mail.get("spool_dir") or "")
        return cls(
            domains=tuple(str(d).lower().strip() for d in mail.get("domains", ()) if str(d).strip()),
            local_part=str(mail.get("local_part", "akte")).lower(),
            separator=str(mail.get("separator", "+")),
            general_addresses=tuple(str(a).lower().strip() for a in mail.get("general_addresses", ())),
            subject_token_prefix=str(mail.get("subject_token_prefix", "K-")),
            allowed_senders=tuple(str(a).lower().strip() for a in mail.get("allowed_senders", ()) if str(a).strip()),
            disallowed_sender_action=action,
            host=str(mail.get("host", "127.0.0.1")),
            port=int(mail.get("port", 2525)),
            tls_cert=str(mail.get("tls_cert", "")),
            tls_key=str(mail.get("tls_key", "")),
            require_tls=bool(mail.get("require_tls", False)),
            auth_required=bool(mail.get("auth_required", False)),
            auth_require_tls=bool(mail.get("auth_require_tls", True)),
            sender_auth=sender_auth,
            dns_servers=tuple(str(s) for s in mail.get("dns_servers", ())),
            max_message_bytes=int(float(mail.get("max_message_mb", 50)) * 1024 * 1024),
            max_attachments=int(mail.get("max_attachments", 50)),
            max_depth=int(mail.get("max_depth", 3)),
            max_header_bytes=int(float(mail.get("max_header_kb", 64)) * 1024),
            max_header_line_bytes=int(float(mail.get("max_header_line_kb", 8)) * 1024),
            min_inline_image_bytes=int(float(mail.get("min_inline_image_kb", 20)) * 1024),
            combine_images=bool(mail.get("combine_images", False)),
            blocked_extensions=frozenset(str(e).lower().lstrip(".") for e in mail.get("blocked_extensions", ())),
            spool_dir=Path(spool) if spool else settings.data_dir / "mail" / "spool",
            receipt=bool(mail.get("receipt", False)),
            relay=RelaySettings(
                host=str(relay.get("host", "")),
                port=int(relay.get("port", 25)),
                starttls=bool(relay.get("starttls", False)),
                username=str(relay.get("username", "")),
                password=secret(relay.get("password_env")),
                from_address=str(relay.get("from_address", "kundenakte@localhost")),
            ),
            imap=ImapSettings(
                host=str(imap.get("host", "")),
                port=int(imap.get("port", 993)),
                security=security,
                username=str(imap.get("username", "")),
                auth=imap_auth,
                password=secret(imap.get("password_env")),
                token=secret(imap.get("token_env")),
                mailbox=str(imap.get("mailbox", "INBOX")),
                processed_folder=str(imap.get("processed_folder", "Kundenakte/Abgelegt")),
                failed_folder=str(imap.get("failed_folder", "Kundenakte/Fehler")),
                poll_seconds=float(imap.get("poll_seconds", 60)),
                ca_file=str(imap.get("ca_file", "")),
            ),
        )

    def sender_allowed(self, address: str) -> bool:
        """Whether mail from `address` may be filed (any sender when no list is configured)."""
        if not self.allowed_senders:
            return True
        address = address.lower().strip()
        domain = address.rpartition("@")[2]
        for allowed in self.allowed_senders:
            entry = allowed.lstrip("@")
            if "@" in allowed.strip("@") and address == allowed:
                return True
            if "@" not in allowed.strip("@") and (domain == entry or domain.endswith("." + entry)):
                return True
        return False

    def listens_openly(self, host: str | None = None) -> bool:
        """True when the gateway would accept mail from beyond this machine without a sender list."""
        return (host or self.host) not in LOOPBACK_HOSTS and not self.allowed_senders
