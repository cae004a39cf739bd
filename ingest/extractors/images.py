"""Images (PNG, JPEG, TIFF incl. multi-page): OCR every frame.

Memory is bounded before anything is decoded: the pixel count from the header is checked
against `ingest.max_image_pixels` (larger images are refused, `too_large`), and frames are
decoded one at a time inside the OCR loader (under IMAGE_LOCK), never all at once; a frame
above `ingest.max_page_pixels` is scaled down (JPEG already while decoding, Image.draft).
The page and time budgets (`max_pages`, `max_seconds`) work as for PDFs.
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from dms.config import Settings
from dms.errors import IngestError
from ingest.context import IngestContext, PageText
from ingest.ocr import ocr_pages
from ingest.render_budget import (
    THUMBNAIL_DPI,
    blank_warning,
    deadline_for,
    is_blank,
    pages_limit_reason,
    plan_image,
    time_budget_reason,
)
from ingest.searchable import searchable_from_images

# Frames counted at most (counting reads only the frame headers); beyond: "more than".
MAX_COUNTED_FRAMES = 100_000
# A PIL image is not thread-safe (seek/decode): one frame is decoded at a time.
IMAGE_LOCK = threading.Lock()


def effective_dpi(image: Image.Image, default: int) -> int:
    """The image's DPI when it is plausible; scanners and phones often write 1 or 72."""
    dpi = image.info.get("dpi")
    try:
        value = int(round(float(dpi[0]))) if dpi else 0
    except (TypeError, ValueError, IndexError):
        value = 0
    return value if 100 <= value <= 1200 else default


def _too_large(width: int, height: int, max_pixels: int, page: int | None = None) -> str:
    where = f"Seite {page} ist" if page else "Das Bild ist"
    return (
        f"{where} zu groß: {width} × {height} Pixel ({width * height / 1e6:.0f} MP; "
        f"höchstens {max_pixels / 1e6:.0f} MP, ingest.max_image_pixels)"
    )


def open_image(data: bytes, max_pixels: int | None = None) -> Image.Image:
    """Open an image without decoding its pixels; refuse it (too_large) above `max_pixels` pixels."""
    if max_pixels:
        Image.MAX_IMAGE_PIXELS = max_pixels  # PIL's own bomb check (it refuses at twice this)
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise IngestError(f"Das Bild ist zu groß ({exc}).", code="too_large") from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise IngestError(f"Das Bild ist beschädigt ({exc}).", code="corrupt_image") from exc
    width, height = image.size
    if max_pixels and width * height > max_pixels:
        image.close()
        raise IngestError(_too_large(width, height, max_pixels) + ".", code="too_large")
    return image


@dataclass
class _Frame:
    number: int
    width: int
    height: int
    dpi: int


def _frames(image: Image.Image, read: int, default_dpi: int) -> tuple[list[_Frame], int]:
    """Header facts of the first `read` frames, and how many frames there are (capped); no pixels decoded."""
    frames: list[_Frame] = []
    count = 0
    try:
        while count < MAX_COUNTED_FRAMES:
            try:
                image.seek(count)
            except EOFError:
                break
            if count < read:
                frames.append(_Frame(count + 1, *image.size, effective_dpi(image, default_dpi)))
            count += 1
        image.seek(0)
    except (OSError, SyntaxError, ValueError) as exc:
        raise IngestError(f"Das Bild ist beschädigt ({exc}).", code="corrupt_image") from exc
    return frames, max(count, 1)


def _frame_loader(
    image: Image.Image, frame: _Frame, scale: float, broken: dict[int, str], blank: set[int]
) -> Callable[[], Image.Image | None]:
    def load() -> Image.Image | None:
        size = (max(1, math.ceil(frame.width * scale)), max(1, math.ceil(frame.height * scale)))
        try:
            with IMAGE_LOCK:
                image.seek(frame.number - 1)
                if scale < 1 and image.format == "JPEG":
                    image.draft("L", size)  # decode at 1/2, 1/4 or 1/8 size right away
                page = image.convert("L")
            if page.size != size and scale < 1:
                page = page.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
            factor = max(1, round(frame.dpi * scale / THUMBNAIL_DPI))
            if is_blank(page.reduce(factor) if factor > 1 else page):
                blank.add(frame.number)
                page.close()
                return None
            return ImageOps.exif_transpose(page)
        except (OSError, SyntaxError, ValueError) as exc:
            broken[frame.number] = str(exc)
            return None

    return load


def extract_image(ctx: IngestContext, settings: Settings) -> None:
    max_image_pixels = settings.limit("ingest", "max_image_pixels")
    max_pages = settings.limit("ingest", "max_pages")
    max_seconds = settings.limit("ingest", "max_seconds")
    ctx.deadline = deadline = deadline_for(ctx.deadline, max_seconds)
    image = open_image(ctx.data, max_image_pixels)
    try:
        frames, count = _frames(image, max_pages, settings.ocr_dpi)
        broken: dict[int, str] = {}
        blank: set[int] = set()
        jobs = []
        for frame in frames:
            if frame.width * frame.height > max_image_pixels:
                ctx.warn(_too_large(frame.width, frame.height, max_image_pixels, frame.number))
                continue
            scale, dpi = plan_image(
                frame.width,
                frame.height,
                dpi=frame.dpi,
                max_pixels=settings.limit("ingest", "max_page_pixels"),
                min_dpi=settings.limit("ingest", "min_dpi"),
            )
            if dpi is None:
                size = f"{frame.width} × {frame.height} Pixel"
                ctx.warn(f"Seite {frame.number} ist zu groß für die Texterkennung ({size})")
                continue
            jobs.append((frame.number, _frame_loader(image, frame, scale, broken, blank), dpi))
        results = ocr_pages(
            jobs,
            languages=settings.ocr_languages,
            timeout=settings.ocr_page_timeout,
            pdf="full",
            deadline=deadline,
            memory_mb=settings.limit("ingest", "child_memory_mb"),
            workdir=ctx.workdir,
        )
    finally:
        image.close()
    if broken and not results:
        first = min(broken)
        raise IngestError(f"Das Bild ist beschädigt ({broken[first]}).", code="corrupt_image")
    for number in sorted(broken):
        ctx.warn(f"Seite {number} ist beschädigt ({broken[number]})")
    ctx.pages = []
    for frame in frames:
        result = results.get(frame.number)
        if result is None:
            ctx.pages.append(PageText(frame.number, "", "none"))
            continue
        if result.warning:
            ctx.warn(f"Seite {frame.number}: {result.warning}")
        if result.rotation:
            ctx.warn(f"Seite {frame.number}: um {result.rotation}° gedreht erkannt und aufgerichtet")
        ctx.pages.append(PageText(frame.number, result.text, "ocr"))
    unread = [n for n, _load, _dpi in jobs if n not in results and n not in broken and n not in blank]
    if blank:
        ctx.warn(blank_warning(len(blank)))
    if len(frames) < count:
        total = count if count < MAX_COUNTED_FRAMES else f"mehr als {MAX_COUNTED_FRAMES}"
        ctx.review_reasons.append(pages_limit_reason(len(frames), total))
    if unread:
        ctx.review_reasons.append(time_budget_reason(max_seconds, unread))
    ctx.searchable_pdf = searchable_from_images([results[n] for n in sorted(results)])


