"""Read one mail (RFC 5322 bytes) into a `ParsedMail`: headers, body text, sanitised HTML, the
attachments to file, skipped parts, forwards and the repairs made. Pure: no services, no I/O.

Anything that makes a mail unfit for filing raises `MailRejected` (code + German message) and
nothing else ever escapes `parse_mail`, whatever the input: the gateway quarantines such a mail
and keeps serving. Order of the checks: header sizes and the part count on the raw bytes (before
the slow stdlib parser runs), usable structure (mail headers present; multiparts that cannot be
split), bare CR/NUL in the header block, CR/LF/NUL in decoded header values, nesting depth,
dangerous attachments (also inside zips), the number of attachments to file.

Repaired, with a German note in `warnings`: unknown or wrong charsets (UTF-8 / Windows-1252 /
Latin-1 fallback), broken base64 (decoded as far as possible; an attachment of which nothing
decodes sends the mail to the quarantine), a missing closing boundary and other MIME defects.
"""

from __future__ import annotations

import logging
import mimetypes
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.message import Message
from email.parser import BytesParser

from dms.validation import safe_filename
from ingest.extractors.mail import html_to_text
from mail_gateway import forwarded, images
from mail_gateway.mime_safety import (
    check_attachment,
    check_header_block,
    check_header_chars,
    check_part_headers,
    check_value,
    count_delimiters,
)
from mail_gateway.mime_text import (
    addresses,
    clean_surrogates,
    decode_bytes,
    decode_payload,
    from_address,
    header_date,
    header_text,
    message_id,
    one_line,
    part_filename,
    raw_header,
)
from mail_gateway.model import (
    DANGEROUS_ATTACHMENT,
    MALFORMED,
    TOO_DEEP,
    TOO_MANY_ATTACHMENTS,
    Attachment,
    Forwarded,
    MailRejected,
    ParsedMail,
    SkippedPart,
)
from mail_gateway.sanitize import sanitize_html
from mail_gateway.settings import MailSettings

log = logging.getLogger(__name__)

# At least one of these makes bytes a mail (trace headers such as Received alone do not).
_MAIL_HEADERS = {"from", "to", "cc", "subject", "date", "message-id", "mime-version", "reply-to", "sender",
                 "content-type"}
_CHECKED_HEADERS = (("from", "Von"), ("sender", "Sender"), ("reply-to", "Antwort an"), ("to", "An"),
                    ("cc", "Cc"), ("subject", "Betreff"), ("date", "Datum"), ("message-id", "Message-ID"))
_SIGNATURES = {"application/pkcs7-signature", "application/x-pkcs7-signature", "application/pgp-signature"}
_FORWARD_TYPES = {"message/rfc822", "message/global"}
_FORWARD_SCAN_CHARS = 1_000_000  # inline forwards are looked for in this much of the body text
_MAX_STRUCTURE_DEPTH = 50  # multiparts in multiparts (messages in messages are limited by max_depth)
_CID = re.compile(r"cid:([^\"'\s>)]+)", re.IGNORECASE)
_EXTENSIONS = {"image/jpeg": ".jpg", "text/plain": ".txt", "application/octet-stream": ".bin",
               "image/tiff": ".tif", "message/rfc822": ".eml"}
_DEFECTS = {
    "StartBoundaryNotFoundDefect": "die Grenze (boundary) eines mehrteiligen Teils fehlt",
    "CloseBoundaryNotFoundDefect": "die abschließende Grenze (boundary) fehlt",
    "NoBoundaryInMultipartDefect": "ein mehrteiliger Teil hat keine Grenze (boundary)",
    "MultipartInvariantViolationDefect": "ein mehrteiliger Teil ist nicht mehrteilig",
    "FirstHeaderLineIsContinuationDefect": "die erste Kopfzeile ist eine Fortsetzungszeile",
    "MissingHeaderBodySeparatorDefect": "Kopfzeilen und Text sind nicht sauber getrennt",
    "MisplacedEnvelopeHeaderDefect": "eine Umschlagzeile (From ) steht mitten in den Kopfzeilen",
    "InvalidMultipartContentTransferEncodingDefect": "ein mehrteiliger Teil hat eine unzulässige Kodierung",
}


@dataclass
class _Leaf:
    part: Message
    parent_type: str


