"""Mail files: `.eml` (RFC 5322, stdlib `email`) and Outlook `.msg` (aspose-email-foss, MIT).

The text is a header block (Von, An, Cc, Datum, Betreff), the body (plain text, else HTML as text)
and the attachment names (cleaned by `safe_filename`: no paths, control or bidi characters);
attachments are not ingested separately here. A `.msg` is converted to an `EmailMessage` and then
takes the `.eml` path, so both share one text builder. Mails nested in mails deeper than
`[archives] max_depth`, and mails with more parts than `max_entries`, are refused (`archive_bomb`,
`too_large`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from html.parser import HTMLParser

from aspose.email_foss import msg as mapi
from aspose.email_foss.cfb import CFBReader
from aspose.email_foss.msg import PropertyTypeCode
from aspose.email_foss.msg.mapi_message import MapiPropertyCollection

from dms.config import Settings
from dms.errors import IngestError
from dms.validation import safe_filename
from ingest.context import IngestContext, PageText
from ingest.extractors.containers import (
    OLE_MAGIC,
    ArchiveLimits,
    corrupt_error,
    depth_error,
    ole_directory_entries,
    too_many_entries,
)
from ingest.extractors.office import tidy
from ingest.extractors.plain import decode_text

_BLOCK_TAGS = {
    "p", "div", "br", "li", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "hr",
    "section", "article", "header", "footer", "ul", "ol", "dl", "dt", "dd",
}
_SKIP_TAGS = {"script", "style", "head", "title", "template"}


class _HtmlText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self.skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append("\t")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Readable text of an HTML mail body: blocks as lines, scripts and styles dropped."""
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    lines = (re.sub(r"[ \t\r\f\v\xa0]+", " ", line).strip() for line in "".join(parser.parts).split("\n"))
    return tidy("\n".join(lines))


def mail_text(headers: Iterable[tuple[str, str]], body: str, attachments: list[str]) -> str:
    lines = [f"{label}: {value}" for label, value in headers if value]
    text = "\n".join(lines) + "\n\n" + body.strip()
    if attachments:
        text += "\n\nAnhänge:\n" + "\n".join(f"- {name}" for name in attachments)
    return text.strip()


def _format_date(value: datetime | None, raw: str = "") -> str:
    return value.strftime("%d.%m.%Y %H:%M") if value is not None else raw


# --- .eml ------------------------------------------------------------------------------------------


def _part_text(part: Message) -> str:
    """A text part's content; unknown or wrong charsets fall back to a lenient decode."""
    try:
        content = part.get_content() if isinstance(part, EmailMessage) else None
        if isinstance(content, str):
            return content
    except (LookupError, UnicodeError, ValueError, AssertionError):
        pass
    payload = part.get_payload(decode=True)
    return decode_text(payload) if isinstance(payload, bytes) else ""


def attachment_name(name: object, content_type: str = "") -> str:
    """An attachment's name as listed in the text: cleaned like every stored file name."""
    cleaned = safe_filename(name if isinstance(name, str) else None, default="")
    return cleaned or f"(ohne Namen, {content_type or 'unbekannter Typ'})"


def check_mail_structure(message: Message, limits: ArchiveLimits) -> None:
    """Refuse mails nested in mails deeper than `max_depth` and mails with more than `max_entries` parts.

    Walked without recursion; the top-level mail is depth 0, a mail attached to it depth 1, and so on.
    """
    pending: list[tuple[Message, int]] = [(message, 0)]
    parts = 0
    while pending:
        part, depth = pending.pop()
        parts += 1
        if parts > limits.max_entries:
            raise too_many_entries("E-Mail-Datei", parts, limits)
        payload = part.get_payload() if part.is_multipart() else None
        if not isinstance(payload, list):
            continue
        nested = depth + 1 if part.get_content_type() == "message/rfc822" else depth
        if nested > limits.max_depth:
            raise depth_error("E-Mail-Datei", nested, limits)
        pending.extend((child, nested) for child in payload if isinstance(child, Message))


def _eml_parts(message: EmailMessage) -> tuple[str, list[str]]:
    body = message.get_body(preferencelist=("plain", "html"))
    text = ""
    if body is not None:
        text = _part_text(body)
        if body.get_content_type() == "text/html":
            text = html_to_text(text)
        elif not text.strip():  # an empty plain alternative: fall back to the HTML one
            html = message.get_body(preferencelist=("html",))
            text = html_to_text(_part_text(html)) if html is not None else ""
    attachments = []
    for part in message.walk():
        if part is body or part.get_content_maintype() == "multipart":
            continue
        filename = part.get_filename()
        if filename or part.get_content_disposition() == "attachment":
            attachments.append(attachment_name(filename, part.get_content_type()))
    return text, attachments


