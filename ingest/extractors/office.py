"""Office documents (DOCX, XLSX, ODT, ODS): text for the index, optionally a PDF preview via LibreOffice.

DOCX and ODF are read straight from their XML with defusedxml (paragraphs, tables, text boxes and
content controls in document order); XLSX through openpyxl (read-only, cached values). Every zip
goes through `open_zip` first, which refuses zip bombs and encrypted packages.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import subprocess
import tempfile
import zipfile
from collections.abc import Iterable
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import openpyxl
from defusedxml import ElementTree

from dms.config import Settings
from dms.errors import IngestError
from ingest.context import IngestContext, PageText
from ingest.extractors.containers import (
    DOCX,
    ODS,
    ODT,
    XLSX,
    corrupt_error,
    encrypted_error,
    is_encrypted_ooxml,
    open_zip,
    read_entry,
)

MAX_TEXT_CHARS = 5_000_000
PREVIEW_SUFFIXES = {DOCX: ".docx", XLSX: ".xlsx", ODT: ".odt", ODS: ".ods"}

_CONTENT_TYPES_NS = "{http://schemas.openxmlformats.org/package/2006/content-types}"
_WORD_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
_WORD_EXTRA_PARTS = re.compile(r"^word/(header\d*|footer\d*|footnotes|endnotes|comments)\.xml$")
# Subtrees without document text (properties, field codes, deleted text) or repeating it (mc:Fallback).
_WORD_SKIP = {"Fallback", "pPr", "rPr", "sectPr", "tblPr", "trPr", "tcPr", "instrText", "delText"}

_ODF_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_ODF_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_ODF_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_ODF_AFTER = {
    f"{_ODF_TEXT}p": "\n",
    f"{_ODF_TEXT}h": "\n",
    f"{_ODF_TEXT}line-break": "\n",
    f"{_ODF_TEXT}tab": "\t",
    f"{_ODF_TABLE}table-cell": "\t",
    f"{_ODF_TABLE}covered-table-cell": "\t",
    f"{_ODF_TABLE}table-row": "\n",
}
_ODF_CELLS = {f"{_ODF_TABLE}table-cell", f"{_ODF_TABLE}covered-table-cell"}
_ODF_PARAGRAPHS = {f"{_ODF_TEXT}p", f"{_ODF_TEXT}h"}
_ODF_SKIP = {f"{_ODF_TEXT}tracked-changes", f"{_DC}creator", f"{_DC}date"}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def tidy(text: str) -> str:
    """Strip line ends and collapse runs of empty lines."""
    lines = [re.sub(r" +\t", "\t", line).rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _capped(ctx: IngestContext, text: str) -> str:
    if len(text) <= MAX_TEXT_CHARS:
        return text
    ctx.warn(f"Der Text wurde nach {MAX_TEXT_CHARS} Zeichen gekürzt.")
    return text[:MAX_TEXT_CHARS]


# --- DOCX ------------------------------------------------------------------------------------------


def _word_main_part(archive: zipfile.ZipFile) -> str:
    raw = read_entry(archive, "[Content_Types].xml", "Word-Datei")
    try:
        root = ElementTree.fromstring(raw)
    except Exception as exc:  # defusedxml/expat errors on hostile or broken XML
        raise corrupt_error("Word-Datei", exc) from exc
    for override in root.iter(f"{_CONTENT_TYPES_NS}Override"):
        if override.get("ContentType") == _WORD_MAIN:
            return override.get("PartName", "").lstrip("/")
    raise corrupt_error("Word-Datei", "kein Hauptdokument")


def wordml_text(xml: bytes) -> str:
    """Text of one WordprocessingML part: paragraphs as lines, table cells and tabs as tab stops."""
    parts: list[str] = []
    skipping = cells = 0
    for event, elem in ElementTree.iterparse(io.BytesIO(xml), events=("start", "end")):
        name = _local(elem.tag)
        if name in _WORD_SKIP:
            skipping += 1 if event == "start" else -1
            continue
        if name == "tc":
            cells += 1 if event == "start" else -1
        if event == "start" or skipping:
            continue
        if name == "t":
            parts.append(elem.text or "")
        elif name in ("tab", "ptab"):
            parts.append("\t")
        elif name in ("br", "cr"):
            parts.append("\n")
        elif name == "noBreakHyphen":
            parts.append("-")
        elif name == "tc":
            parts.append("\t")
        elif name == "tr":
            parts.append("\n")
        elif name == "p":
            parts.append(" " if cells else "\n")  # a table row stays one line
            elem.clear()
    return "".join(parts)


def extract_docx(ctx: IngestContext, settings: Settings) -> None:
    with open_zip(ctx.data, "Word-Datei") as archive:
        main = _word_main_part(archive)
        names = [main] + sorted(n for n in archive.namelist() if _WORD_EXTRA_PARTS.match(n))
        parts = [read_entry(archive, name, "Word-Datei") for name in names]
    try:
        text = "\n".join(wordml_text(part) for part in parts)
    except Exception as exc:  # expat ParseError, defusedxml's forbidden DTD/entities
        raise corrupt_error("Word-Datei", exc) from exc
    ctx.pages = [PageText(1, _capped(ctx, tidy(text)), "text_layer")]


# --- XLSX ------------------------------------------------------------------------------------------


def cell_text(value: Any) -> str:
    """A cell value as a German reader would type it into a search (dates as dd.mm.yyyy)."""
    if isinstance(value, datetime):
        return value.strftime("%d.%m.%Y" if value.time() == time() else "%d.%m.%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d.%m.%Y")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _sheet_lines(rows: Iterable[tuple[Any, ...]]) -> Iterable[str]:
    for row in rows:
        cells = [cell_text(value) for value in row if value is not None and value != ""]
        if cells:
            yield "\t".join(cells)


def extract_xlsx(ctx: IngestContext, settings: Settings) -> None:
    open_zip(ctx.data, "Excel-Datei").close()  # size, entry and encryption checks
    pages: list[PageText] = []
    budget = MAX_TEXT_CHARS
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(ctx.data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises KeyError, InvalidFileException, ParseError, ... on broken files
        raise corrupt_error("Excel-Datei", exc) from exc
    try:
        for number, sheet in enumerate(workbook.worksheets, start=1):
            lines = [f"Tabelle: {sheet.title}"]
            for line in _sheet_lines(sheet.iter_rows(values_only=True)):
                budget -= len(line) + 1
                if budget < 0:
                    ctx.warn(f"Der Text wurde nach {MAX_TEXT_CHARS} Zeichen gekürzt.")
                    break
                lines.append(line)
            pages.append(PageText(number, "\n".join(lines), "text_layer"))
            if budget < 0:
                break
    except Exception as exc:
        raise corrupt_error("Excel-Datei", exc) from exc
    finally:
        workbook.close()
    ctx.pages = pages


# --- ODT / ODS -------------------------------------------------------------------------------------


def odf_text(root: Any) -> str:
    """Text of an ODF element tree (mixed content), without recursion."""
    parts: list[str] = []
    stack: list[tuple[Any, bool]] = [(root, False)]
    cells = 0
    while stack:
        node, done = stack.pop()
        if done:
            if node.tag in _ODF_CELLS:
                cells -= 1
            parts.append(" " if cells and node.tag in _ODF_PARAGRAPHS else _ODF_AFTER.get(node.tag, ""))
            parts.append(node.tail or "")
            continue
        if node.tag in _ODF_SKIP:
            parts.append(node.tail or "")
            continue
        if node.tag in _ODF_CELLS:
            cells += 1
        if node.tag == f"{_ODF_TEXT}s":
            parts.append(" " * min(int(node.get(f"{_ODF_TEXT}c", "1") or 1), 100))
        parts.append(node.text or "")
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(node))
    return "".join(parts)


def extract_odf(ctx: IngestContext, settings: Settings) -> None:
    """ODT as one page, ODS as one page per sheet."""
    kind = "OpenDocument-Datei"
    with open_zip(ctx.data, kind) as archive:
        if "META-INF/manifest.xml" in archive.namelist() and b"encryption-data" in read_entry(
            archive, "META-INF/manifest.xml", kind
        ):
            raise encrypted_error()
        content = read_entry(archive, "content.xml", kind)
    try:
        root = ElementTree.fromstring(content)
        body = root.find(f"{_ODF_OFFICE}body")
        if body is None:
            raise ValueError("office:body fehlt")
        sheets = body.findall(f"{_ODF_OFFICE}spreadsheet/{_ODF_TABLE}table")
        if sheets:
            pages = [
                PageText(n, tidy(f"Tabelle: {sheet.get(f'{_ODF_TABLE}name', n)}\n{odf_text(sheet)}"), "text_layer")
                for n, sheet in enumerate(sheets, start=1)
            ]
        else:
            pages = [PageText(1, tidy(odf_text(body)), "text_layer")]
    except Exception as exc:  # expat ParseError, defusedxml's forbidden DTD/entities, bad attributes
        raise corrupt_error(kind, exc) from exc
    for page in pages:
        page.text = _capped(ctx, page.text)
    ctx.pages = pages


def refuse_encrypted_office(ctx: IngestContext, settings: Settings) -> None:
    """Registered for `application/encrypted`: a password-protected OOXML file (OLE `EncryptedPackage`)."""
    if is_encrypted_ooxml(ctx.data):
        raise encrypted_error()
    raise corrupt_error("verschlüsselte Datei", "unbekanntes Format")


# --- PDF preview (LibreOffice, optional) ---------------------------------------------------------


def find_soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def office_pdf_preview(data: bytes, suffix: str, timeout: float = 120) -> bytes | None:
    """The document converted to PDF by LibreOffice; None when LibreOffice is not installed.

    Raises IngestError(code="preview_failed") when the conversion fails or times out.
    """
    binary = find_soffice()
    if binary is None:
        return None
    with tempfile.TemporaryDirectory(prefix="kundenakte-preview-") as tmp:
        folder = Path(tmp)
        source = folder / f"dokument{suffix}"
        source.write_bytes(data)
        command = [
            binary, f"-env:UserInstallation={(folder / 'profile').as_uri()}", "--headless", "--invisible",
            "--norestore", "--nologo", "--nolockcheck", "--convert-to", "pdf", "--outdir", str(folder / "out"),
            str(source),
        ]
        env = {**os.environ, "HOME": tmp}
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            os.killpg(process.pid, signal.SIGKILL)  # soffice forks soffice.bin: end the whole group
            process.communicate()
            raise IngestError(
                f"Die PDF-Vorschau wurde nach {timeout:.0f} s abgebrochen.", code="preview_failed"
            ) from exc
        result = folder / "out" / "dokument.pdf"
        if process.returncode != 0 or not result.is_file() or not result.read_bytes().startswith(b"%PDF"):
            detail = output.decode("utf-8", "replace").strip()[-300:]
            raise IngestError(f"Die PDF-Vorschau konnte nicht erzeugt werden ({detail}).", code="preview_failed")
        return result.read_bytes()


def render_office_preview(ctx: IngestContext, timeout: float = 120) -> bytes | None:
    """Preview PDF for an office document in `ctx`; a failure becomes a warning, never an error."""
    suffix = PREVIEW_SUFFIXES.get(ctx.mime_type or "")
    if suffix is None:
        return None
    try:
        return office_pdf_preview(ctx.data, suffix, timeout=timeout)
    except (IngestError, OSError) as exc:
        ctx.warn(exc.message if isinstance(exc, IngestError) else f"Die PDF-Vorschau ist fehlgeschlagen ({exc}).")
        return None