@dataclass
class _Walk:
    leaves: list[_Leaf]
    forwards: list[Forwarded]
    warnings: list[str]


def parse_mail(raw: bytes, mail: MailSettings, *, skip_dangerous: bool = False) -> ParsedMail:
    """The parsed mail; raises `MailRejected` (and only that) when it must go to the quarantine.
    `skip_dangerous` (an admin released the mail): dangerous attachments are listed in `skipped`
    with the reason instead of refusing the whole mail; they are never filed."""
    try:
        return _parse(bytes(raw), mail, skip_dangerous)
    except MailRejected:
        raise
    except RecursionError as exc:
        raise MailRejected(TOO_DEEP, "Die E-Mail ist zu tief verschachtelt und kann nicht gelesen werden.") from exc
    except Exception as exc:  # the stdlib email package raises assorted errors on hostile input
        log.warning("mail parse failed: %r", exc, exc_info=True)
        raise MailRejected(
            MALFORMED, f"Die E-Mail ist beschädigt und kann nicht gelesen werden ({type(exc).__name__})."
        ) from exc


def _parse(raw: bytes, mail: MailSettings, skip_dangerous: bool = False) -> ParsedMail:
    if not raw.strip():
        raise MailRejected(MALFORMED, "Die E-Mail ist leer.")
    check_header_block(raw, mail.max_header_bytes, mail.max_header_line_bytes)
    if count_delimiters(raw, _max_parts(mail)) > _max_parts(mail):
        raise MailRejected(TOO_MANY_ATTACHMENTS, f"Die E-Mail hat zu viele Teile (mehr als {_max_parts(mail)}).")
    message = BytesParser(policy=policy.default).parsebytes(raw)
    names = {key.lower() for key in message}
    if not names & _MAIL_HEADERS:
        raise MailRejected(MALFORMED, "Das ist keine lesbare E-Mail (keine E-Mail-Kopfzeilen gefunden).")
    check_header_chars(raw)
    for name, label in _CHECKED_HEADERS:
        check_value(label, header_text(message, name)[0])
    walk = _walk(message, mail)
    warnings = walk.warnings
    body = _body(message, warnings)
    attachments, skipped = _attachments(
        [leaf for leaf in walk.leaves if id(leaf.part) not in body.part_ids], body.referenced, mail, warnings,
        skip_dangerous)
    if mail.combine_images:
        attachments = _combine(attachments, warnings)
    for number, attachment in enumerate(attachments, start=1):
        attachment.index = number
    sender, sender_name = from_address(message)
    subject, repaired = header_text(message, "subject")
    if repaired:
        warnings.append("Der Betreff war fehlerhaft kodiert und wurde ersatzweise gelesen.")
    return ParsedMail(
        message_id=message_id(message),
        sender=sender,
        sender_name=sender_name,
        to=addresses(message, "to"),
        cc=addresses(message, "cc"),
        subject=one_line(subject),
        date=header_date(message),
        text=body.text,
        html=body.html,
        attachments=attachments,
        skipped=skipped,
        forwarded=[*walk.forwards, *forwarded.inline(body.text[:_FORWARD_SCAN_CHARS])],
        warnings=list(dict.fromkeys(warnings)),
    )


# --- structure -------------------------------------------------------------------------------------


def _children(part: Message) -> list[Message]:
    try:
        payload = part.get_payload()
    except Exception:  # a leaf whose declared charset cannot even be looked up (e.g. NUL in it)
        return []
    return [child for child in payload if isinstance(child, Message)] if isinstance(payload, list) else []


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:  # a Content-Type the parser cannot read
        return "application/octet-stream"


def _max_parts(mail: MailSettings) -> int:
    return max(500, 10 * mail.max_attachments)


