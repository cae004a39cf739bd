"""The original sender, date and subject of forwarded mail.

Attached forwards (message/rfc822) are read from the attached message's headers. Inline forwards
are recognised in the body text by the blocks the common mail programs write:

- Gmail: "---------- Forwarded message ---------" / "---------- Weitergeleitete Nachricht ---------"
- Thunderbird: "-------- Original Message --------" / "-------- Weitergeleitete Nachricht --------"
- Outlook: a header block "Von:/Gesendet:/An:/Betreff:" or "From:/Sent:/To:/Subject:" (optionally
  after "-----Ursprüngliche Nachricht-----" / "-----Original Message-----" or a "____" line)
- Apple Mail: "Anfang der weitergeleiteten Nachricht:" / "Begin forwarded message:"

`sender` is the original sender's address in lower case (the name only when no address is given).
"""

from __future__ import annotations

import re
from email.message import Message
from email.utils import getaddresses

from mail_gateway.mime_text import header_object, header_text
from mail_gateway.model import Forwarded

_MARKER = re.compile(
    r"^-{2,}\s*(forwarded message|weitergeleitete nachricht|original message|ursprüngliche nachricht)\s*-{2,}\s*$"
    r"|^(anfang der weitergeleiteten nachricht|begin forwarded message)\s*:\s*$",
    re.IGNORECASE,
)
_LABELS = {
    "from": "sender", "von": "sender",
    "date": "date", "datum": "date", "sent": "date", "gesendet": "date",
    "subject": "subject", "betreff": "subject",
    "to": "to", "an": "to", "cc": "cc", "reply-to": "to", "antwort an": "to",
}
_LABEL_LINE = re.compile(r"^\**\s*([A-Za-zäöüÄÖÜ][A-Za-zäöüÄÖÜ -]{0,15}?)\s*:\**\s*(.*)$")
_QUOTE = re.compile(r"^(\s*>)+\s?")
_ANGLE = re.compile(r"^(.*?)\s*[<\[]\s*(?:mailto:)?([^<>\[\]\s]+@[^<>\[\]\s]+)\s*[>\]]\s*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_BLOCK_LINES = 12


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    text = _CONTROL.sub(" ", value).strip().strip("*").strip()
    return text or None


def format_sender(value: str | None) -> str | None:
    """The address (lower case) from 'Name <address>', 'Name [mailto:address]' or a bare address;
    the name alone when no address is given."""
    text = _clean(value)
    if not text:
        return None
    match = _ANGLE.match(text)
    if match:
        return match.group(2).lower()
    if "@" in text and " " not in text:
        return text.strip("<>").lower()
    return text


def attached(message: Message) -> Forwarded:
    """The forward recorded from an attached message's headers."""
    sender = None
    header = header_object(message, "from")
    addresses = getattr(header, "addresses", None) if header is not None else None
    if addresses:
        first = addresses[0]
        sender = format_sender(first.addr_spec) or format_sender(first.display_name)
    if sender is None:
        text, _ = header_text(message, "from")
        pairs = getaddresses([text]) if text else []
        sender = format_sender(pairs[0][1]) if pairs and pairs[0][1] else format_sender(text)
    date, _ = header_text(message, "date")
    subject, _ = header_text(message, "subject")
    return Forwarded(sender=sender, date=_clean(date), subject=_clean(subject), how="attached")


def _read_block(lines: list[str], start: int) -> tuple[dict[str, str], int]:
    """Labelled lines from `start` on (up to two blank lines before the first label skipped)."""
    found: dict[str, str] = {}
    index = start
    while index < len(lines) and not lines[index] and index < start + 2:
        index += 1
    limit = index + _BLOCK_LINES
    while index < min(len(lines), limit):
        match = _LABEL_LINE.match(lines[index])
        key = _LABELS.get(match.group(1).strip().lower()) if match else None
        if match is None or key is None:
            break
        found.setdefault(key, match.group(2).strip())
        index += 1
    return found, index


def _forwarded(fields: dict[str, str]) -> Forwarded:
    return Forwarded(
        sender=format_sender(fields.get("sender")),
        date=_clean(fields.get("date")),
        subject=_clean(fields.get("subject")),
        how="inline",
    )


def _is_separator(line: str) -> bool:
    return bool(_MARKER.match(line)) or (len(line) >= 10 and set(line) == {"_"})


def inline(text: str) -> list[Forwarded]:
    """Inline forwards found in a body text, in order."""
    lines = [_QUOTE.sub("", line).strip() for line in text.splitlines()]
    found: list[Forwarded] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        fields: dict[str, str] = {}
        end = index + 1
        if _is_separator(line):
            fields, end = _read_block(lines, index + 1)
            if not ("sender" in fields or "subject" in fields):
                fields = {}
        else:
            match = _LABEL_LINE.match(line)
            if match and _LABELS.get(match.group(1).strip().lower()) == "sender":
                fields, end = _read_block(lines, index)
                if not ("date" in fields and "subject" in fields):  # a bare header block (Outlook)
                    fields = {}
        if fields:
            found.append(_forwarded(fields))
            index = max(end, index + 1)
        else:
            index += 1
    return found
