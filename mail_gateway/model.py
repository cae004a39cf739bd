"""Records shared by the gateway's parts: what arrived (Envelope), what it says (ParsedMail),
where it goes (Route) and what became of it (MailOutcome). Plain, JSON-friendly dataclasses."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

# Reasons a message is quarantined (stable codes; German messages come with them).
MALFORMED = "malformed_mime"
HEADER_TOO_LARGE = "header_too_large"
HEADER_INJECTION = "header_injection"
DANGEROUS_ATTACHMENT = "dangerous_attachment"
TOO_MANY_ATTACHMENTS = "too_many_attachments"
TOO_DEEP = "too_deep"
TOO_LARGE = "too_large"
SENDER_NOT_ALLOWED = "sender_not_allowed"
SENDER_AUTH_FAILED = "sender_auth_failed"
INTERNAL_ERROR = "internal_error"


class MailRejected(Exception):
    """The message cannot be filed as it is: it goes to the quarantine with this reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Envelope:
    """What the transport said about a message (SMTP envelope or IMAP mailbox), not its headers."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    received_at: datetime
    via: str  # "smtp" | "imap" | "api"
    peer: str | None = None
    helo: str | None = None
    tls: bool = False
    auth_user: str | None = None
    imap_ref: str | None = None  # "<mailbox>:<uidvalidity>:<uid>"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rcpt_tos"] = list(self.rcpt_tos)
        data["received_at"] = self.received_at.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Envelope:
        values = dict(data)
        values["rcpt_tos"] = tuple(values.get("rcpt_tos", ()))
        values["received_at"] = datetime.fromisoformat(values["received_at"])
        return cls(**values)


@dataclass
class Attachment:
    """One part to be filed as a document (decoded bytes; the name cleaned for display)."""

    index: int  # position among the filed parts (1, 2, ...); 0 is the mail itself
    filename: str
    content_type: str  # as declared by the mail; the pipeline detects the real type by content
    data: bytes
    inline: bool = False

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class SkippedPart:
    """A part deliberately not filed (a small inline image, a signature logo), with the reason."""

    filename: str
    content_type: str
    size: int
    reason: str


@dataclass(frozen=True)
class Forwarded:
    """The original message of a forward (inline quote or attached message/rfc822)."""

    sender: str | None
    date: str | None
    subject: str | None
    how: str  # "inline" | "attached"


@dataclass
class ParsedMail:
    message_id: str | None
    sender: str  # the From address (lower case), "" when missing
    sender_name: str | None
    to: list[str]
    cc: list[str]
    subject: str
    date: datetime | None
    text: str  # plain body, else the text of the sanitised HTML body
    html: str | None  # sanitised HTML body (nh3); the original stays in the .eml
    attachments: list[Attachment] = field(default_factory=list)
    skipped: list[SkippedPart] = field(default_factory=list)
    forwarded: list[Forwarded] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # repaired defects (broken charset, ...)

    def dedupe_key(self, envelope: Envelope) -> str:
        """Same Message-ID = same mail; without one: same sender, date and attachment hashes."""
        if self.message_id:
            basis = "mid:" + self.message_id.strip().strip("<>").lower()
        else:
            date = self.date.isoformat() if self.date else ""
            hashes = ",".join(sorted(a.sha256 for a in self.attachments))
            sender = self.sender or envelope.mail_from.lower()
            basis = f"nomid:{sender}|{date}|{self.subject}|{hashes}"
        return hashlib.sha256(basis.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True)
class Route:
    """Where a mail goes: a customer (or none: the classifiers decide per document, else the
    review inbox), an optional class/folder named in the address, and why."""

    customer_number: str | None
    document_class: str | None = None
    folder: str | None = None
    rule: str = "none"  # "recipient" | "subject" | "text" | "sender" | "none"
    reason: str = ""  # German, shown to users (why this customer, or why none)
    suggestions: tuple[str, ...] = ()  # candidate customers when the sender matched several


@dataclass
class FiledPart:
    filename: str
    document_id: str
    outcome: str  # "created" | "linked" (already in that customer file) | "unchanged" (refiled)
    customer_number: str | None = None
    folder: str | None = None


@dataclass
class MailOutcome:
    """What `filing.file_message` did with one message."""

    status: str  # "filed" | "duplicate" | "quarantined"
    mail_id: str  # catalog id of the mail message record
    mail_document_id: str | None = None
    parts: list[FiledPart] = field(default_factory=list)
    route: Route | None = None
    reason: str | None = None  # quarantine reason text
    code: str | None = None  # quarantine reason code

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