def _walk(message: Message, mail: MailSettings) -> _Walk:
    """All leaf parts in mail order, with depth and part-count limits, defects and forwards."""
    max_parts = _max_parts(mail)
    walk = _Walk([], [], [])
    pending: list[tuple[Message, int, int, str]] = [(message, 0, 0, "")]
    count = 0
    while pending:
        part, depth, structure, parent_type = pending.pop()
        count += 1
        if count > max_parts:
            raise MailRejected(TOO_MANY_ATTACHMENTS, f"Die E-Mail hat zu viele Teile (mehr als {max_parts}).")
        if structure > _MAX_STRUCTURE_DEPTH:
            raise MailRejected(TOO_DEEP, "Die E-Mail ist zu tief verschachtelt (mehrteilige Teile in Teilen).")
        if part is not message:
            check_part_headers(part, mail.max_header_bytes, mail.max_header_line_bytes)
        walk.warnings.extend(_defect_warnings(part))
        content_type = _content_type(part)
        children = _children(part)
        if content_type in _FORWARD_TYPES and children:
            nested = depth + 1
            if nested > mail.max_depth:
                raise MailRejected(
                    TOO_DEEP,
                    f"Die E-Mail enthält zu tief verschachtelte weitergeleitete Nachrichten "
                    f"(Tiefe {nested}, höchstens {mail.max_depth}).",
                )
            inner = children[0]
            for name, label in _CHECKED_HEADERS:
                check_value(f"{label} (weitergeleitete Nachricht)", header_text(inner, name)[0])
            walk.forwards.append(forwarded.attached(inner))
            pending.append((inner, nested, structure + 1, content_type))
        elif children:
            pending.extend((child, depth, structure + 1, content_type) for child in reversed(children))
        elif content_type.startswith("multipart/"):
            _check_split(part)
        else:
            walk.leaves.append(_Leaf(part, parent_type))
    return walk


def _check_split(part: Message) -> None:
    """A multipart whose parts cannot be told apart (no boundary, or it never occurs) but that has
    content: its attachments cannot be found, so the mail is not filed half-read."""
    try:
        payload = part.get_payload()
    except Exception:  # a payload the stdlib cannot even hand out
        payload = "?"
    if isinstance(payload, str) and payload.strip():
        raise MailRejected(
            MALFORMED,
            "Der mehrteilige Aufbau der E-Mail ist defekt (die Grenze „boundary“ fehlt oder kommt nicht vor); "
            "Text und Anhänge lassen sich nicht trennen.",
        )


def _defect_warnings(part: Message) -> Iterator[str]:
    for defect in getattr(part, "defects", ()):
        name = type(defect).__name__
        if name.startswith("InvalidBase64"):
            continue  # reported per attachment by decode_payload
        what = _DEFECTS.get(name, f"nicht normgerechter Aufbau ({name})")
        yield f"Die E-Mail wurde trotz Formfehler gelesen: {what}."


def _body_parts(message: Message) -> tuple[Message | None, Message | None]:
    def body(kind: str) -> Message | None:
        try:
            found = message.get_body(preferencelist=(kind,))  # type: ignore[attr-defined]
        except Exception:  # get_body walks broken multiparts badly
            return None
        return found if isinstance(found, Message) and not found.is_multipart() else None

    return body("plain"), body("html")


@dataclass
class _Body:
    text: str  # the plain text, else the text of the sanitised HTML
    html: str | None  # sanitised
    referenced: set[str]  # Content-IDs the HTML shows (cid:...)
    part_ids: set[int]  # the body parts (not attachments)


def _body(message: Message, warnings: list[str]) -> _Body:
    plain_part, html_part = _body_parts(message)
    plain = _text(plain_part, warnings) if plain_part is not None else ""
    html_raw = _text(html_part, warnings) if html_part is not None else ""
    html = _strip_nul(sanitize_html(html_raw)) if html_raw.strip() else None
    text = plain if plain.strip() else (html_to_text(html) if html else "")
    return _Body(
        text=_strip_nul(text),
        html=html,
        referenced={cid.strip("<>").lower() for cid in _CID.findall(html_raw)},
        part_ids={id(part) for part in (plain_part, html_part) if part is not None},
    )


def _text(part: Message, warnings: list[str]) -> str:
    try:
        data, notes = decode_payload(part, "Text")
    except MailRejected:  # nothing of it decodes: the text stays in the filed .eml only
        data, notes = b"", ["Der Text der E-Mail ist nicht lesbar kodiert (base64)."]
    warnings.extend(notes)
    try:
        charset = part.get_content_charset()
    except Exception:  # an unreadable Content-Type parameter list
        charset = None
    text, repaired = decode_bytes(data, charset)
    if repaired:
        warnings.append(f"Der Zeichensatz des Textes („{charset}“) ist unbekannt oder falsch; "
                        "der Text wurde ersatzweise gelesen.")
    return text


