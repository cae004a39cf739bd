"""Hostile pages (issue #9, parts 1 and 5): huge pages, UserUnit, thousands of blank pages,
long scans. Memory is decided before rendering; page and time budgets end a document
`needs_review` with the text read so far searchable.

Every input is generated here. The unit tests at the top check the budget math and the
extractors directly; the rest runs against real `dms serve` stacks (tests/hostile/conftest.py).
"""

from __future__ import annotations

import dataclasses
import io
import time

import pikepdf
import pytest
from PIL import Image, ImageDraw

from dms.config import Settings
from dms.errors import IngestError
from ingest.context import IngestContext
from ingest.extractors.images import extract_image
from ingest.extractors.pdf import extract_pdf
from ingest.render_budget import (
    fit_dpi,
    is_blank,
    page_ranges,
    pixel_size,
    plan_image,
    plan_render,
    thumbnail_dpi,
    time_budget_reason,
)
from tests.docgen import make_pdf, render_pages
from tests.hostile.conftest import HostileStack

A4 = (595.28, 841.89)
MAX_RSS_MB = 1024


# --- inputs -------------------------------------------------------------------------------


def _save(pdf: pikepdf.Pdf) -> bytes:
    out = io.BytesIO()
    pdf.save(out, compress_streams=True, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    return out.getvalue()


def huge_blank_pdf(pages: int = 1, side: float = 14400) -> bytes:
    """The attacker's file: blank pages of MediaBox [0 0 14400 14400] (200 x 200 inches)."""
    pdf = pikepdf.new()
    for _ in range(pages):
        pdf.add_blank_page(page_size=(side, side))
    return _save(pdf)


def drawn_pdf(width: float, height: float, *, user_unit: float | None = None) -> bytes:
    """One page with a filled rectangle (vector ink, no text layer): it must be OCR'd if it can be."""
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(width, height))
    page.obj.Contents = pdf.make_stream(f"0 g {width / 10:.0f} {height / 10:.0f} {width / 3:.0f} 20 re f".encode())
    if user_unit is not None:
        page.obj.UserUnit = user_unit
    return _save(pdf)


def text_and_blank_pdf(total: int, texts: dict[int, str]) -> bytes:
    """`total` A4 pages, blank except the pages in `texts` (born-digital text layer)."""
    source = pikepdf.open(io.BytesIO(make_pdf([[texts[n]] for n in sorted(texts)])))
    pdf = pikepdf.new()
    text_pages = dict(zip(sorted(texts), source.pages, strict=True))
    for number in range(1, total + 1):
        if number in text_pages:
            pdf.pages.append(text_pages[number])
        else:
            pdf.add_blank_page(page_size=A4)
    return _save(pdf)


def scan_page(line: str, dpi: int = 150) -> Image.Image:
    return render_pages(make_pdf([line] * 3, font_size=14), dpi)[0]


def scanned_tiff(total: int, texts: dict[int, str], dpi: int = 150) -> bytes:
    """A multi-page scan: blank A4 frames except the pages in `texts`."""
    blank = Image.new("L", (round(8.27 * dpi), round(11.69 * dpi)), 255)
    frames = [scan_page(texts[n], dpi) if n in texts else blank for n in range(1, total + 1)]
    out = io.BytesIO()
    frames[0].save(out, format="TIFF", dpi=(dpi, dpi), save_all=True, append_images=frames[1:],
                   compression="tiff_lzw")
    return out.getvalue()


def scanned_pdf(total: int, line: str, dpi: int = 100) -> bytes:
    """`total` scanned pages (page images, no text layer) that all show `line`; one image XObject."""
    one = io.BytesIO()
    scan_page(line, dpi).save(one, format="PDF", resolution=dpi)
    source = pikepdf.open(io.BytesIO(one.getvalue()))
    pdf = pikepdf.new()
    for _ in range(total):
        pdf.pages.append(source.pages[0])
    return _save(pdf)


# --- the budget math ----------------------------------------------------------------------


