"""PDF text: the text layer where a page has one, OCR for pages without (pypdfium2).

PDFium is not thread-safe, so every call into it holds PDFIUM_LOCK; OCR runs outside it.

Budgets (settings [ingest]): only the first `max_pages` pages are read; no page is started
after the document's deadline (`max_seconds`); each page's image size is decided from its
physical size before rendering (`max_page_pixels`, `min_dpi`). Blank pages are skipped: without
rendering when the page has no content at all, else after a small thumbnail shows no ink.
A budget that runs out adds a review reason (the document ends `needs_review`).
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pikepdf
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from dms.config import Settings
from dms.errors import IngestError
from ingest.context import IngestContext, PageText
from ingest.extractors.einvoice import read_embedded_invoice
from ingest.ocr import ocr_pages
from ingest.render_budget import (
    POINTS_PER_INCH,
    RenderPlan,
    blank_warning,
    deadline_for,
    is_blank,
    page_ranges,
    pages_limit_reason,
    plan_render,
    thumbnail_dpi,
    time_budget_reason,
    too_large_warning,
)
from ingest.searchable import searchable_from_pdf

PDFIUM_LOCK = threading.RLock()
# Largest UserUnit the PDF specification allows (ISO 32000-2, 14.11.2 / Annex C).
MAX_USER_UNIT = 75_000.0
# Per-page "too large" warnings listed one by one; more are summarised in one warning.
MAX_PAGE_WARNINGS = 5


def open_pdf(data: bytes) -> pdfium.PdfDocument:
    """Open a PDF or raise an IngestError that says why not (encrypted, corrupt)."""
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        message = str(exc).lower()
        if "password" in message:
            raise IngestError(
                "Die PDF-Datei ist passwortgeschützt (verschlüsselt) und kann nicht gelesen werden. "
                "Bitte eine unverschlüsselte Fassung hochladen.",
                code="encrypted_pdf",
            ) from exc
        raise IngestError(
            f"Die PDF-Datei ist beschädigt oder unvollständig ({exc}).", code="corrupt_pdf"
        ) from exc


@dataclass
class _Page:
    """What the text-layer pass learned about a page that needs OCR."""

    number: int
    width: float  # PDF units as PDFium sees them (UserUnit not applied)
    height: float
    empty: bool  # no page objects and no annotations: blank without rendering
    user_unit: float = 1.0


def user_units(data: bytes, numbers: list[int]) -> dict[int, float]:
    """/UserUnit of the given pages (PDFium ignores it; 1.0 when absent or unreadable)."""
    units = dict.fromkeys(numbers, 1.0)
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            for number in numbers:
                value = pdf.pages[number - 1].obj.get("/UserUnit")
                if value is not None and 0 < float(value) <= MAX_USER_UNIT:
                    units[number] = float(value)
    except (pikepdf.PdfError, IndexError, TypeError, ValueError):
        pass
    return units


def _page_loader(
    pdf: pdfium.PdfDocument, page: _Page, plan: RenderPlan, blank: set[int]
) -> Callable[[], Image.Image | None]:
    """Render the page for OCR at the planned DPI; None (and noted in `blank`) when a thumbnail shows no ink."""
    assert plan.dpi is not None

    def load() -> Image.Image | None:
        unit_scale = page.user_unit / POINTS_PER_INCH  # pixels per PDF unit at 1 dpi
        inches = page.width * page.user_unit / POINTS_PER_INCH, page.height * page.user_unit / POINTS_PER_INCH
        with PDFIUM_LOCK:
            handle = pdf[page.number - 1]
            try:
                thumbnail = handle.render(scale=thumbnail_dpi(*inches) * unit_scale, grayscale=True).to_pil()
                if is_blank(thumbnail):
                    blank.add(page.number)
                    return None
                thumbnail.close()
                bitmap = handle.render(scale=plan.dpi * unit_scale, grayscale=True)
                return bitmap.to_pil()
            finally:
                handle.close()

    return load


def _read_layer(
    pdf: pdfium.PdfDocument, read: int, min_chars: int, deadline: float
) -> tuple[dict[int, str], dict[int, _Page]]:
    """Text layer of pages 1..read (until the deadline) and the shape of those that need OCR."""
    layer: dict[int, str] = {}
    needs_ocr: dict[int, _Page] = {}
    for index in range(read):
        if time.monotonic() > deadline:
            break
        page = pdf[index]
        try:
            textpage = page.get_textpage()
            text = textpage.get_text_bounded().replace("\r\n", "\n")
            textpage.close()
            layer[index + 1] = text
            if len(text.strip()) < min_chars:
                width, height = page.get_size()
                empty = (
                    pdfium_c.FPDFPage_CountObjects(page.raw) == 0 and pdfium_c.FPDFPage_GetAnnotCount(page.raw) == 0
                )
                needs_ocr[index + 1] = _Page(index + 1, width, height, empty or width <= 0 or height <= 0)
        except pdfium.PdfiumError as exc:
            raise IngestError(f"Seite {index + 1} ist beschädigt ({exc}).", code="corrupt_pdf") from exc
        finally:
            page.close()
    return layer, needs_ocr


def extract_pdf(ctx: IngestContext, settings: Settings) -> None:
    max_pages = settings.limit("ingest", "max_pages")
    max_seconds = settings.limit("ingest", "max_seconds")
    ctx.deadline = deadline = deadline_for(ctx.deadline, max_seconds)
    with PDFIUM_LOCK:
        pdf = open_pdf(ctx.data)
        try:
            count = len(pdf)
            if count == 0:
                raise IngestError("Die PDF-Datei enthält keine Seiten.", code="corrupt_pdf")
            read = min(count, max_pages)
            layer, needs_ocr = _read_layer(pdf, read, settings.ocr_min_text_chars, deadline)
        except BaseException:
            pdf.close()
            raise
    blank = {n for n, page in needs_ocr.items() if page.empty}
    too_large: list[int] = []
    jobs = []
    try:
        units = user_units(ctx.data, [n for n in needs_ocr if n not in blank])
        for number, page in needs_ocr.items():
            if number in blank:
                continue
            page.user_unit = units.get(number, 1.0)
            plan = plan_render(
                page.width,
                page.height,
                dpi=settings.ocr_dpi,
                max_pixels=settings.limit("ingest", "max_page_pixels"),
                min_dpi=settings.limit("ingest", "min_dpi"),
                user_unit=page.user_unit,
            )
            if plan.dpi is None:
                too_large.append(number)
                if len(too_large) <= MAX_PAGE_WARNINGS:
                    ctx.warn(too_large_warning(number, plan))
                continue
            jobs.append((number, _page_loader(pdf, page, plan, blank), plan.dpi))
        results = ocr_pages(
            jobs,
            languages=settings.ocr_languages,
            timeout=settings.ocr_page_timeout,
            pdf="textonly",
            deadline=deadline,
            memory_mb=settings.limit("ingest", "child_memory_mb"),
            workdir=ctx.workdir,
        )
    finally:
        with PDFIUM_LOCK:
            pdf.close()
    if len(too_large) > MAX_PAGE_WARNINGS:
        ctx.warn(f"Weitere {len(too_large) - MAX_PAGE_WARNINGS} Seiten sind zu groß für die Texterkennung "
                 f"(Seiten {page_ranges(too_large[MAX_PAGE_WARNINGS:])})")
    unread = [n for n, _load, _dpi in jobs if n not in results and n not in blank]
    unread += range(len(layer) + 1, read + 1)  # not reached by the text-layer pass
    ctx.pages = []
    for number in range(1, len(layer) + 1):
        result = results.get(number)
        if result is None:
            ctx.pages.append(PageText(number, layer[number], "text_layer" if layer[number].strip() else "none"))
            continue
        if result.warning:
            ctx.warn(f"Seite {number}: {result.warning}")
        if result.rotation:
            ctx.warn(f"Seite {number}: um {result.rotation}° gedreht erkannt und aufgerichtet")
        ctx.pages.append(PageText(number, result.text, "ocr"))
    if blank:
        ctx.warn(blank_warning(len(blank)))
    if read < count:
        ctx.review_reasons.append(pages_limit_reason(read, count))
    if unread:
        ctx.review_reasons.append(time_budget_reason(max_seconds, unread))
    if any(r.pdf for r in results.values()):
        try:
            ctx.searchable_pdf, warnings = searchable_from_pdf(ctx.data, results)
            for warning in warnings:
                ctx.warn(warning)
        except (pikepdf.PdfError, ValueError) as exc:
            ctx.warn(f"Durchsuchbares PDF konnte nicht erzeugt werden: {exc}")
    read_embedded_invoice(ctx, settings)
