"""Cheap, parser-free recognition of e-invoice XML by its root element and namespace."""

from __future__ import annotations

import re

_HEAD_BYTES = 64 * 1024

CII_NAMESPACE_PREFIX = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:"
ZUGFERD1_NAMESPACE_PREFIX = "urn:ferd:CrossIndustryDocument:invoice:"
UBL_INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
UBL_CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"

_NAME = re.compile(r"[A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?")
_ATTR = re.compile(r"""([A-Za-z_][\w.:\-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def classify_root(ns: str, local: str) -> str | None:
    """Map a root element (namespace URI, local name) to "CII", "UBL" or None."""
    if local == "CrossIndustryInvoice" and ns.startswith(CII_NAMESPACE_PREFIX):
        return "CII"
    if local == "CrossIndustryDocument" and ns.startswith(ZUGFERD1_NAMESPACE_PREFIX):
        return "CII"
    if (local, ns) in (("Invoice", UBL_INVOICE_NS), ("CreditNote", UBL_CREDIT_NOTE_NS)):
        return "UBL"
    return None


def detect_invoice_syntax(data: bytes) -> str | None:
    """"CII" / "UBL" when `data` looks like an XML e-invoice, else None; never raises, never parses DTDs."""
    try:
        if not isinstance(data, bytes | bytearray | memoryview):
            return None
        root = _root_start_tag(_decode_head(bytes(data[:_HEAD_BYTES])))
        if root is None:
            return None
        qname, attrs = root
        prefix, _, local = qname.rpartition(":")
        ns = attrs.get(f"xmlns:{prefix}" if prefix else "xmlns", "")
        return classify_root(ns, local)
    except Exception:  # noqa: BLE001 - detection must never fail on arbitrary input
        return None


def _decode_head(head: bytes) -> str:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head.decode("utf-16", errors="ignore")
    if head.startswith(b"<\x00"):
        return head.decode("utf-16-le", errors="ignore")
    if head.startswith(b"\x00<"):
        return head.decode("utf-16-be", errors="ignore")
    # Tag names and namespace URIs are ASCII; latin-1 never fails on any byte.
    return head.removeprefix(b"\xef\xbb\xbf").decode("latin-1")


def _root_start_tag(text: str) -> tuple[str, dict[str, str]] | None:
    """Skip the prolog (declaration, PIs, comments, DOCTYPE) and return the root tag name and attributes."""
    pos, size = 0, len(text)
    while pos < size:
        if text[pos].isspace():
            pos += 1
            continue
        if text.startswith("<?", pos):
            end = text.find("?>", pos + 2)
            pos = end + 2
        elif text.startswith("<!--", pos):
            end = text.find("-->", pos + 4)
            pos = end + 3
        elif text.startswith("<!DOCTYPE", pos):
            end = _doctype_end(text, pos)
            pos = end + 1
        elif text.startswith("<", pos):
            match = _NAME.match(text, pos + 1)
            end = text.find(">", pos)
            if match is None or end < 0:
                return None
            attrs = {m.group(1): m.group(2) if m.group(2) is not None else m.group(3)
                     for m in _ATTR.finditer(text, match.end(), end)}
            return match.group(0), attrs
        else:
            return None
        if end < 0:
            return None
    return None


def _doctype_end(text: str, pos: int) -> int:
    """Index of the '>' closing a DOCTYPE declaration (internal subset aware), -1 if not found."""
    close = text.find(">", pos)
    bracket = text.find("[", pos)
    if bracket < 0 or close < bracket:
        return close
    subset_end = text.find("]", bracket)
    return -1 if subset_end < 0 else text.find(">", subset_end)
