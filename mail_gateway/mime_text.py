"""Lenient decoding of what mails often declare badly: charsets, RFC 2047 words, raw 8-bit headers,
RFC 2231 file names, base64 payloads; and the header values the parser hands on (addresses, date,
Message-ID). Nothing here raises on bad input: unknown or wrong charsets fall back to
UTF-8, then Windows-1252, then Latin-1 (which decodes anything); callers learn whether a repair
was needed so they can record a warning. The one refusal: an attachment whose base64 yields
nothing at all (`MailRejected`, malformed), since filing the undecoded text would be wrong.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from datetime import UTC, datetime
from email import policy as email_policy
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

from mail_gateway.model import MALFORMED, MailRejected

# A label that in practice means Windows-1252 (as browsers treat it, WHATWG encoding standard).
_AS_CP1252 = "iso8859-1"  # codecs' name for ISO-8859-1 / Latin-1
_FALLBACKS = ("utf-8", "cp1252", "latin-1")
_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"(\?=)[ \t\r\n]+(?==\?)")
_QP_BYTE = re.compile(rb"=([0-9A-Fa-f]{2})")
_NOT_B64 = re.compile(rb"[^A-Za-z0-9+/]")
_FOLD = re.compile(r"\r?\n(?=[ \t])|\r(?=[ \t])")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]+")


def codec_name(charset: object) -> str | None:
    """The Python codec for a declared charset, or None when unknown."""
    if not isinstance(charset, str) or not charset.strip():
        return None
    try:
        return codecs.lookup(charset.strip().strip("\"'").split("*")[0]).name
    except (LookupError, ValueError, TypeError):
        return None


def decode_bytes(data: bytes, charset: object = None) -> tuple[str, bool]:
    """`data` as text: the declared charset, else UTF-8 / Windows-1252 / Latin-1.

    Returns (text, repaired): repaired is True when the declared charset was unknown or wrong.
    ISO-8859-1 and US-ASCII labels are read as Windows-1252 (a superset, usually what was meant).
    """
    declared = codec_name(charset)
    first = ["cp1252"] if declared == _AS_CP1252 else [declared] if declared else []
    for index, encoding in enumerate([*first, *_FALLBACKS]):
        try:
            text = data.decode(encoding)
        except Exception:  # UnicodeError, LookupError (non-text codecs) and codec-specific errors
            continue
        # cp1252 failing on one of its five undefined bytes is no repair: Latin-1 is then right.
        repaired = bool(charset) and index >= len(first) and not (first == ["cp1252"] and encoding == "latin-1")
        return clean_surrogates(text), repaired
    return data.decode("latin-1"), True  # unreachable: Latin-1 decodes every byte


def clean_surrogates(text: str) -> str:
    """Lone surrogates (never valid in output) replaced by U+FFFD."""
    if not _SURROGATE.search(text):
        return text
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def fix_8bit(text: str) -> tuple[str, bool]:
    """A raw header value whose 8-bit bytes the parser kept as surrogate escapes, decoded properly."""
    if not _SURROGATE.search(text):
        return text, False
    data = text.encode("utf-8", "surrogateescape") if _escapes_only(text) else None
    if data is None:
        return clean_surrogates(text), True
    decoded, _ = decode_bytes(data)
    return decoded, True


def _escapes_only(text: str) -> bool:
    return all("\udc80" <= ch <= "\udcff" for ch in _SURROGATE.findall(text))


def _word_bytes(encoding: str, payload: str) -> bytes:
    raw = payload.encode("ascii", "replace")
    if encoding in "bB":
        cleaned = _NOT_B64.sub(b"", raw.split(b"=")[0])
        cleaned = cleaned[: len(cleaned) - len(cleaned) % 4] if len(cleaned) % 4 == 1 else cleaned
        try:
            return base64.b64decode(cleaned + b"=" * (-len(cleaned) % 4))
        except (binascii.Error, ValueError):
            return b""
    return _QP_BYTE.sub(lambda m: bytes([int(m.group(1), 16)]), raw.replace(b"_", b" "))


def _decode_word(match: re.Match[str]) -> tuple[str, bool]:
    charset, encoding, payload = match.groups()
    return decode_bytes(_word_bytes(encoding, payload), charset)


def decode_words(text: str) -> tuple[str, bool]:
    """Replace RFC 2047 encoded words by their text (whitespace between adjacent words dropped)."""
    repaired = False

    def replace(match: re.Match[str]) -> str:
        nonlocal repaired
        decoded, bad = _decode_word(match)
        repaired = repaired or bad
        return decoded

    return _WORD.sub(replace, _BETWEEN_WORDS.sub(r"\1", text)), repaired


def normalise_words(text: str) -> tuple[str, bool]:
    """Re-encode every RFC 2047 word as UTF-8 base64, decoded leniently first, so the stdlib's header
    parser never meets an unknown or wrong charset."""
    repaired = False

    def replace(match: re.Match[str]) -> str:
        nonlocal repaired
        decoded, bad = _decode_word(match)
        repaired = repaired or bad
        return "=?utf-8?b?" + base64.b64encode(decoded.encode("utf-8")).decode("ascii") + "?="

    return _WORD.sub(replace, text), repaired


def raw_header(part: Message, name: str) -> str | None:
    """The first header `name` as it was in the mail (unfolded), or None."""
    try:
        for key, value in part.raw_items():
            if key.lower() == name:
                return _FOLD.sub("", str(value))
    except Exception:  # raw_items on a damaged part
        return None
    return None


def header_text(part: Message, name: str) -> tuple[str, bool]:
    """A header's decoded text ('' when missing) and whether it needed repair.

    The raw value is repaired first (8-bit bytes, unknown charsets), then parsed with the stdlib's
    header parser; if that fails, the encoded words are decoded on their own.
    """
    raw = raw_header(part, name)
    if raw is None:
        return "", False
    text, bad_8bit = fix_8bit(raw)
    text, bad_words = normalise_words(text)
    try:
        value = clean_surrogates(str(email_policy.default.header_factory(name, text)))
    except Exception:  # the header parser rejects some values (e.g. CR/LF in a display name)
        value, _ = decode_words(text)
    return value, bad_8bit or bad_words


def header_object(part: Message, name: str) -> object | None:
    """The stdlib's parsed header object of the repaired raw value (addresses, datetime), or None."""
    raw = raw_header(part, name)
    if raw is None:
        return None
    text, _ = normalise_words(fix_8bit(raw)[0])
    try:
        return email_policy.default.header_factory(name, text)
    except Exception:
        return None


