"""Thin wrapper around Tesseract (pytesseract). One Tesseract thread per process; parallelism
comes from running several pages at once (each call is its own tesseract process)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

import pytesseract
from PIL import Image

from dms.errors import IngestError

_ENV_DEFAULTS = {"OMP_THREAD_LIMIT": "1"}


def _prepare_env() -> None:
    for key, value in _ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)


def ocr_image(image: Image.Image, *, languages: str, dpi: int, timeout: int) -> tuple[str, str | None]:
    """Text of one page image, and a warning when the page could not be read."""
    _prepare_env()
    try:
        text = pytesseract.image_to_string(
            image, lang=languages, config=f"--psm 3 --dpi {dpi}", timeout=timeout
        )
    except pytesseract.TesseractNotFoundError as exc:
        raise IngestError(
            "Tesseract ist nicht installiert; gescannte Dokumente können nicht gelesen werden.",
            code="ocr_unavailable",
        ) from exc
    except RuntimeError as exc:  # pytesseract raises RuntimeError on timeout
        if "timeout" in str(exc).lower():
            return "", f"OCR-Zeitlimit ({timeout} s) überschritten"
        raise
    except pytesseract.TesseractError as exc:
        return "", f"OCR-Fehler: {exc.message}"
    return text, None


def ocr_pages(
    pages: Iterable[tuple[int, Callable[[], Image.Image], int]],
    *,
    languages: str,
    timeout: int,
    workers: int | None = None,
) -> dict[int, tuple[str, str | None]]:
    """OCR several pages in parallel. `pages` yields (page number, image loader, dpi)."""
    workers = workers or os.cpu_count() or 1

    def run(item: tuple[int, Callable[[], Image.Image], int]) -> tuple[int, tuple[str, str | None]]:
        number, load, dpi = item
        image = load()
        try:
            return number, ocr_image(image, languages=languages, dpi=dpi, timeout=timeout)
        finally:
            image.close()

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ocr") as pool:
        return dict(pool.map(run, pages))