def test_fit_dpi_keeps_small_pages_and_lowers_large_ones() -> None:
    a4 = (A4[0] / 72, A4[1] / 72)
    assert fit_dpi(*a4, 300, 25_000_000) == 300  # 8.7 MP
    dpi = fit_dpi(200, 200, 300, 25_000_000)  # 14400 pt: 3.6 GP at 300 dpi
    assert dpi == 25
    width, height = pixel_size(200, 200, dpi)
    assert width * height <= 25_000_000 < pixel_size(200, 200, dpi + 1)[0] ** 2
    assert fit_dpi(0, 0, 300, 100) == 300


def test_plan_render_refuses_below_min_dpi_and_honours_user_unit() -> None:
    plan = plan_render(14400, 14400, dpi=300, max_pixels=25_000_000, min_dpi=100)
    assert plan.dpi is None and round(plan.width_mm) == 5080
    plan = plan_render(*A4, dpi=300, max_pixels=25_000_000, min_dpi=100)
    assert plan.dpi == 300 and (plan.width_px, plan.height_px) == (2481, 3508)
    # UserUnit 2: an A4 MediaBox is an A2 sheet; 300 dpi would be 35 MP
    plan = plan_render(*A4, dpi=300, max_pixels=25_000_000, min_dpi=100, user_unit=2)
    assert plan.dpi == 254 and plan.pixels <= 25_000_000 and round(plan.width_mm) == 420
    plan = plan_render(*A4, dpi=300, max_pixels=25_000_000, min_dpi=100, user_unit=10)
    assert plan.dpi is None and (round(plan.width_mm), round(plan.height_mm)) == (2100, 2970)


def test_plan_image_scales_down_to_the_budget() -> None:
    assert plan_image(2480, 3508, dpi=300, max_pixels=25_000_000, min_dpi=100) == (1.0, 300)
    scale, dpi = plan_image(10_000, 8_000, dpi=600, max_pixels=25_000_000, min_dpi=100)
    assert (10_000 * scale) * (8_000 * scale) <= 25_000_000 and dpi == int(600 * scale)
    assert plan_image(10_000, 8_000, dpi=300, max_pixels=25_000_000, min_dpi=200)[1] is None


def test_thumbnails_stay_small_and_blank_detection() -> None:
    assert thumbnail_dpi(8.27, 11.69) == 30
    assert pixel_size(200, 200, thumbnail_dpi(200, 200))[0] ** 2 <= 1_000_100
    assert is_blank(Image.new("L", (250, 350), 255))
    specks = Image.new("L", (250, 350), 255)
    specks.putpixel((10, 10), 0)
    assert is_blank(specks)
    one_word = render_pages(make_pdf(["Zitronenfalter"]), 30)[0]
    assert not is_blank(one_word)


def test_reasons_read_like_sentences() -> None:
    assert page_ranges([41, 42, 43, 45, 47, 48]) == "41–43, 45, 47–48"
    assert page_ranges(range(1, 40, 2), limit=3) == "1, 3, 5, …"
    assert time_budget_reason(900, range(41, 301)) == (
        "Zeitbudget von 900 s überschritten (ingest.max_seconds); Seiten 41–300 wurden nicht gelesen."
    )


# --- the extractors directly (embedded, no server) ------------------------------------------


def settings_with(**ingest: int) -> Settings:
    settings = Settings()
    rules = {**settings.rules, "ingest": {**settings.rules["ingest"], **ingest}}
    return dataclasses.replace(settings, rules=rules)


def read(extractor, data: bytes, settings: Settings | None = None, **ctx_fields) -> IngestContext:
    ctx = IngestContext("doc", 1, "x", "key", data=data, **ctx_fields)
    extractor(ctx, settings or Settings())
    return ctx


def test_huge_blank_pages_are_skipped_without_rendering() -> None:
    data = huge_blank_pdf(4)
    started = time.monotonic()
    ctx = read(extract_pdf, data)
    assert time.monotonic() - started < 2
    assert "4 leere Seiten übersprungen" in ctx.warnings
    assert [p.method for p in ctx.pages] == ["none"] * 4 and not ctx.review_reasons


