"""Tables of customers as files: reading CSV (UTF-8 with or without BOM, UTF-16, Windows-1252; `;`, `,` or tab)
and XLSX, writing CSV (UTF-8 with BOM, `;`: what German Excel opens directly) and XLSX.

A table is a header and rows of text cells, each row with its number as a spreadsheet shows it (the header
is row 1; a CSV record with a line break inside a quoted cell is still one row). Nothing here knows what a
customer is: the columns are dms/app/customer_columns.py, the rules dms.validation.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time

from dms.config import Settings
from dms.errors import DmsError

CSV = "csv"
XLSX = "xlsx"
FORMATS = (CSV, XLSX)
MEDIA_TYPES = {CSV: "text/csv; charset=utf-8",
               XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
MAX_COLUMNS = 200
MAX_CELL_CHARS = 10_000
SHEET_TITLE = "Kunden"
# A cell starting like a formula is written with a leading apostrophe (CSV) or as text (XLSX), so a
# spreadsheet never runs it; reading takes the apostrophe off again. "+49 …" and "-5" stay as they are.
_FORMULA_START = ("=", "@", "+", "-", "\t", "\r")


class TableError(DmsError):
    """The file as a whole cannot be read as a table (not a code path for a bad cell)."""

    code = "unreadable_file"
    http_status = 400


@dataclass
class Table:
    header: list[str]
    rows: list[tuple[int, list[str]]] = field(default_factory=list)  # (row number in the file, cells)
    format: str = CSV
    encoding: str | None = None
    delimiter: str | None = None


def read_table(data: bytes, settings: Settings | None = None, *, max_rows: int | None = None) -> Table:
    """The table in `data`: XLSX when it is a zip, else CSV. Entirely empty rows are skipped (numbers kept)."""
    if data.startswith(b"PK\x03\x04"):
        return _read_xlsx(data, settings, max_rows)
    return _read_csv(data, max_rows)


# --- CSV ---------------------------------------------------------------------------------------


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:  # the five bytes Windows-1252 leaves undefined: read as Latin-1
        return data.decode("latin-1"), "latin-1"


def _delimiter(text: str) -> str:
    """The delimiter of the header line: whichever of `;`, `,`, tab it holds most often (`;` on a tie)."""
    first = text.split("\n", 1)[0]
    counts = {d: first.count(d) for d in (";", ",", "\t")}
    best = max(counts.values())
    return ";" if best == 0 or counts[";"] == best else max(counts, key=lambda d: counts[d])


def _read_csv(data: bytes, max_rows: int | None) -> Table:
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise TableError("Die Datei ist weder CSV noch XLSX (binärer Inhalt).")
    text, encoding = _decode(data)
    delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', strict=False)
    table = Table(header=[], format=CSV, encoding=encoding, delimiter=delimiter)
    number = 0
    try:
        for record in reader:
            number += 1
            if number == 1:
                table.header = _header(record)
                continue
            _add(table, number, record, max_rows)
    except csv.Error as exc:
        raise TableError(f"CSV nicht lesbar in Zeile {number + 1}: {exc}.") from exc
    return table


# --- XLSX --------------------------------------------------------------------------------------


def _read_xlsx(data: bytes, settings: Settings | None, max_rows: int | None) -> Table:
    import openpyxl

    from ingest.extractors.containers import open_zip

    try:
        open_zip(data, "XLSX-Datei", settings).close()  # bombs, oversize, encryption: refused before parsing
    except DmsError as exc:
        raise TableError(exc.message) from exc
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise TableError(f"Die XLSX-Datei ist nicht lesbar ({type(exc).__name__}).") from exc
    try:
        sheet = book[SHEET_TITLE] if SHEET_TITLE in book.sheetnames else book.worksheets[0]
        table = Table(header=[], format=XLSX)
        for number, values in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS + 1, values_only=True), start=1):
            cells = [_xlsx_text(v) for v in values]
            if not table.header:
                if number > 1 and any(cells):
                    raise TableError("Die erste Zeile der Tabelle muss die Spaltenüberschriften enthalten.")
                if any(cells):
                    table.header = _header(cells)
                continue
            _add(table, number, cells, max_rows)
        return table
    except TableError:
        raise
    except Exception as exc:
        raise TableError(f"Die XLSX-Datei ist nicht lesbar ({type(exc).__name__}).") from exc
    finally:
        book.close()


def _xlsx_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "ja" if value else "nein"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- both --------------------------------------------------------------------------------------


def _header(cells: Sequence[str]) -> list[str]:
    header = [_cell(c) for c in cells]
    while header and not header[-1]:
        header.pop()
    if len(header) > MAX_COLUMNS:
        raise TableError(f"Zu viele Spalten ({len(header)}, höchstens {MAX_COLUMNS}).")
    if not header:
        raise TableError("Die Datei ist leer: die erste Zeile muss die Spaltenüberschriften enthalten.")
    return header


def _cell(value: str) -> str:
    text = value.strip()
    if text.startswith("'") and text[1:2] in _FORMULA_START and text[1:2]:
        text = text[1:]
    return text[:MAX_CELL_CHARS]


def _add(table: Table, number: int, record: Sequence[str], max_rows: int | None) -> None:
    cells = [_cell(c) for c in record]
    if not any(cells):
        return
    if max_rows is not None and len(table.rows) >= max_rows:
        raise TableError(f"Zu viele Zeilen: höchstens {max_rows} Kunden je Import.", code="too_many_rows")
    table.rows.append((number, cells))


# --- writing -----------------------------------------------------------------------------------


def _safe(text: str) -> str:
    """A cell a spreadsheet shows as text: formula-like starts get an apostrophe (not numbers like "+49 30…")."""
    if text.startswith(_FORMULA_START) and not _numberlike(text):
        return "'" + text
    return text


def _numberlike(text: str) -> bool:
    return text[:1] in "+-" and len(text) > 1 and all(c.isdigit() or c in " ()/.-" for c in text[1:])


def write_csv(header: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(list(header))
    for row in rows:
        writer.writerow([_safe(c) for c in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def write_xlsx(header: Sequence[str], rows: Iterable[Sequence[str]], notes: Sequence[tuple[str, str]] = ()) -> bytes:
    """One sheet "Kunden", every cell text (no formulas, no guessed numbers: PLZ 01067 stays 01067);
    `notes` (column, hint) go on a second sheet "Hinweise"."""
    import openpyxl
    from openpyxl.styles import Font

    book = openpyxl.Workbook(write_only=False)
    sheet = book.active
    sheet.title = SHEET_TITLE
    sheet.append(list(header))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(list(row))
    for row_cells in sheet.iter_rows(min_row=1):
        for cell in row_cells:
            cell.data_type = "s"  # never a formula, whatever the text starts with
            cell.number_format = "@"
    sheet.freeze_panes = "A2"
    for index, title in enumerate(header, start=1):
        sheet.column_dimensions[openpyxl.utils.get_column_letter(index)].width = max(10, min(40, len(title) + 4))
    if notes:
        hints = book.create_sheet("Hinweise")
        hints.append(["Spalte", "Hinweis"])
        for column, text in notes:
            hints.append([column, text])
        hints.column_dimensions["A"].width = 28
        hints.column_dimensions["B"].width = 100
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def write_table(form: str, header: Sequence[str], rows: Iterable[Sequence[str]],
                notes: Sequence[tuple[str, str]] = ()) -> bytes:
    return write_xlsx(header, rows, notes) if form == XLSX else write_csv(header, rows)