def part_filename(part: Message) -> tuple[str | None, bool]:
    """The file name of a part (Content-Disposition filename, else Content-Type name), RFC 2231 and
    RFC 2047 decoded, not yet cleaned; and whether a repair was needed."""
    for header, param in (("content-disposition", "filename"), ("content-type", "name")):
        raw = raw_header(part, header)
        if raw is None:
            continue
        text, repaired = fix_8bit(raw)
        legacy = Message()
        try:
            legacy[header] = text
            value = legacy.get_param(param, header=header)
        except Exception:  # a parameter list the legacy parser cannot read
            continue
        if isinstance(value, tuple):  # RFC 2231: (charset, language, %-decoded chars as Latin-1)
            charset, _, chars = value
            try:
                data = str(chars).encode("latin-1")
            except UnicodeEncodeError:
                name = str(chars)
            else:
                name, bad = decode_bytes(data, charset or "utf-8")
                repaired = repaired or bad
        elif isinstance(value, str):
            name = value
        else:
            continue
        name, bad = decode_words(name)
        name = clean_surrogates(name)
        if name.strip():
            return name, repaired or bad
    return None, False


_PADDING = re.compile(rb"=+")
_NOT_B64_OR_PAD = re.compile(rb"[^A-Za-z0-9+/=]")


def _lenient_b64(data: bytes) -> bytes:
    """Base64 decoded piece by piece (some mailers pad every line), invalid characters dropped."""
    out = []
    for piece in _PADDING.split(_NOT_B64_OR_PAD.sub(b"", data)):
        piece = piece[: len(piece) - len(piece) % 4] if len(piece) % 4 == 1 else piece
        if piece:
            try:
                out.append(base64.b64decode(piece + b"=" * (-len(piece) % 4)))
            except (binascii.Error, ValueError):
                continue
    return b"".join(out)


def decode_payload(part: Message, label: str) -> tuple[bytes, list[str]]:
    """A leaf part's decoded bytes and German notes on repairs; base64 is decoded leniently here
    (the stdlib returns the undecoded text when it gives up). Raises nothing."""
    cte = (raw_header(part, "content-transfer-encoding") or "").strip().lower()
    try:
        payload = part.get_payload()
    except Exception:  # a damaged part
        payload = ""
    if isinstance(payload, list):
        return b"", []
    if cte == "base64" and isinstance(payload, str):
        raw = payload.encode("ascii", "ignore")
        compact = raw.translate(None, b" \t\r\n\x0b\x0c")
        try:
            return base64.b64decode(compact, validate=True), []
        except (binascii.Error, ValueError):
            data = _lenient_b64(compact)
        if not data and compact.strip(b"="):
            raise MailRejected(MALFORMED, f"Der Anhang „{label}“ ist nicht lesbar kodiert (base64).")
        return data, [f"Der Anhang „{label}“ war fehlerhaft base64-kodiert und wurde so weit wie möglich gelesen."]
    try:
        data = part.get_payload(decode=True)
    except Exception:  # unusual transfer encodings on hostile input
        data = None
    if isinstance(data, bytes):
        return data, []
    if isinstance(payload, str):
        return payload.encode("utf-8", "surrogateescape"), []
    return b"", []


# --- header values -------------------------------------------------------------------------------


def one_line(value: str) -> str:
    """A header value for display: control characters replaced by blanks."""
    return _CONTROL.sub(" ", value).strip()


def _address_pairs(message: Message, name: str) -> list[tuple[str, str]]:
    header = header_object(message, name)
    parsed = getattr(header, "addresses", None)
    if parsed is not None:
        try:
            return [(str(a.display_name or ""), str(a.addr_spec or "")) for a in parsed]
        except Exception:  # an address object the parser half-built
            pass
    text, _ = header_text(message, name)
    return getaddresses([text]) if text else []


def addresses(message: Message, name: str) -> list[str]:
    """The addresses of an address header (lower case, unique, in order)."""
    found = []
    for _, address in _address_pairs(message, name):
        address = clean_surrogates(address).strip().lower()
        if "@" in address and address not in found:
            found.append(address)
    return found


def from_address(message: Message) -> tuple[str, str | None]:
    """The first From address (lower case, "" when none) and its display name."""
    for display, address in _address_pairs(message, "from"):
        address = clean_surrogates(address).strip().lower()
        if "@" in address:
            return address, one_line(clean_surrogates(display)) or None
    return "", None


def header_date(message: Message) -> datetime | None:
    """The Date header as an aware datetime (UTC when it names no zone), None when unreadable."""
    text, _ = header_text(message, "date")
    if not text.strip():
        return None
    try:
        value = parsedate_to_datetime(text)
    except Exception:  # ValueError, TypeError, IndexError, OverflowError on broken dates
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def message_id(message: Message) -> str | None:
    """The Message-ID without any whitespace, None when missing."""
    text, _ = header_text(message, "message-id")
    return "".join(text.split()) or None
