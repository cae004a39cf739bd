"""Thin adapter around the `tesseract` command (one Tesseract thread per process).

One call per page yields the text, word confidences (TSV) and, when asked, a one-page PDF:
`textonly` (invisible text to lay over an original PDF page) or `full` (page image + text).
Pages that read badly get an orientation check (OSD) and, when turned, one more pass upright.
Parallelism comes from running several pages at once, each its own process.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from dms.errors import IngestError
from ingest.deskew import estimate_skew, straighten

TESSERACT = "tesseract"
_ENV = {**os.environ, "OMP_THREAD_LIMIT": "1"}
_ROTATE_RE = re.compile(r"Rotate:\s*(\d+)")
_CONF_RE = re.compile(r"Orientation confidence:\s*([\d.]+)")
# A page "reads badly" below these; then we ask OSD whether it is turned.
MIN_WORDS, MIN_MEAN_CONFIDENCE, MIN_OSD_CONFIDENCE = 8, 60.0, 1.5


@dataclass
class OcrResult:
    text: str = ""
    pdf: bytes | None = None
    rotation: int = 0  # degrees clockwise the page image was turned to read it
    deskew: float = 0.0  # degrees the page image was straightened by before reading it
    words: int = 0
    confidence: float = 0.0
    sideways: bool = False  # most words run vertically: the page is probably turned by 90° or 270°
    warning: str | None = None


def _run(args: list[str], timeout: int) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run([TESSERACT, *args], env=_ENV, capture_output=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise IngestError(
            "Tesseract ist nicht installiert; gescannte Dokumente können nicht gelesen werden.", code="ocr_unavailable"
        ) from exc


def _parse_tsv(tsv: str) -> tuple[int, float, float]:
    """(words, mean confidence, share of longer words whose box is taller than wide)."""
    confidences: list[float] = []
    long_words = upright = 0
    for line in tsv.splitlines()[1:]:
        cols = line.split("\t")
        if len(cols) != 12 or not cols[11].strip():
            continue
        try:
            confidence, width, height = float(cols[10]), int(cols[8]), int(cols[9])
        except ValueError:
            continue
        if confidence < 0:
            continue
        confidences.append(confidence)
        if len(cols[11].strip()) >= 4:
            long_words += 1
            upright += height > width
    mean = sum(confidences) / len(confidences) if confidences else 0.0
    return len(confidences), mean, (upright / long_words if long_words else 0.0)


def _recognise(path: Path, languages: str, dpi: int, pdf: str | None, timeout: int) -> OcrResult:
    base = path.with_suffix("")
    args = [str(path), str(base), "-l", languages, "--dpi", str(dpi), "--psm", "3"]
    if pdf == "textonly":
        args += ["-c", "textonly_pdf=1"]
    args += ["txt", "tsv"] + (["pdf"] if pdf else [])
    done = _run(args, timeout)
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["unbekannt"]
        return OcrResult(warning=f"OCR-Fehler: {message[0]}")
    words, confidence, vertical = _parse_tsv(base.with_suffix(".tsv").read_text(encoding="utf-8", errors="replace"))
    return OcrResult(
        text=base.with_suffix(".txt").read_text(encoding="utf-8", errors="replace"),
        pdf=base.with_suffix(".pdf").read_bytes() if pdf else None,
        words=words,
        confidence=confidence,
        sideways=vertical > 0.5,
    )


def detect_rotation(path: Path, dpi: int, timeout: int) -> int:
    """Degrees clockwise to turn the page upright according to Tesseract OSD (0 when unsure)."""
    done = _run([str(path), "-", "--psm", "0", "--dpi", str(dpi)], timeout)
    out = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
    rotate, confidence = _ROTATE_RE.search(out), _CONF_RE.search(out)
    if not rotate or not confidence or float(confidence.group(1)) < MIN_OSD_CONFIDENCE:
        return 0
    return int(rotate.group(1)) % 360


def ocr_image(image: Image.Image, *, languages: str, dpi: int, timeout: int, pdf: str | None = None) -> OcrResult:
    """OCR one page image; `pdf` is None, "textonly" or "full". Never raises for a page it can't read."""
    skew = estimate_skew(image)
    if skew:
        # the page image changes, so a text-only layer would no longer fit the original page
        image, pdf = straighten(image, skew), ("full" if pdf else None)
    with tempfile.TemporaryDirectory(prefix="dms-ocr-") as tmp:
        path = Path(tmp) / "page.pnm"  # uncompressed: PNG compression costs up to a second per page
        image.save(path)
        try:
            result = _recognise(path, languages, dpi, pdf, timeout)
            result.deskew = skew
            if result.sideways or result.words < MIN_WORDS or result.confidence < MIN_MEAN_CONFIDENCE:
                rotation = detect_rotation(path, dpi, timeout)
                if rotation:
                    turned = Path(tmp) / "turned.pnm"
                    image.rotate(-rotation, expand=True).save(turned)
                    retry = _recognise(turned, languages, dpi, "full" if pdf else None, timeout)
                    if result.sideways or retry.words * retry.confidence > result.words * result.confidence:
                        retry.rotation, retry.deskew = rotation, skew
                        result = retry
        except subprocess.TimeoutExpired:
            return OcrResult(warning=f"OCR-Zeitlimit ({timeout} s) überschritten")
    return result


def ocr_pages(
    pages: Iterable[tuple[int, Callable[[], Image.Image], int]],
    *,
    languages: str,
    timeout: int,
    pdf: str | None = None,
    workers: int | None = None,
) -> dict[int, OcrResult]:
    """OCR several pages in parallel. `pages` yields (page number, image loader, dpi)."""
    workers = workers or os.cpu_count() or 1

    def run(item: tuple[int, Callable[[], Image.Image], int]) -> tuple[int, OcrResult]:
        number, load, dpi = item
        image = load()
        try:
            return number, ocr_image(image, languages=languages, dpi=dpi, timeout=timeout, pdf=pdf)
        finally:
            image.close()

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ocr") as pool:
        return dict(pool.map(run, pages))
