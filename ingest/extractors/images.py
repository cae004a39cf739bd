"""Images (PNG, JPEG, TIFF incl. multi-page): OCR every frame."""

from __future__ import annotations

import io

from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from dms.config import Settings
from dms.errors import IngestError
from ingest.context import IngestContext, PageText
from ingest.ocr import ocr_pages
from ingest.searchable import searchable_from_images

MAX_FRAMES = 2000


def effective_dpi(image: Image.Image, default: int) -> int:
    """The image's DPI when it is plausible; scanners and phones often write 1 or 72."""
    dpi = image.info.get("dpi")
    try:
        value = int(round(float(dpi[0]))) if dpi else 0
    except (TypeError, ValueError, IndexError):
        value = 0
    return value if 100 <= value <= 1200 else default


def open_image(data: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
        return image
    except Image.DecompressionBombError as exc:
        raise IngestError(f"Das Bild ist zu groß ({exc}).", code="too_large") from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise IngestError(f"Das Bild ist beschädigt ({exc}).", code="corrupt_image") from exc


def extract_image(ctx: IngestContext, settings: Settings) -> None:
    image = open_image(ctx.data)
    frames = []
    try:
        for index, frame in enumerate(ImageSequence.Iterator(image)):
            if index >= MAX_FRAMES:
                raise IngestError(f"Das Bild hat mehr als {MAX_FRAMES} Seiten.", code="too_large")
            page = ImageOps.exif_transpose(frame.convert("L"))
            frames.append((index + 1, page, effective_dpi(frame, settings.ocr_dpi)))
    except OSError as exc:
        raise IngestError(f"Das Bild ist beschädigt ({exc}).", code="corrupt_image") from exc
    results = ocr_pages(
        ((n, (lambda p=page: p), dpi) for n, page, dpi in frames),
        languages=settings.ocr_languages,
        timeout=settings.ocr_page_timeout,
        pdf="full",
    )
    ctx.pages = []
    for number, _page, _dpi in frames:
        result = results[number]
        if result.warning:
            ctx.warn(f"Seite {number}: {result.warning}")
        if result.rotation:
            ctx.warn(f"Seite {number}: um {result.rotation}° gedreht erkannt und aufgerichtet")
        ctx.pages.append(PageText(number, result.text, "ocr"))
    ctx.searchable_pdf = searchable_from_images([results[n] for n, _p, _d in frames])
