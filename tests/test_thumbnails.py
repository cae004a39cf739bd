"""`GET /api/v1/documents/<id>/thumbnail`: the real app on embedded backends, real files. Whatever
the file, the answer is a small PNG or a 404 `no_thumbnail`, never a 500."""

from __future__ import annotations

import io
import struct
import time
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from dms.app import thumbnails
from dms.config import Settings
from dms.web import create_app
from tests.docgen import make_pdf, scan_image

TERMINAL = {"filed", "needs_review", "failed"}


class Site:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.client = app.test_client()
        self.data_dir = app.extensions["dms"].settings.data_dir

    def upload(self, data: bytes, filename: str, **fields: str) -> str:
        response = self.client.post("/api/v1/documents", data={"file": (io.BytesIO(data), filename), **fields})
        assert response.status_code == 202, response.text
        document_id = response.json["id"]
        deadline = time.monotonic() + 60
        while self.client.get(f"/api/v1/documents/{document_id}").json["status"] not in TERMINAL:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        return document_id

    def thumbnail(self, document_id: str, query: str = "") -> Any:
        return self.client.get(f"/api/v1/documents/{document_id}/thumbnail{query}")

    def cached(self) -> list[Any]:
        return sorted((self.data_dir / "cache" / "thumbnails").rglob("*.png"))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    app = create_app(Settings.from_env({"DMS_DATA_DIR": str(tmp_path_factory.mktemp("thumbs") / "data")}))
    try:
        yield Site(app)
    finally:
        app.extensions["dms"].close()


def png(response: Any) -> Image.Image:
    assert response.status_code == 200, response.text
    assert response.mimetype == "image/png"
    image = Image.open(io.BytesIO(response.data))
    assert image.format == "PNG" and image.width <= 200 and image.height <= 280
    return image


def ink(image: Image.Image) -> int:
    """Dark pixels: text was drawn."""
    return sum(image.convert("L").histogram()[:160])


def test_the_first_page_of_a_pdf_cached_by_version(site: Site) -> None:
    document_id = site.upload(make_pdf([["Seite eins " * 5] * 30, ["Seite zwei"]], font_size=14), "zwei.pdf")
    response = site.thumbnail(document_id, "?version=1")
    image = png(response)
    assert (image.width, image.height) == (198, 280)  # A4 in the 200 x 280 box
    assert ink(image) > 200
    assert response.headers["Cache-Control"] == "private, max-age=86400"
    assert response.headers["X-Document-Version"] == "1"
    latest = site.thumbnail(document_id)
    assert latest.data == response.data and latest.headers["Cache-Control"] == "private, max-age=60"
    cached = site.cached()
    assert len(cached) == 1 and cached[0].read_bytes() == response.data
    cached[0].unlink()  # derived data: made again
    assert site.thumbnail(document_id).data == response.data


def test_an_image_scan(site: Site) -> None:
    scan = scan_image(["Quittung", "Betrag 12,50 EUR"], dpi=150, fmt="JPEG", font_size=40)
    document_id = site.upload(scan, "quittung.jpg")
    image = png(site.thumbnail(document_id))
    assert image.width == 198 and ink(image) > 20


def test_other_types_get_a_card_naming_the_type(site: Site) -> None:
    document_id = site.upload(b"Nur ein Text, kein Dokumenttyp, den wir lesen.", "notiz.txt")
    image = png(site.thumbnail(document_id))
    assert (image.width, image.height) == (200, 280) and ink(image) > 50


def test_a_broken_pdf_is_no_thumbnail_and_tried_once(site: Site) -> None:
    document_id = site.upload(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> kaputt", "kaputt.pdf")
    for _ in range(2):
        response = site.thumbnail(document_id)
        assert response.status_code == 404
        assert response.json["error"]["code"] == "no_thumbnail"
    assert any(path.stat().st_size == 0 for path in site.cached())  # the failure is remembered


def test_an_encrypted_pdf_is_no_thumbnail(site: Site) -> None:
    document_id = site.upload(make_pdf(["Geheim"], encrypt="passwort"), "geheim.pdf")
    assert site.thumbnail(document_id).json["error"]["code"] == "no_thumbnail"


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height pixels (a decompression bomb's header) with a tiny body."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(
        b"IEND", b"")


def test_a_decompression_bomb_is_refused_before_decoding(site: Site) -> None:
    bomb = _png_header_only(60_000, 60_000)
    document_id = site.upload(bomb, "bombe.png")
    started = time.monotonic()
    response = site.thumbnail(document_id)
    assert response.status_code == 404 and response.json["error"]["code"] == "no_thumbnail"
    assert time.monotonic() - started < 2


def test_a_huge_original_is_not_read(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    document_id = site.upload(make_pdf(["Groß genug"]), "gross.pdf")
    monkeypatch.setattr(thumbnails, "MAX_SOURCE_BYTES", 100)  # the limit, not the file, made small
    response = site.thumbnail(document_id)
    assert response.status_code == 404 and response.json["error"]["code"] == "no_thumbnail"


def test_unknown_documents_versions_and_bad_parameters(site: Site) -> None:
    document_id = site.upload(make_pdf(["Versionstest"]), "version.pdf")
    assert site.thumbnail("gibt-es-nicht").json["error"]["code"] == "document_not_found"
    missing = site.thumbnail(document_id, "?version=7")
    assert missing.status_code == 404 and missing.json["error"]["code"] == "version_not_found"
    for bad in ("?version=abc", "?version=0", "?version=%ff"):
        assert site.thumbnail(document_id, bad).status_code == 400, bad