# --- attachments -----------------------------------------------------------------------------------


def _disposition(part: Message) -> str | None:
    raw = raw_header(part, "content-disposition")
    return raw.split(";", 1)[0].strip().lower() or None if raw else None


def _is_inline(part: Message, disposition: str | None, parent_type: str, referenced: set[str]) -> bool:
    """Shown inside the HTML body (referenced by its Content-ID), or declared inline."""
    content_id = (raw_header(part, "content-id") or "").strip().strip("<>").lower()
    if content_id and content_id in referenced:
        return True
    return disposition == "inline" or (disposition is None and parent_type == "multipart/related")


def _attachments(leaves: list[_Leaf], referenced: set[str], mail: MailSettings, warnings: list[str],
                 skip_dangerous: bool = False) -> tuple[list[Attachment], list[SkippedPart]]:
    attachments: list[Attachment] = []
    skipped: list[SkippedPart] = []
    for leaf in leaves:
        part = leaf.part
        content_type = _content_type(part)
        disposition = _disposition(part)
        name, repaired = part_filename(part)
        if not (name or disposition == "attachment") and content_type.startswith("text/"):
            continue  # alternative bodies, text of forwarded mails: part of the filed .eml
        check_value("Dateiname", name)
        if repaired:
            warnings.append(f"Der Dateiname „{clean_surrogates(name or '')}“ war fehlerhaft kodiert.")
        label = safe_filename(name, default="") or _default_name(len(attachments) + 1, content_type)
        data, notes = decode_payload(part, label)
        warnings.extend(notes)
        try:
            check_attachment(label, data, mail.blocked_extensions, decoded_name=name)
        except MailRejected as exc:
            if not (skip_dangerous and exc.code == DANGEROUS_ATTACHMENT):
                raise
            skipped.append(SkippedPart(filename=label, content_type=content_type, size=len(data), reason=exc.message))
            continue
        reason = _skip_reason(part, content_type, disposition, leaf.parent_type, referenced, data, mail)
        if reason:
            skipped.append(SkippedPart(filename=label, content_type=content_type, size=len(data), reason=reason))
            continue
        attachments.append(Attachment(index=len(attachments) + 1, filename=label, content_type=content_type,
                                      data=data, inline=_is_inline(part, disposition, leaf.parent_type, referenced)))
    if len(attachments) > mail.max_attachments:
        raise MailRejected(
            TOO_MANY_ATTACHMENTS,
            f"Die E-Mail hat {len(attachments)} Anhänge (höchstens {mail.max_attachments}).",
        )
    return attachments, skipped


def _skip_reason(part: Message, content_type: str, disposition: str | None, parent_type: str,
                 referenced: set[str], data: bytes, mail: MailSettings) -> str | None:
    if content_type in _SIGNATURES:
        return "Digitale Signatur der E-Mail, kein Dokument."
    if not data:
        return "Der Anhang ist leer."
    if (content_type.startswith("image/") and len(data) < mail.min_inline_image_bytes
            and _is_inline(part, disposition, parent_type, referenced)):
        return (f"Eingebettetes Bild (z. B. Logo oder Signatur) kleiner als "
                f"{mail.min_inline_image_bytes // 1024} KB.")
    return None


def _strip_nul(value: str) -> str:
    return value.replace("\x00", "")


def _default_name(number: int, content_type: str) -> str:
    ext = _EXTENSIONS.get(content_type) or mimetypes.guess_extension(content_type, strict=False) or ".bin"
    return f"Anhang-{number}{ext}"


def _combine(attachments: list[Attachment], warnings: list[str]) -> list[Attachment]:
    scans = [a for a in attachments if images.image_format(a.data)]
    if len(scans) < 2:
        return attachments
    try:
        combined = images.combine_images(scans)
    except images.NotCombinable as exc:
        warnings.append(f"Die Bilder wurden nicht zu einer PDF zusammengefasst: {exc}.")
        return attachments
    first = id(scans[0])
    merged = {id(a) for a in scans}
    return [combined if id(a) == first else a for a in attachments if id(a) == first or id(a) not in merged]
