"""Hardened XML parsing (no DTDs, no entities, size cap) and namespace-agnostic tree navigation."""

from __future__ import annotations

import codecs
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from xml.etree.ElementTree import Element

import defusedxml
import defusedxml.ElementTree as SafeET

from dms.errors import IngestError

# Default of `[ingest] max_xml_mb`, for callers without settings; the pipeline passes the setting down.
MAX_XML_BYTES = 20 * 1024 * 1024

_UTF8_BOM = b"\xef\xbb\xbf"
_ENCODING_DECL = re.compile(rb"""^(<\?xml[^>]*?encoding\s*=\s*)(["'])([^"']*)\2""")


def parse_xml(data: bytes, max_bytes: int | None = None) -> Element:
    """Parse untrusted XML bytes; refuse DTDs/entities ("unsafe_xml"), junk ("malformed_xml") and
    documents larger than `max_bytes` ("too_large"; default MAX_XML_BYTES)."""
    limit = MAX_XML_BYTES if max_bytes is None else max_bytes
    if len(data) > limit:
        raise IngestError(
            f"Das XML-Dokument ist zu groß ({len(data) / (1024 * 1024):.1f} MB, höchstens "
            f"{limit / (1024 * 1024):g} MB; Einstellung [ingest] max_xml_mb).",
            code="too_large",
        )
    data = _strip_preamble(bytes(data))
    if not data:
        raise IngestError("XML document is empty", code="malformed_xml")
    try:
        return _parse(data)
    except ET.ParseError as exc:
        fixed = _force_utf8_declaration(data)
        if fixed is not None:
            try:
                return _parse(fixed)
            except ET.ParseError:
                pass
        raise IngestError(f"Malformed XML: {exc}", code="malformed_xml") from exc
    except (ValueError, LookupError, UnicodeError) as exc:
        raise IngestError(f"Malformed XML: {exc}", code="malformed_xml") from exc


def _parse(data: bytes) -> Element:
    try:
        return SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DefusedXmlException as exc:
        raise IngestError(
            "XML contains a DTD or entity declarations; refused for security reasons "
            "(XXE / entity expansion)",
            code="unsafe_xml",
        ) from exc


def _strip_preamble(data: bytes) -> bytes:
    """Drop a UTF-8 BOM and leading whitespace that would put the XML declaration out of place."""
    return data.removeprefix(_UTF8_BOM).lstrip(b" \t\r\n")


def _force_utf8_declaration(data: bytes) -> bytes | None:
    """Replace a bogus encoding label (e.g. "UTF-8-W/O-BOM") when the bytes are valid UTF-8 anyway."""
    match = _ENCODING_DECL.match(data)
    if not match:
        return None
    try:
        codecs.lookup(match.group(3).decode("ascii"))
        return None  # a real encoding: the error is elsewhere
    except (LookupError, UnicodeDecodeError, ValueError):  # ValueError: a NUL in the label
        pass
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return _ENCODING_DECL.sub(rb"\1\2UTF-8\2", data, count=1)


# --- navigation by local names; tolerant of namespace versions and prefixes ---------------------------


def local_name(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def namespace(tag: object) -> str:
    return tag[1:].partition("}")[0] if isinstance(tag, str) and tag.startswith("{") else ""


def findall(el: Element | None, path: str) -> list[Element]:
    """All elements along `path` ("A|B/C": steps by local name, '|' separates alternatives)."""
    if el is None:
        return []
    current: Iterable[Element] = [el]
    for step in path.split("/"):
        names = set(step.split("|"))
        current = [child for parent in current for child in parent if local_name(child.tag) in names]
    return list(current)


def find(el: Element | None, path: str) -> Element | None:
    found = findall(el, path)
    return found[0] if found else None


def text(el: Element | None, path: str | None = None) -> str | None:
    """Whitespace-normalised text of the first match (or of `el` itself), None when empty."""
    target = find(el, path) if path else el
    if target is None:
        return None
    value = " ".join("".join(target.itertext()).split())
    return value or None