def _eml_text(message: EmailMessage, fallback: Mapping[str, str] | None = None) -> str:
    """The text of a parsed (or converted) mail; `fallback` fills header labels the message leaves empty."""
    date_header = message.get("date")
    headers = [
        ("Von", str(message.get("from", ""))),
        ("An", str(message.get("to", ""))),
        ("Cc", str(message.get("cc", ""))),
        ("Datum", _format_date(getattr(date_header, "datetime", None), str(date_header or ""))),
        ("Betreff", str(message.get("subject", ""))),
    ]
    if fallback:
        headers = [(label, value or fallback.get(label, "")) for label, value in headers]
    body, attachments = _eml_parts(message)
    return mail_text(headers, body, attachments)


def extract_eml(ctx: IngestContext, settings: Settings) -> None:
    try:
        message = BytesParser(policy=policy.default).parsebytes(ctx.data)
        if not isinstance(message, EmailMessage) or not message.keys():
            raise ValueError("keine Kopfzeilen")
        check_mail_structure(message, ArchiveLimits.of(settings))
        text = _eml_text(message)
    except IngestError:
        raise
    except Exception as exc:  # the email package's header parser has raised odd errors on hostile input
        raise corrupt_error("E-Mail-Datei", exc) from exc
    if message.defects:
        ctx.warn("Die E-Mail ist nicht ganz normgerecht aufgebaut; der Text kann unvollständig sein.")
    ctx.pages = [PageText(1, text, "text_layer")]


# --- .msg ------------------------------------------------------------------------------------------

