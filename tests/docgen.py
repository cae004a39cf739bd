"""Real test documents: born-digital PDFs (reportlab) and scans rendered to page images."""

from __future__ import annotations

import io

import pypdfium2 as pdfium
from PIL import Image
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas


def make_pdf(pages: list[list[str]] | list[str], *, encrypt: str | None = None, font_size: int = 12) -> bytes:
    """A born-digital PDF with a text layer; `pages` is a list of lines or a list of pages of lines."""
    if pages and isinstance(pages[0], str):
        pages = [pages]  # type: ignore[list-item]
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4, encrypt=encrypt)
    for lines in pages:
        y = 780
        pdf.setFont("Helvetica", font_size)
        for line in lines:
            pdf.drawString(72, y, line)
            y -= font_size * 1.8
        pdf.showPage()
    pdf.save()
    return buf.getvalue()


def render_pages(pdf_bytes: bytes, dpi: int = 300) -> list[Image.Image]:
    """Rasterise a PDF like a scanner would (grayscale page images, no text layer)."""
    document = pdfium.PdfDocument(pdf_bytes)
    try:
        return [document[i].render(scale=dpi / 72, grayscale=True).to_pil() for i in range(len(document))]
    finally:
        document.close()


def scan_image(lines: list[str], *, dpi: int = 300, fmt: str = "PNG", font_size: int = 14) -> bytes:
    """A one-page scan as an image file (PNG, JPEG or TIFF) at `dpi`."""
    page = render_pages(make_pdf(lines, font_size=font_size), dpi)[0]
    buf = io.BytesIO()
    page.save(buf, format=fmt, dpi=(dpi, dpi))
    return buf.getvalue()


def scan_pdf(pages: list[list[str]], *, dpi: int = 300, font_size: int = 14) -> bytes:
    """A scanned multi-page PDF: page images only, no text layer."""
    images = render_pages(make_pdf(pages, font_size=font_size), dpi)
    buf = io.BytesIO()
    images[0].save(buf, format="PDF", resolution=dpi, save_all=True, append_images=images[1:])
    return buf.getvalue()


def multipage_tiff(pages: list[list[str]], *, dpi: int = 300) -> bytes:
    images = render_pages(make_pdf(pages, font_size=14), dpi)
    buf = io.BytesIO()
    images[0].save(buf, format="TIFF", dpi=(dpi, dpi), save_all=True, append_images=images[1:], compression="tiff_lzw")
    return buf.getvalue()
