"""Office documents (DOCX, XLSX, PPTX, ODT, ODS and the macro-enabled DOCM, XLSM, PPTM): text for the
index, optionally a PDF preview via LibreOffice.

DOCX, PPTX and ODF are read straight from their XML with defusedxml (paragraphs, tables, text boxes and
content controls in document order; slides in presentation order); XLSX through openpyxl (read-only,
cached values). Macros (`vbaProject.bin`) are never read, let alone run; macro-enabled files get no
LibreOffice preview. Every zip goes through `open_zip` first, which refuses zip bombs (on the real
decompressed bytes) and encrypted packages.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from collections.abc import Iterable
from datetime import date, datetime, time
from typing import Any

import openpyxl
from defusedxml import ElementTree

from dms.config import Settings
from dms.errors import IngestError, UnsupportedType
from ingest.context import IngestContext, PageText
from ingest.extractors.containers import (
    POWERPOINT_MACRO_MAIN,
    POWERPOINT_MAIN,
    WORD_MACRO_MAIN,
    WORD_MAIN,
    corrupt_error,
    encrypted_error,
    is_encrypted_ooxml,
    open_zip,
    read_entry,
)

MAX_TEXT_CHARS = 5_000_000

_CONTENT_TYPES_NS = "{http://schemas.openxmlformats.org/package/2006/content-types}"
_RELATIONSHIPS_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_OFFICE_REL_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_SLIDE_REL_TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/slide"
_SLIDE_NAME = re.compile(r"^ppt/slides/slide(\d+)\.xml$")
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


def _main_part(archive: zipfile.ZipFile, content_types: set[str], kind: str) -> str:
    """The package's main part named in [Content_Types].xml (the macro-enabled type counts as well)."""
    raw = read_entry(archive, "[Content_Types].xml", kind)
    try:
        root = ElementTree.fromstring(raw)
    except Exception as exc:  # defusedxml/expat errors on hostile or broken XML
        raise corrupt_error(kind, exc) from exc
    for override in root.iter(f"{_CONTENT_TYPES_NS}Override"):
        if override.get("ContentType") in content_types:
            return override.get("PartName", "").lstrip("/")
    raise corrupt_error(kind, "kein Hauptdokument")


def _word_main_part(archive: zipfile.ZipFile) -> str:
    return _main_part(archive, {WORD_MAIN, WORD_MACRO_MAIN}, "Word-Datei")


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
    """DOCX and DOCM (the macros stay unread)."""
    with open_zip(ctx.data, "Word-Datei", settings) as archive:
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
    """XLSX and XLSM (openpyxl without `keep_vba`: the macros stay unread)."""
    open_zip(ctx.data, "Excel-Datei", settings).close()  # real-size, ratio, entry and encryption checks
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


# --- PPTX / PPTM ---------------------------------------------------------------------------------


def drawingml_text(xml: bytes) -> str:
    """Text of one slide: the `a:t` runs, a line per `a:p` paragraph, `a:br` as a line break."""
    parts: list[str] = []
    for _event, elem in ElementTree.iterparse(io.BytesIO(xml), events=("end",)):
        name = _local(elem.tag)
        if name == "t":
            parts.append(elem.text or "")
        elif name == "br":
            parts.append("\n")
        elif name == "p" and elem.tag.startswith("{http://schemas.openxmlformats.org/drawingml/"):
            parts.append("\n")
            elem.clear()
    return "".join(parts)


def _slide_parts(archive: zipfile.ZipFile, main: str, kind: str) -> list[str]:
    """Slide part names in presentation order (`p:sldIdLst` via the relationships), else by number."""
    names = set(archive.namelist())
    folder, base = posixpath.split(main)
    rels_name = posixpath.join(folder, "_rels", base + ".rels")
    ordered: list[str] = []
    if main in names and rels_name in names:
        try:
            rels = ElementTree.fromstring(read_entry(archive, rels_name, kind))
            targets = {
                rel.get("Id"): posixpath.normpath(posixpath.join(folder, rel.get("Target", "")))
                for rel in rels.iter(f"{_RELATIONSHIPS_NS}Relationship")
                if rel.get("Type") == _SLIDE_REL_TYPE and rel.get("TargetMode") != "External"
            }
            presentation = ElementTree.fromstring(read_entry(archive, main, kind))
        except IngestError:
            raise
        except Exception as exc:  # expat ParseError, defusedxml's forbidden DTD/entities
            raise corrupt_error(kind, exc) from exc
        for slide in presentation.iter():
            if _local(slide.tag) == "sldId":
                target = targets.get(slide.get(_OFFICE_REL_ID))
                if target in names and target not in ordered:
                    ordered.append(target)
    if ordered:
        return ordered
    numbered = [(int(match.group(1)), name) for name in names if (match := _SLIDE_NAME.match(name))]
    return [name for _, name in sorted(numbered)]


def extract_pptx(ctx: IngestContext, settings: Settings) -> None:
    """PPTX and PPTM: one page per slide, in presentation order (the macros stay unread)."""
    kind = "PowerPoint-Datei"
    with open_zip(ctx.data, kind, settings) as archive:
        main = _main_part(archive, {POWERPOINT_MAIN, POWERPOINT_MACRO_MAIN}, kind)
        slides = [read_entry(archive, name, kind) for name in _slide_parts(archive, main, kind)]
    budget = MAX_TEXT_CHARS
    pages: list[PageText] = []
    try:
        for number, slide in enumerate(slides, start=1):
            text = tidy(drawingml_text(slide))
            if len(text) > budget:
                ctx.warn(f"Der Text wurde nach {MAX_TEXT_CHARS} Zeichen gekürzt.")
                pages.append(PageText(number, text[:budget], "text_layer"))
                break
            budget -= len(text)
            pages.append(PageText(number, text, "text_layer"))
    except Exception as exc:  # expat ParseError, defusedxml's forbidden DTD/entities
        raise corrupt_error(kind, exc) from exc
    ctx.pages = pages or [PageText(1, "", "text_layer")]


# --- plain ZIP archives ----------------------------------------------------------------------------


def refuse_zip(ctx: IngestContext, settings: Settings) -> None:
    """Registered for `application/zip`: archives are not documents. A bomb (too many entries, too large,
    too highly compressed) is named as such; any other zip is an unsupported type."""
    try:
        open_zip(ctx.data, "ZIP-Datei", settings).close()
    except IngestError as exc:
        if exc.code in ("too_large", "archive_bomb"):
            raise
    raise UnsupportedType(
        f"Der Dateityp {ctx.mime_type or 'application/zip'} wird nicht unterstützt (ZIP-Archive werden nicht "
        "entpackt; bitte die Dateien einzeln hochladen).",
        mime_type=ctx.mime_type or "application/zip",
    )


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
    with open_zip(ctx.data, kind, settings) as archive:
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