def test_huge_page_with_ink_is_not_ocrd() -> None:
    ctx = read(extract_pdf, drawn_pdf(14400, 14400))
    assert "Seite 1 ist zu groß für die Texterkennung (5080 × 5080 mm)" in ctx.warnings
    ctx = read(extract_pdf, drawn_pdf(*A4, user_unit=10))
    assert "Seite 1 ist zu groß für die Texterkennung (2100 × 2970 mm)" in ctx.warnings


def test_page_budget_on_pdf_text_layer() -> None:
    data = text_and_blank_pdf(60, {1: "Erste Seite Apfelbaum", 55: "Hinten Birnbaum"})
    ctx = read(extract_pdf, data, settings_with(max_pages=50))
    assert len(ctx.pages) == 50 and "Apfelbaum" in ctx.pages[0].text
    assert ctx.review_reasons == ["Nur die ersten 50 von 60 Seiten wurden gelesen (Seitenlimit ingest.max_pages)."]
    assert "49 leere Seiten übersprungen" in ctx.warnings


def test_time_budget_stops_starting_pages() -> None:
    data = scanned_pdf(6, "Rechnung Quittengelee")
    ctx = read(extract_pdf, data, deadline=time.monotonic() - 1)  # already passed
    assert ctx.review_reasons == [
        "Zeitbudget von 900 s überschritten (ingest.max_seconds); Seiten 1–6 wurden nicht gelesen."
    ]


def test_image_too_large_is_refused_before_decoding() -> None:
    big = io.BytesIO()
    Image.new("L", (12_000, 8_000), 255).save(big, format="PNG")  # 96 MP, a few KB compressed
    with pytest.raises(IngestError) as refused:
        read(extract_image, big.getvalue())
    assert refused.value.code == "too_large" and "12000 × 8000 Pixel" in refused.value.message


def test_big_jpeg_is_scaled_to_the_page_budget(monkeypatch) -> None:
    seen: list[tuple[int, int, int]] = []
    import ingest.ocr as ocr

    def fake(image, **kw):
        seen.append((*image.size, kw["dpi"]))
        return ocr.OcrResult(text="x")

    monkeypatch.setattr(ocr, "ocr_image", fake)
    page = Image.new("L", (7000, 5000), 255)
    ImageDraw.Draw(page).rectangle((500, 500, 6500, 900), fill=0)
    jpeg = io.BytesIO()
    page.save(jpeg, format="JPEG", dpi=(600, 600))
    read(extract_image, jpeg.getvalue(), settings_with(max_page_pixels=10_000_000))
    (width, height, dpi), = seen
    assert width * height <= 10_000_000 and dpi == int(600 * width / 7000)


@pytest.mark.slow
def test_multipage_tiff_frames_are_read_one_at_a_time() -> None:
    data = scanned_tiff(40, {1: "Blatt eins Sauerkirsche", 40: "Blatt vierzig Stachelbeere"})
    ctx = read(extract_image, data, settings_with(max_pages=30))
    assert "Sauerkirsche" in ctx.pages[0].text and len(ctx.pages) == 30
    assert "29 leere Seiten übersprungen" in ctx.warnings
    assert ctx.review_reasons == ["Nur die ersten 30 von 40 Seiten wurden gelesen (Seitenlimit ingest.max_pages)."]


# --- real stacks ----------------------------------------------------------------------------


def finish(stack: HostileStack, data: bytes, filename: str, timeout: float = 120) -> tuple[dict, float, float]:
    """Upload, wait for the final status; (document, peak RSS MB of the stack, seconds)."""
    started = time.monotonic()
    with stack.memory() as memory:
        document = stack.api.wait(stack.api.upload_ok(data, filename), timeout=timeout)
    return document, memory.peak_mb, time.monotonic() - started


def found(stack: HostileStack, query: str, document_id: str) -> bool:
    return any(hit["id"] == document_id for hit in stack.api.search(query)["hits"])


def warnings_of(document: dict) -> list[str]:
    return (document.get("fields") or {}).get("warnings", [])


