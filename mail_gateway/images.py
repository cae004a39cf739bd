"""Several scanned images of one mail combined into one PDF, one page per image (or TIFF frame).

Each page keeps its image's resolution (the page size follows the DPI), so OCR reads it like the
single image. Images are opened without decoding; their pixel count is checked against a limit
before any pixel is loaded, so a decompression bomb is never decoded here.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator, Sequence

from PIL import Image, ImageSequence

from mail_gateway.model import Attachment

IMAGE_FORMATS = frozenset({"PNG", "JPEG", "TIFF", "MPO"})
MAX_PIXELS = 100_000_000  # per image/frame
MAX_TOTAL_PIXELS = 600_000_000  # all pages of the combined PDF
MAX_FRAMES = 200
DEFAULT_DPI = 300
COMBINED_NAME = "Scan.pdf"


class NotCombinable(ValueError):
    """An image cannot be combined (not an image, too large, broken); the message says why."""


def image_format(data: bytes) -> str | None:
    """PNG/JPEG/TIFF by content (header only, no pixels decoded), else None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                return image.format if image.format in IMAGE_FORMATS else None
    except Exception:  # PIL raises assorted errors (and DecompressionBombError) on odd input
        return None


def _dpi(image: Image.Image) -> tuple[float, float]:
    dpi = image.info.get("dpi")
    try:
        x, y = float(dpi[0]), float(dpi[1])  # type: ignore[index]
    except (TypeError, ValueError, IndexError):
        return (DEFAULT_DPI, DEFAULT_DPI)
    if not (50 <= x <= 2400 and 50 <= y <= 2400):
        return (DEFAULT_DPI, DEFAULT_DPI)
    return (x, y)


def _pdf_ready(frame: Image.Image) -> Image.Image:
    if frame.mode in ("1", "L", "RGB", "CMYK"):
        return frame
    if frame.mode in ("RGBA", "LA", "PA") or (frame.mode == "P" and "transparency" in frame.info):
        rgba = frame.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if frame.mode.startswith("I") or frame.mode == "F":
        return frame.convert("L") if frame.mode != "I;16" else frame.point(lambda v: v / 256).convert("L")
    return frame.convert("RGB")


def _pages(attachment: Attachment, budget: list[int]) -> Iterator[tuple[Image.Image, tuple[float, float]]]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(attachment.data))
    except Exception as exc:
        raise NotCombinable(f"„{attachment.filename}“ ist kein lesbares Bild ({type(exc).__name__})") from exc
    with image:
        if image.format not in IMAGE_FORMATS:
            raise NotCombinable(f"„{attachment.filename}“ ist kein PNG-, JPEG- oder TIFF-Bild")
        for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
            if number > MAX_FRAMES:
                raise NotCombinable(f"„{attachment.filename}“ hat mehr als {MAX_FRAMES} Seiten")
            pixels = frame.width * frame.height
            budget[0] -= pixels
            if pixels > MAX_PIXELS or budget[0] < 0:
                raise NotCombinable(f"„{attachment.filename}“ ist zu groß ({frame.width} × {frame.height} Pixel)")
            dpi = _dpi(frame)
            try:
                frame.load()  # checked above: bounded
                yield _pdf_ready(frame.copy()), dpi
            except NotCombinable:
                raise
            except Exception as exc:
                raise NotCombinable(f"„{attachment.filename}“ ist beschädigt ({type(exc).__name__})") from exc


def combine_images(attachments: Sequence[Attachment]) -> Attachment:
    """One PDF ("Scan.pdf") of the images in order; raises NotCombinable with a German reason."""
    if not attachments:
        raise NotCombinable("keine Bilder")
    buf = io.BytesIO()
    budget = [MAX_TOTAL_PIXELS]
    pages = 0
    for attachment in attachments:
        for page, dpi in _pages(attachment, budget):
            # Pillow writes one resolution per save call, so each page is appended on its own.
            page.save(buf, format="PDF", append=pages > 0, dpi=dpi)
            pages += 1
    first = attachments[0]
    return Attachment(index=first.index, filename=COMBINED_NAME, content_type="application/pdf",
                      data=buf.getvalue(), inline=False)
