"""PDF text: the text layer where a page has one, OCR for pages without (pypdfium2).

PDFium is not thread-safe, so every call into it holds PDFIUM_LOCK; OCR runs outside it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pikepdf
import pypdfium2 as pdfium
from PIL import Image

from dms.config import Settings
from dms.errors import IngestError
from ingest.context import IngestContext, PageText
from ingest.extractors.einvoice import read_embedded_invoice
from ingest.ocr import ocr_pages
from ingest.searchable import searchable_from_pdf

PDFIUM_LOCK = threading.RLock()
MAX_PAGES = 5000


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


def _page_loader(pdf: pdfium.PdfDocument, index: int, dpi: int) -> Callable[[], Image.Image]:
    def load() -> Image.Image:
        with PDFIUM_LOCK:
            page = pdf[index]
            try:
                bitmap = page.render(scale=dpi / 72, grayscale=True)
                return bitmap.to_pil()
            finally:
                page.close()

    return load


def extract_pdf(ctx: IngestContext, settings: Settings) -> None:
    with PDFIUM_LOCK:
        pdf = open_pdf(ctx.data)
        try:
            count = len(pdf)
            if count == 0:
                raise IngestError("Die PDF-Datei enthält keine Seiten.", code="corrupt_pdf")
            if count > MAX_PAGES:
                raise IngestError(f"Die PDF-Datei hat {count} Seiten (höchstens {MAX_PAGES}).", code="too_large")
            layer: dict[int, str] = {}
            for index in range(count):
                page = pdf[index]
                try:
                    textpage = page.get_textpage()
                    layer[index + 1] = textpage.get_text_bounded().replace("\r\n", "\n")
                    textpage.close()
                except pdfium.PdfiumError as exc:
                    raise IngestError(f"Seite {index + 1} ist beschädigt ({exc}).", code="corrupt_pdf") from exc
                finally:
                    page.close()
        except BaseException:
            pdf.close()
            raise
    try:
        needs_ocr = [n for n, text in layer.items() if len(text.strip()) < settings.ocr_min_text_chars]
        results = ocr_pages(
            ((n, _page_loader(pdf, n - 1, settings.ocr_dpi), settings.ocr_dpi) for n in needs_ocr),
            languages=settings.ocr_languages,
            timeout=settings.ocr_page_timeout,
            pdf="textonly",
        )
    finally:
        with PDFIUM_LOCK:
            pdf.close()
    ctx.pages = []
    for number in sorted(layer):
        result = results.get(number)
        if result is None:
            ctx.pages.append(PageText(number, layer[number], "text_layer"))
            continue
        if result.warning:
            ctx.warn(f"Seite {number}: {result.warning}")
        if result.rotation:
            ctx.warn(f"Seite {number}: um {result.rotation}° gedreht erkannt und aufgerichtet")
        ctx.pages.append(PageText(number, result.text, "ocr"))
    if any(r.pdf for r in results.values()):
        try:
            ctx.searchable_pdf, warnings = searchable_from_pdf(ctx.data, results)
            for warning in warnings:
                ctx.warn(warning)
        except (pikepdf.PdfError, ValueError) as exc:
            ctx.warn(f"Durchsuchbares PDF konnte nicht erzeugt werden: {exc}")
    read_embedded_invoice(ctx)
