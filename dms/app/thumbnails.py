"""Thumbnails for lists: a PNG (at most 200 x 280 pixels) of a version's first page.

What is drawn: the first page of a PDF (the original, or the PDF rendition of an office file)
with PDFium; an image scan with Pillow; anything else (an XML e-invoice, a mail, an office file
without a rendition) a plain card naming the file type.

A thumbnail is derived data, cached on disk under `<data_dir>/cache/thumbnails/` by the sha256
of the version (safe to delete: it is made again). Every file is hostile until drawn: budgets are
decided before decoding (the size of the stored bytes; an image's pixel count from its header,
`ingest.max_page_pixels`; a PDF page is rendered straight at thumbnail size), and whatever cannot
be drawn within them, or at all, is `no_thumbnail` (404). That outcome is cached too (an empty
file), so a broken or hostile file costs one attempt. Reading a thumbnail is not audited: the
page showing the list it belongs to is.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from dms.app.documents import visible
from dms.app.principal import DOCUMENTS_READ, Principal, require
from dms.app.services import Services
from dms.domain import Version
from dms.errors import NotFound

log = logging.getLogger(__name__)

WIDTH, HEIGHT = 200, 280  # the box a thumbnail fits in (an A4 page: 198 x 280)
MAX_SOURCE_BYTES = 64 * 1024 * 1024  # larger originals get no thumbnail (they are read whole)
IMAGE_FORMATS = ("PNG", "JPEG", "TIFF", "GIF", "WEBP", "BMP")
MAX_PAGE_POINTS = 200 * 72  # a PDF page wider or taller than 200 inches is no page
# Drawing at once in this process (memory); more wait. PDFium itself is serialised by its lock.
_SLOTS = threading.BoundedSemaphore(2)
CARD_LABELS = {
    "message/rfc822": "E-MAIL", "application/xml": "XML", "text/xml": "XML", "text/plain": "TEXT",
    "text/html": "HTML",
}
PDF, RENDITION, IMAGE, SNIFF = "pdf", "rendition", "image", "sniff"


@dataclass(frozen=True)
class Thumbnail:
    version: Version
    png: bytes


def no_thumbnail(version: Version) -> NotFound:
    return NotFound(f"Für Version {version.number} ({version.filename}) gibt es kein Vorschaubild.",
                    code="no_thumbnail")


def thumbnail(services: Services, principal: Principal, document_id: str, number: int | None = None) -> Thumbnail:
    """The thumbnail of a version (the latest when `number` is None); NotFound `no_thumbnail` when
    it cannot be drawn."""
    require(principal, DOCUMENTS_READ)
    document = visible(services, principal, services.catalog.documents.get(document_id))
    version = document.version(number)
    if version is None:
        raise NotFound(f"Version {number} von Dokument {document_id} existiert nicht.", code="version_not_found")
    kind, key = _source(version)
    if kind is None:
        return Thumbnail(version, _card(_label(version)))
    if version.size > MAX_SOURCE_BYTES:
        raise no_thumbnail(version)
    path = cache_dir(services) / version.sha256[:2] / f"{version.sha256}-{kind}.png"
    png = _read_cache(path)
    if png is None:
        data = services.store.get(key)  # a store that does not answer is a 503, not a cached failure
        png = _draw(kind, data, services.settings.limit("ingest", "max_page_pixels"), version)
        _write_cache(path, png)
    if not png:
        raise no_thumbnail(version)
    return Thumbnail(version, png)


def cache_dir(services: Services) -> Path:
    return services.settings.data_dir / "cache" / "thumbnails"


def _source(version: Version) -> tuple[str | None, str]:
    """(what to draw, storage key): PDF, RENDITION, IMAGE, SNIFF (type not detected yet) or None (a card)."""
    mime = version.mime_type
    if mime == "application/pdf":
        return PDF, version.storage_key
    if mime is not None and mime.startswith("image/"):
        return IMAGE, version.storage_key
    if version.derivative_key and version.derivative_key.endswith(".pdf"):
        return RENDITION, version.derivative_key  # an office file's PDF
    if mime is None:
        return SNIFF, version.storage_key
    return None, ""


def _draw(kind: str, data: bytes, max_pixels: int, version: Version) -> bytes:
    """The PNG, or b"" when it cannot be drawn within the budgets."""
    if len(data) > MAX_SOURCE_BYTES:
        return b""
    if kind == SNIFF:
        head = data[:1024]
        kind = PDF if b"%PDF-" in head else IMAGE
    try:
        with _SLOTS:
            image = _render_pdf(data) if kind in (PDF, RENDITION) else _render_image(data, max_pixels)
            if image is None:
                return b""
            buffer = io.BytesIO()
            image.save(buffer, "PNG", optimize=True)
            return buffer.getvalue()
    except Exception as exc:  # hostile input: whatever PDFium or Pillow make of it, no thumbnail (never a 500)
        log.info("no thumbnail for %s version %s (%s): %s", version.filename, version.number, kind, exc)
        return b""


def _render_pdf(data: bytes) -> Image.Image | None:
    import pypdfium2 as pdfium

    from ingest.extractors.pdf import PDFIUM_LOCK  # PDFium is not thread-safe (the ingest pipeline uses it too)

    with PDFIUM_LOCK:
        pdf = pdfium.PdfDocument(data)
        try:
            if len(pdf) < 1:
                return None
            page = pdf[0]
            try:
                width, height = page.get_size()
                if not (0 < width <= MAX_PAGE_POINTS and 0 < height <= MAX_PAGE_POINTS):
                    return None
                scale = min(WIDTH / width, HEIGHT / height)
                if width * scale < 2 or height * scale < 2:
                    return None
                image = page.render(scale=scale, fill_color=(255, 255, 255, 255)).to_pil()
            finally:
                page.close()
        finally:
            pdf.close()
    return image.convert("RGB")


def _render_image(data: bytes, max_pixels: int) -> Image.Image | None:
    with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as image:
        width, height = image.size  # from the header: nothing decoded yet
        if width < 1 or height < 1 or width * height > max_pixels:
            return None
        image.draft("RGB", (WIDTH * 2, HEIGHT * 2))  # JPEG: decode at a fraction of the size
        image.thumbnail((WIDTH, HEIGHT))
        if image.mode in ("RGBA", "LA", "P", "PA"):
            background = Image.new("RGB", image.size, "white")
            rgba = image.convert("RGBA")
            background.paste(rgba, mask=rgba.getchannel("A"))
            return background
        return image.convert("RGB")


def _label(version: Version) -> str:
    if version.mime_type in CARD_LABELS:
        return CARD_LABELS[version.mime_type or ""]
    stem, dot, extension = version.filename.rpartition(".")
    extension = "".join(c for c in extension if c.isascii() and c.isalnum()).upper()
    return extension[:5] if dot and stem and extension else "DATEI"


@lru_cache(maxsize=64)
def _card(label: str) -> bytes:
    """A plain page with a folded corner and the file type, for what has no picture."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "#eef1f5")
    draw = ImageDraw.Draw(image)
    fold = 44
    outline = [(20, 14), (WIDTH - 20 - fold, 14), (WIDTH - 20, 14 + fold), (WIDTH - 20, HEIGHT - 14), (20, HEIGHT - 14)]
    draw.polygon(outline, fill="white", outline="#8a94a6", width=3)
    draw.line([(WIDTH - 20 - fold, 14), (WIDTH - 20 - fold, 14 + fold), (WIDTH - 20, 14 + fold)], fill="#8a94a6",
              width=3)
    try:
        font: ImageFont.ImageFont | ImageFont.FreeTypeFont = ImageFont.load_default(size=40)
    except (TypeError, OSError):  # an old Pillow, or no FreeType
        font = ImageFont.load_default()
    draw.text((WIDTH / 2, HEIGHT / 2 + 10), label, fill="#1d2a3d", font=font, anchor="mm")
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def _read_cache(path: Path) -> bytes | None:
    """The cached PNG, b"" for a cached failure, None when not cached."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("thumbnail cache unreadable (%s): %s", path, exc)
        return None


def _write_cache(path: Path, png: bytes) -> None:
    """Atomically (a reader never sees half a file); a cache that cannot be written is only slower."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".png")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(png)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        log.warning("thumbnail not cached (%s): %s", path, exc)
