"""Searchable PDF derivatives of scans: page images with an invisible text layer (pikepdf).

For scanned PDFs the original page stays as it is and Tesseract's text-only page is laid over
it; a page that had to be turned upright or straightened is replaced by Tesseract's image+text
page of the corrected image.
For image files (PNG, JPEG, TIFF) every page is Tesseract's image+text page.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import pikepdf

from ingest.ocr import OcrResult


def _save(pdf: pikepdf.Pdf) -> bytes:
    out = io.BytesIO()
    pdf.save(out, compress_streams=True, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    return out.getvalue()


def searchable_from_pdf(original: bytes, results: dict[int, OcrResult]) -> tuple[bytes, list[str]]:
    """The original PDF with text layers over its OCR'd pages; returns (pdf, warnings)."""
    warnings: list[str] = []
    with pikepdf.open(io.BytesIO(original)) as pdf:
        for number, result in sorted(results.items()):
            if not result.pdf:
                continue
            layer = pikepdf.open(io.BytesIO(result.pdf))
            if result.rotation or result.deskew:  # the OCR page is the straightened image with its text
                pdf.pages[number - 1] = layer.pages[0]
                continue
            page = pdf.pages[number - 1]
            if int(page.obj.get("/Rotate", 0)) % 360:
                warnings.append(f"Seite {number}: gedrehte PDF-Seite ohne Textebene in der Vorschau")
                continue
            page.add_overlay(layer.pages[0], pikepdf.Rectangle(*[float(v) for v in page.mediabox]))
        return _save(pdf), warnings


def searchable_from_images(results: Sequence[OcrResult]) -> bytes | None:
    """One PDF of Tesseract's image+text pages, in order; None when no page produced one."""
    pages = [r.pdf for r in results if r.pdf]
    if not pages:
        return None
    merged = pikepdf.new()
    for page_pdf in pages:
        merged.pages.extend(pikepdf.open(io.BytesIO(page_pdf)).pages)
    return _save(merged)
