"""Thin adapter around the `tesseract` command (one Tesseract thread per process).

One call per page yields the text, word confidences (TSV) and, when asked, a one-page PDF:
`textonly` (invisible text to lay over an original PDF page) or `full` (page image + text).
Pages that read badly get an orientation check (OSD) and, when turned, one more pass upright.
Parallelism comes from running several pages at once, each its own process.
Every `tesseract` child runs with an address-space limit (RLIMIT_AS, `memory_mb`), and its
scratch files go into the caller's scratch folder (`workdir`) when one is given.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import tempfile
import time
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


def limit_memory(memory_mb: int | None) -> Callable[[], None] | None:
    """A preexec_fn that caps the child's address space (runs in the child between fork and exec)."""
    if not memory_mb:
        return None
    limit = memory_mb * 1024 * 1024

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


def _run(args: list[str], timeout: int, memory_mb: int | None = None) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            [TESSERACT, *args],
            env=_ENV,
            capture_output=True,
            timeout=timeout,
            check=False,
            preexec_fn=limit_memory(memory_mb),  # only setrlimit in the child: no locks taken
        )
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


def _recognise(
    path: Path, languages: str, dpi: int, pdf: str | None, timeout: int, memory_mb: int | None = None
) -> OcrResult:
    base = path.with_suffix("")
    args = [str(path), str(base), "-l", languages, "--dpi", str(dpi), "--psm", "3"]
    if pdf == "textonly":
        args += ["-c", "textonly_pdf=1"]
    args += ["txt", "tsv"] + (["pdf"] if pdf else [])
    done = _run(args, timeout, memory_mb)
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


def detect_rotation(path: Path, dpi: int, timeout: int, memory_mb: int | None = None) -> int:
    """Degrees clockwise to turn the page upright according to Tesseract OSD (0 when unsure)."""
    done = _run([str(path), "-", "--psm", "0", "--dpi", str(dpi)], timeout, memory_mb)
    out = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
    rotate, confidence = _ROTATE_RE.search(out), _CONF_RE.search(out)
    if not rotate or not confidence or float(confidence.group(1)) < MIN_OSD_CONFIDENCE:
        return 0
    return int(rotate.group(1)) % 360


def ocr_image(
    image: Image.Image,
    *,
    languages: str,
    dpi: int,
    timeout: int,
    pdf: str | None = None,
    memory_mb: int | None = None,
    workdir: str | os.PathLike[str] | None = None,
) -> OcrResult:
    """OCR one page image; `pdf` is None, "textonly" or "full". Never raises for a page it can't read.

    `memory_mb` caps each tesseract child's address space; scratch files go under `workdir`
    (the system temp folder when None).
    """
    skew = estimate_skew(image)
    if skew:
        # the page image changes, so a text-only layer would no longer fit the original page
        image, pdf = straighten(image, skew), ("full" if pdf else None)
    if workdir is not None:
        os.makedirs(workdir, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dms-ocr-", dir=workdir) as tmp:
        path = Path(tmp) / "page.pnm"  # uncompressed: PNG compression costs up to a second per page
        image.save(path)
        try:
            result = _recognise(path, languages, dpi, pdf, timeout, memory_mb)
            result.deskew = skew
            if result.sideways or result.words < MIN_WORDS or result.confidence < MIN_MEAN_CONFIDENCE:
                rotation = detect_rotation(path, dpi, timeout, memory_mb)
                if rotation:
                    turned = Path(tmp) / "turned.pnm"
                    image.rotate(-rotation, expand=True).save(turned)
                    retry = _recognise(turned, languages, dpi, "full" if pdf else None, timeout, memory_mb)
                    if result.sideways or retry.words * retry.confidence > result.words * result.confidence:
                        retry.rotation, retry.deskew = rotation, skew
                        result = retry
        except subprocess.TimeoutExpired:
            return OcrResult(warning=f"OCR-Zeitlimit ({timeout} s) überschritten")
    return result


def ocr_pages(
    pages: Iterable[tuple[int, Callable[[], Image.Image | None], int]],
    *,
    languages: str,
    timeout: int,
    pdf: str | None = None,
    workers: int | None = None,
    deadline: float | None = None,
    memory_mb: int | None = None,
    workdir: str | os.PathLike[str] | None = None,
) -> dict[int, OcrResult]:
    """OCR several pages in parallel. `pages` yields (page number, image loader, dpi).

    A loader may return None (nothing to read, e.g. a blank page): that page has no result.
    No page is started after `deadline` (time.monotonic()); those pages have no result either.
    """
    workers = workers or os.cpu_count() or 1

    def run(item: tuple[int, Callable[[], Image.Image | None], int]) -> tuple[int, OcrResult | None]:
        number, load, dpi = item
        if deadline is not None and time.monotonic() > deadline:
            return number, None
        image = load()
        if image is None:
            return number, None
        try:
            return number, ocr_image(
                image, languages=languages, dpi=dpi, timeout=timeout, pdf=pdf, memory_mb=memory_mb, workdir=workdir
            )
        finally:
            image.close()

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ocr") as pool:
        return {number: result for number, result in pool.map(run, pages) if result is not None}