def assert_clean(stack: HostileStack, peak_mb: float) -> None:
    assert peak_mb < MAX_RSS_MB, f"peak RSS {peak_mb:.0f} MB"
    assert stack.alive()
    assert stack.leftover_work_dirs() == []


def test_four_huge_blank_pages(hostile_stack: HostileStack) -> None:
    data = huge_blank_pdf(4)
    assert len(huge_blank_pdf(1)) < 1000
    document, peak, seconds = finish(hostile_stack, data, "leer-riesig.pdf")
    print(f"[{hostile_stack.kind}] 4 x 14400 pt blank: peak {peak:.0f} MB, {seconds:.1f} s")
    assert document["status"] == "needs_review"  # nothing to read: no customer, no class
    assert "4 leere Seiten übersprungen" in warnings_of(document)
    assert_clean(hostile_stack, peak)


def test_huge_pages_with_ink_and_user_unit(hostile_stack: HostileStack) -> None:
    for data, size in ((drawn_pdf(14400, 14400), "5080 × 5080 mm"), (drawn_pdf(*A4, user_unit=10), "2100 × 2970 mm")):
        document, peak, seconds = finish(hostile_stack, data, "riesig.pdf")
        print(f"[{hostile_stack.kind}] huge page {size}: peak {peak:.0f} MB, {seconds:.1f} s")
        assert document["status"] in ("filed", "needs_review"), document
        assert f"Seite 1 ist zu groß für die Texterkennung ({size})" in warnings_of(document)
        assert_clean(hostile_stack, peak)


def test_two_thousand_blank_pages_hit_the_page_budget(hostile_stack: HostileStack) -> None:
    data = text_and_blank_pdf(2000, {1: "Rechnung Nr. 88 Mirabellenkompott", 1500: "Hinten Holunderbluete"})
    document, peak, seconds = finish(hostile_stack, data, "zweitausend.pdf")
    print(f"[{hostile_stack.kind}] 2000 pages: peak {peak:.0f} MB, {seconds:.1f} s")
    assert document["status"] == "needs_review"
    assert "Nur die ersten 1000 von 2000 Seiten wurden gelesen (Seitenlimit ingest.max_pages)." in (
        document["status_reason"]
    )
    assert "999 leere Seiten übersprungen" in warnings_of(document)
    assert found(hostile_stack, "Mirabellenkompott", document["id"])
    assert not found(hostile_stack, "Holunderbluete", document["id"])
    assert seconds < 60
    assert_clean(hostile_stack, peak)


@pytest.mark.slow
def test_scanned_300_page_tiff(hostile_stack: HostileStack) -> None:
    texts = {1: "Blatt eins Sauerkirsche", 150: "Blatt Mitte Brombeere", 300: "Blatt Ende Stachelbeere"}
    data = scanned_tiff(300, texts)
    document, peak, seconds = finish(hostile_stack, data, "stapel.tif", timeout=180)
    print(f"[{hostile_stack.kind}] 300-page TIFF ({len(data) // 1024} KB): peak {peak:.0f} MB, {seconds:.1f} s")
    assert document["status"] in ("filed", "needs_review")
    assert "297 leere Seiten übersprungen" in warnings_of(document)
    for word in ("Sauerkirsche", "Brombeere", "Stachelbeere"):
        assert found(hostile_stack, word, document["id"]), word
    assert_clean(hostile_stack, peak)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["embedded", "server"])
def test_time_budget_on_a_long_scan(make_stack, kind: str) -> None:
    stack = make_stack(kind, config_toml="[ingest]\nmax_seconds = 4\n")
    data = scanned_pdf(300, "Rechnung Quittengelee Lieferung")
    document, peak, seconds = finish(stack, data, "lang.pdf", timeout=120)
    print(f"[{kind}] 300 scanned pages, max_seconds=4: peak {peak:.0f} MB, {seconds:.1f} s")
    assert document["status"] == "needs_review"
    reason = document["status_reason"]
    assert "Zeitbudget von 4 s überschritten (ingest.max_seconds); Seiten " in reason and "–300 wurden" in reason
    assert found(stack, "Quittengelee", document["id"])
    assert seconds < 60
    assert_clean(stack, peak)
