"""Memory and time budgets for reading pages, decided before anything is rendered or decoded.

A page image costs width x height pixels (one byte each in grayscale) in this process and
several times that inside Tesseract, so the pixel count is computed from the page's physical
size and the DPI first; a page that would exceed the budget is rendered at the lower DPI that
fits, and a page that would need a DPI too low to read is not OCR'd at all.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

from PIL import Image

MM_PER_INCH = 25.4
POINTS_PER_INCH = 72.0
# Blank-page check on a thumbnail: small enough to cost nothing, large enough to see a word.
THUMBNAIL_DPI = 30
THUMBNAIL_MAX_PIXELS = 1_000_000
# A thumbnail pixel darker than this is "ink"; a page with at most this share of ink is blank
# (scanner specks, a stray dot). One short word at 10 pt is several times above it.
INK_LEVEL = 160
BLANK_INK_SHARE = 0.0002


@dataclass(frozen=True)
class RenderPlan:
    """How to render one page: `dpi` is None when the page is too large to read."""

    dpi: int | None
    width_px: int
    height_px: int
    width_mm: float
    height_mm: float

    @property
    def pixels(self) -> int:
        return self.width_px * self.height_px


def pixel_size(width_in: float, height_in: float, dpi: float) -> tuple[int, int]:
    """Pixels of a page image of that physical size (inches) at `dpi` (rounded up, as renderers do)."""
    return max(0, math.ceil(width_in * dpi - 1e-9)), max(0, math.ceil(height_in * dpi - 1e-9))


def fit_dpi(width_in: float, height_in: float, dpi: int, max_pixels: int) -> int:
    """The highest whole DPI <= `dpi` at which the page image has at most `max_pixels` pixels."""
    area = width_in * height_in
    if area <= 0:
        return dpi
    best = min(dpi, int(math.sqrt(max_pixels / area)))
    while best > 0:
        width, height = pixel_size(width_in, height_in, best)
        if width * height <= max_pixels:
            return best
        best -= 1
    return 0


def plan_render(
    width_pt: float, height_pt: float, *, dpi: int, max_pixels: int, min_dpi: int, user_unit: float = 1.0
) -> RenderPlan:
    """Plan rendering a page of width x height PDF units (1/72 inch times UserUnit) for OCR at `dpi`."""
    width_in = width_pt * user_unit / POINTS_PER_INCH
    height_in = height_pt * user_unit / POINTS_PER_INCH
    used = fit_dpi(width_in, height_in, dpi, max_pixels)
    width_px, height_px = pixel_size(width_in, height_in, used)
    return RenderPlan(
        dpi=used if used >= min_dpi else None,
        width_px=width_px,
        height_px=height_px,
        width_mm=width_in * MM_PER_INCH,
        height_mm=height_in * MM_PER_INCH,
    )


def plan_image(
    width_px: int, height_px: int, *, dpi: int, max_pixels: int, min_dpi: int
) -> tuple[float, int | None]:
    """(scale factor <= 1, DPI after scaling) for a page image; the DPI is None when too large to read."""
    pixels = width_px * height_px
    if pixels <= max_pixels:
        return 1.0, dpi
    scale = math.sqrt(max_pixels / pixels)
    while math.ceil(width_px * scale) * math.ceil(height_px * scale) > max_pixels:
        scale *= 0.999
    scaled = int(dpi * scale)
    return scale, (scaled if scaled >= min_dpi else None)


def thumbnail_dpi(width_in: float, height_in: float) -> float:
    """DPI of the blank-page thumbnail: THUMBNAIL_DPI, lower for huge pages (at most 1 MP)."""
    area = width_in * height_in
    if area <= 0:
        return THUMBNAIL_DPI
    return min(THUMBNAIL_DPI, math.sqrt(THUMBNAIL_MAX_PIXELS / area))


def is_blank(thumbnail: Image.Image) -> bool:
    """(Almost) no dark pixels on a small grayscale rendering of the page."""
    gray = thumbnail if thumbnail.mode == "L" else thumbnail.convert("L")
    total = gray.width * gray.height
    if total == 0:
        return True
    histogram = gray.histogram()
    ink = sum(histogram[:INK_LEVEL])
    return ink <= total * BLANK_INK_SHARE


def too_large_warning(number: int, plan: RenderPlan) -> str:
    return (
        f"Seite {number} ist zu groß für die Texterkennung "
        f"({plan.width_mm:.0f} × {plan.height_mm:.0f} mm)"
    )


def blank_warning(count: int) -> str:
    return "1 leere Seite übersprungen" if count == 1 else f"{count} leere Seiten übersprungen"


def page_ranges(numbers: Iterable[int], limit: int = 8) -> str:
    """"3, 5–9, 12" for [3, 5, 6, 7, 8, 9, 12]; after `limit` ranges the rest is cut with "…"."""
    runs: list[list[int]] = []
    for number in sorted(set(numbers)):
        if runs and number == runs[-1][1] + 1:
            runs[-1][1] = number
        else:
            runs.append([number, number])
    parts = [str(a) if a == b else f"{a}–{b}" for a, b in runs]
    if len(parts) > limit:
        parts = [*parts[:limit], "…"]
    return ", ".join(parts)


def pages_limit_reason(read: int, total: int | str) -> str:
    return f"Nur die ersten {read} von {total} Seiten wurden gelesen (Seitenlimit ingest.max_pages)."


def time_budget_reason(seconds: int, unread: Iterable[int]) -> str:
    unread = sorted(set(unread))
    pages = f"Seite {unread[0]} wurde" if len(unread) == 1 else f"Seiten {page_ranges(unread)} wurden"
    return f"Zeitbudget von {seconds} s überschritten (ingest.max_seconds); {pages} nicht gelesen."


def deadline_for(ctx_deadline: float | None, max_seconds: int) -> float:
    """The document's reading deadline: the one set on the context, else now + max_seconds."""
    return ctx_deadline if ctx_deadline is not None else time.monotonic() + max_seconds
