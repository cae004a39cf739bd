"""Plain text files."""

from __future__ import annotations

from dms.config import Settings
from ingest.context import IngestContext, PageText


def decode_text(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def extract_plain(ctx: IngestContext, settings: Settings) -> None:
    ctx.pages = [PageText(1, decode_text(ctx.data), "text_layer")]