# MAPI property ids ([MS-OXPROPS]) beyond what aspose-email-foss maps onto `EmailMessage` headers.
_CLIENT_SUBMIT_TIME = 0x0039
_SENT_REPRESENTING_NAME = 0x0042
_TRANSPORT_HEADERS = 0x007D
_SENDER_NAME = 0x0C1A
_SENDER_EMAIL_ADDRESS = 0x0C1F
_DISPLAY_CC = 0x0E03
_DISPLAY_TO = 0x0E04
_RTF_COMPRESSED = 0x1009
_BODY_HTML = 0x1013
_DISPLAY_NAME = 0x3001  # an attachment's display name
_RECIPIENT_SMTP_ADDRESS = 0x39FE
_INTERNET_CODEPAGE = 0x3FDE
_SENDER_SMTP_ADDRESS = 0x5D01
_STRING = int(PropertyTypeCode.PTYP_STRING)
_STRING8 = int(PropertyTypeCode.PTYP_STRING8)
_BINARY = int(PropertyTypeCode.PTYP_BINARY)
_TIME = int(PropertyTypeCode.PTYP_TIME)
_CODEPAGES = {65001: "utf-8-sig", 1200: "utf-16-le", 1201: "utf-16-be", 20127: "ascii", 28591: "latin-1",
              28592: "iso8859-2", 28605: "iso8859-15", 50220: "iso2022-jp", 51932: "euc-jp"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def _text_property(properties: MapiPropertyCollection, property_id: int) -> str:
    for property_type in (_STRING, _STRING8):
        prop = properties.get(property_id, property_type)
        if prop is not None and isinstance(prop.value, str) and prop.value.strip("\x00").strip():
            return _CONTROL.sub(" ", prop.value).strip()
    return ""


_EMBEDDED_MESSAGE = "__substg1.0_3701000D"  # the storage of a message attached to a message


def _check_cfb_tree(cfb: CFBReader, size: int, limits: ArchiveLimits | None = None) -> None:
    """Refuse directory trees that share entries, or streams that claim more bytes than the file holds;
    with `limits` also more entries than `max_entries` (`too_large`) and messages nested in messages
    deeper than `max_depth` (`archive_bomb`).

    The MSG reader walks the tree recursively and reads every stream, so a shared subtree or many streams
    on one sector chain would multiply time and memory (a bomb); a sound file has neither.
    """
    limits = limits or ArchiveLimits()
    if cfb.directory_entry_count > limits.max_entries * 4:  # unreachable entries cost little, but not nothing
        raise too_many_entries("Outlook-Datei", cfb.directory_entry_count, limits)
    seen = {0}
    pending = [(0, 0)]
    total = 0
    while pending:
        parent, depth = pending.pop()
        for child in cfb.iter_children(parent):
            if child.stream_id in seen:
                raise ValueError("Verzeichniseintrag mehrfach verwendet")
            seen.add(child.stream_id)
            if len(seen) > limits.max_entries:
                raise too_many_entries("Outlook-Datei", len(seen), limits)
            if child.is_storage():
                nested = depth + 1 if child.name.upper() == _EMBEDDED_MESSAGE.upper() else depth
                if nested > limits.max_depth:
                    raise depth_error("Outlook-Datei", nested, limits)
                pending.append((child.stream_id, nested))
            else:
                total += min(child.stream_size, size)
    if total > size:
        raise ValueError("Datenströme größer als die Datei")


def _open_msg(data: bytes, limits: ArchiveLimits | None = None) -> mapi.MapiMessage:
    # aspose-email-foss opens a path (`from_file`) or parses bytes held in memory (`CFBReader(data)`).
    # Only the latter is used: it has no stream API, but its constructor never reads the bytes as a path.
    cap = 4 * (limits or ArchiveLimits()).max_entries  # unreachable entries cost little, but not nothing
    counted = ole_directory_entries(data, cap)
    if counted > cap:
        raise too_many_entries("Outlook-Datei", counted, limits or ArchiveLimits())
    cfb = CFBReader(data)
    _check_cfb_tree(cfb, len(data), limits)
    with mapi.MsgReader(cfb) as reader:
        return mapi.MapiMessage.from_msg_document(mapi.MsgDocument.from_reader(reader))


def _decode_html(data: bytes, codepage: object) -> str:
    if isinstance(codepage, int) and codepage > 0:
        encoding = _CODEPAGES.get(codepage, f"cp{codepage}")
        try:
            return data.decode(encoding).rstrip("\x00")
        except (LookupError, UnicodeError):
            pass
    return decode_text(data).rstrip("\x00")


def _prepare(item: mapi.MapiMessage) -> None:
    """Fix up what `to_email_message` would get wrong for indexing: decode the HTML body by its code page
    (the library assumes UTF-8), prefer SMTP over Exchange (X.500) addresses, name unnamed attachments and
    drop attachment contents: only the names are indexed, and converting embedded messages recursively
    (each level base64-encoded into the next) grows exponentially with the nesting depth."""
    properties = item.properties
    html = properties.get(_BODY_HTML, _BINARY)
    if html is not None and isinstance(html.value, bytes) and properties.get(_BODY_HTML, _STRING) is None:
        codepage = properties.get(_INTERNET_CODEPAGE, int(PropertyTypeCode.PTYP_INTEGER32))
        decoded = _decode_html(html.value, codepage.value if codepage is not None else None)
        item.set_property(_BODY_HTML, _STRING, decoded)
    sender = _text_property(properties, _SENDER_SMTP_ADDRESS) or _text_property(properties, _SENDER_EMAIL_ADDRESS)
    properties.remove(_SENDER_EMAIL_ADDRESS)
    if "@" in sender:
        item.set_property(_SENDER_EMAIL_ADDRESS, _STRING, sender)
    for recipient in item.recipients:
        address = _text_property(recipient.properties, _RECIPIENT_SMTP_ADDRESS) or recipient.email_address or ""
        recipient.email_address = address if "@" in address else None
        name = _CONTROL.sub(" ", recipient.display_name or "").strip()
        recipient.display_name = name if name and name != recipient.email_address else None
    for attachment in item.attachments:
        attachment.data = b""
        embedded = attachment.embedded_message
        name = attachment.filename or _text_property(attachment.properties, _DISPLAY_NAME)
        if not name and embedded is not None and embedded.subject:
            name = f"{embedded.subject}.msg"
        attachment.filename = safe_filename(name, default="") or None
        attachment.embedded_message = None  # still listed: `attach_method` keeps it a message/rfc822 part


def _msg_fallback(item: mapi.MapiMessage) -> dict[str, str]:
    """Header values from MAPI properties, for labels the converted message leaves empty."""
    properties = item.properties
    submitted = properties.get(_CLIENT_SUBMIT_TIME, _TIME)
    return {
        "Von": _text_property(properties, _SENDER_NAME) or _text_property(properties, _SENT_REPRESENTING_NAME),
        "An": _text_property(properties, _DISPLAY_TO),
        "Cc": _text_property(properties, _DISPLAY_CC),
        "Datum": _format_date(submitted.value) if submitted and isinstance(submitted.value, datetime) else "",
        "Betreff": _CONTROL.sub(" ", item.subject or "").strip(),
    }


def _to_email(ctx: IngestContext, item: mapi.MapiMessage) -> EmailMessage:
    _prepare(item)
    try:
        return item.to_email_message()
    except Exception:  # odd transport headers (copied from the original mail) must not cost the whole mail
        if not item.properties.get(_TRANSPORT_HEADERS):
            raise
    item.properties.remove(_TRANSPORT_HEADERS)
    ctx.warn("Die Kopfzeilen der Outlook-Nachricht sind nicht lesbar; der Text kann unvollständig sein.")
    return item.to_email_message()


def extract_outlook_msg(ctx: IngestContext, settings: Settings) -> None:
    if not ctx.data.startswith(OLE_MAGIC):
        raise corrupt_error("Outlook-Datei", "kein OLE-Container")
    try:
        item = _open_msg(ctx.data, ArchiveLimits.of(settings))
        text = _eml_text(_to_email(ctx, item), _msg_fallback(item))
        rtf_only = not (item.body or "").strip() and not (item.body_html or "").strip() and bool(
            item.properties.get(_RTF_COMPRESSED))
    except IngestError:
        raise
    except Exception as exc:  # the CFB/MSG reader and the conversion raise assorted errors on broken files
        raise corrupt_error("Outlook-Datei", exc) from exc
    if rtf_only:
        ctx.warn("Die Outlook-Nachricht enthält ihren Text nur als RTF; dieser wird nicht gelesen.")
    ctx.pages = [PageText(1, text, "text_layer")]
