"""Each ingest stage alone, on real files and embedded backends."""

from __future__ import annotations

import pytest

from classifiers import classify
from classifiers.fields import extract_fields
from dms.documents import Upload, receive_document
from dms.errors import IngestError, UnsupportedType
from ingest.context import IngestContext
from ingest.pipeline import process_version, run_stages
from ingest.stages.detect import detect_type
from ingest.stages.extract import extract_text
from ingest.stages.load import load_original
from tests.docgen import make_pdf, multipage_tiff, render_pages, scan_image, scan_pdf


def context(services, data: bytes, filename: str = "x.pdf") -> IngestContext:
    document = receive_document(services, Upload(data, filename))
    return IngestContext(document.id, 1, filename, document.versions[0].storage_key, sha256=document.versions[0].sha256)


def test_detect_type_trusts_content_not_the_name(services) -> None:
    ctx = run_stages(context(services, make_pdf(["Hallo"]), "bild.jpg"), services, [load_original, detect_type])
    assert ctx.mime_type == "application/pdf"
    assert any(".jpg" in w for w in ctx.warnings)
    png = scan_image(["Hallo"], dpi=100)
    ctx = run_stages(context(services, png, "scan.pdf"), services, [load_original, detect_type])
    assert ctx.mime_type == "image/png"


def test_detect_type_rejects_empty_and_unsupported(services) -> None:
    with pytest.raises(IngestError) as empty:
        run_stages(context(services, b"", "leer.pdf"), services, [load_original, detect_type])
    assert empty.value.code == "empty_file"
    with pytest.raises(UnsupportedType) as exe:
        run_stages(context(services, b"\x7fELF" + b"\x02\x01\x01" + b"\x00" * 60, "a.pdf"), services,
                   [load_original, detect_type])
    assert exe.value.code == "unsupported_type"


def test_load_original_detects_a_changed_object(services) -> None:
    ctx = context(services, make_pdf(["Original"]))
    services.store.put(ctx.storage_key, b"tampered")
    with pytest.raises(IngestError) as err:
        load_original(ctx, services)
    assert err.value.code == "checksum_mismatch"


def test_text_layer_pdf_needs_no_ocr(services) -> None:
    ctx = run_stages(context(services, make_pdf([["Seite eins Apfelbaum"], ["Seite zwei Birnbaum"]])), services,
                     [load_original, detect_type, extract_text])
    assert [p.method for p in ctx.pages] == ["text_layer", "text_layer"]
    assert "Apfelbaum" in ctx.text and "Birnbaum" in ctx.text
    assert services.store.get(ctx.derivatives["text"]).decode() == ctx.text


@pytest.mark.slow
def test_scanned_pdf_pages_are_ocrd(services) -> None:
    data = scan_pdf([["Erste Seite Kastanienallee"], ["Zweite Seite Lindenstraße"]])
    ctx = run_stages(context(services, data), services, [load_original, detect_type, extract_text])
    assert [p.method for p in ctx.pages] == ["ocr", "ocr"]
    assert "Kastanienallee" in ctx.pages[0].text and "Lindenstraße" in ctx.pages[1].text


@pytest.mark.slow
def test_mixed_pdf_ocrs_only_pages_without_text(services) -> None:
    import io

    import pikepdf

    digital = make_pdf(["Digitale Seite Fliederbusch mit viel Text darauf"])
    scanned = scan_pdf([["Gescannte Seite Holunderbusch"]])
    merged = pikepdf.new()
    for part in (digital, scanned):
        merged.pages.extend(pikepdf.open(io.BytesIO(part)).pages)
    out = io.BytesIO()
    merged.save(out)
    ctx = run_stages(context(services, out.getvalue()), services, [load_original, detect_type, extract_text])
    assert [p.method for p in ctx.pages] == ["text_layer", "ocr"]
    assert "Holunderbusch" in ctx.pages[1].text


@pytest.mark.slow
def test_multipage_tiff_and_jpeg(services) -> None:
    tiff = multipage_tiff([["Blatt eins Sauerkirsche"], ["Blatt zwei Stachelbeere"]])
    ctx = run_stages(context(services, tiff, "scan.tif"), services, [load_original, detect_type, extract_text])
    assert ctx.mime_type == "image/tiff" and len(ctx.pages) == 2
    assert "Sauerkirsche" in ctx.pages[0].text and "Stachelbeere" in ctx.pages[1].text
    jpeg = scan_image(["Foto vom Brief Mirabelle"], fmt="JPEG")
    ctx = run_stages(context(services, jpeg, "foto.jpeg"), services, [load_original, detect_type, extract_text])
    assert ctx.mime_type == "image/jpeg" and "Mirabelle" in ctx.text


@pytest.mark.slow
def test_image_with_odd_dpi_metadata_is_read(services) -> None:
    import io

    page = render_pages(make_pdf(["Brief ohne Auflösung Quittengelee"], font_size=14), 300)[0]
    buf = io.BytesIO()
    page.save(buf, format="PNG", dpi=(1, 1))
    ctx = run_stages(context(services, buf.getvalue(), "x.png"), services, [load_original, detect_type, extract_text])
    assert "Quittengelee" in ctx.text


def test_classifier_records_why(services) -> None:
    services.catalog.create_customer("Kunde", number="10001", folders=services.settings.folder_template)
    result = classify(
        "Lieferschein Nr. 5\nKd.-Nr. 10001\nLiefermenge 3", services.settings,
        customer_exists=lambda n: services.catalog.find_customer(n) is not None,
    )
    assert result.document_class == "Lieferschein" and result.class_source == "rules"
    assert result.customer_number == "10001" and result.customer_source == "text"
    assert "Lieferschein:lieferschein" in result.reasons["class_rules"]
    unknown = classify("Kundennummer: 55555", services.settings, customer_exists=lambda n: False)
    assert unknown.customer_number is None and unknown.reasons["unknown_customer_numbers"] == ["55555"]
    assert unknown.class_source == "fallback" and unknown.document_class == "Sonstiges"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Rechnungsnummer: RE-2026-001\nRechnungsdatum: 02.01.2026\nGesamtbetrag 1.234,56 €",
         {"invoice_number": "RE-2026-001", "document_date": "2026-01-02", "gross_total": "1234.56"}),
        ("Invoice No. 4711 Date: 2025-12-31 Total 99.90", {"invoice_number": "4711", "document_date": "2025-12-31",
                                                            "gross_total": "99.90"}),
        ("Kein Datum 31.02.2026 hier", {}),
    ],
)
def test_key_fields(text: str, expected: dict[str, str]) -> None:
    assert extract_fields(text) == expected


def test_a_crashing_stage_keeps_the_original_and_fails_with_reason(services) -> None:
    corrupt = make_pdf(["abc"] * 50)[:300]
    document = receive_document(services, Upload(corrupt, "kaputt.pdf"))
    ctx = process_version(services, document.id, 1)
    stored = services.catalog.get_document(document.id)
    assert stored.status == "failed" and "[corrupt_pdf]" in stored.status_reason
    assert ctx.status == "failed"
    assert services.store.get(stored.versions[0].storage_key) == corrupt
    # the sidecar in the object store carries the failure too (rebuildable)
    from dms.storage import keys

    sidecar = keys.load(services.store.get(keys.document_key(document.id)))
    assert sidecar["status"] == "failed"


def test_processing_twice_is_idempotent(services) -> None:
    services.catalog.create_customer("Kunde", number="10001", folders=services.settings.folder_template)
    document = receive_document(services, Upload(make_pdf(["Rechnung", "Kundennummer 10001 Pfirsich"]), "r.pdf"))
    first = process_version(services, document.id, 1)
    events = len(services.catalog.events(document.id))
    second = process_version(services, document.id, 1)
    assert first.status == second.status == "filed"
    assert len(services.catalog.events(document.id)) == events  # nothing ran again
    assert services.index.count() == 1


def _text_of_pdf(data: bytes) -> list[str]:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(data)
    try:
        return [document[i].get_textpage().get_text_bounded() for i in range(len(document))]
    finally:
        document.close()


EXTRACT = [load_original, detect_type, extract_text]
LETTER = ["Sehr geehrte Damen und Herren,", "wir bestätigen den Eingang Ihrer Reklamation",
          "zum Auftrag Nummer 4711 vom 3. März.", "Der Kundendienst meldet sich umgehend.", "Mit freundlichen Grüßen"]


@pytest.mark.slow
@pytest.mark.parametrize("turn", [90, 180, 270])
def test_turned_pages_are_detected_and_set_upright(services, turn: int) -> None:
    import io

    page = render_pages(make_pdf(LETTER, font_size=14), 300)[0].rotate(turn, expand=True)
    buf = io.BytesIO()
    page.save(buf, format="PNG", dpi=(300, 300))
    ctx = run_stages(context(services, buf.getvalue(), "quer.png"), services, EXTRACT)
    assert "Reklamation" in ctx.text and "Kundendienst" in ctx.text
    assert any("gedreht" in w for w in ctx.warnings)
    derivative = services.store.get(ctx.derivatives["preview"])
    from PIL import Image as PILImage

    rendered = render_pages(derivative, 50)[0]
    assert isinstance(rendered, PILImage.Image) and rendered.height > rendered.width  # portrait again
    assert "Reklamation" in _text_of_pdf(derivative)[0]


@pytest.mark.slow
@pytest.mark.parametrize("skew", [-5, 5])
def test_skewed_scans_still_read_well(services, skew: int) -> None:
    import io

    page = render_pages(make_pdf(LETTER, font_size=14), 300)[0].rotate(skew, expand=True, fillcolor=255)
    buf = io.BytesIO()
    page.save(buf, format="PNG", dpi=(300, 300))
    ctx = run_stages(context(services, buf.getvalue(), "schief.png"), services, EXTRACT)
    expected = {w.strip(",.").lower() for w in " ".join(LETTER).split()}
    found = {w.strip(",.").lower() for w in ctx.text.split()}
    assert len(expected & found) / len(expected) >= 0.9


@pytest.mark.slow
def test_scanned_pdf_gets_a_searchable_derivative_and_the_original_is_untouched(services) -> None:
    data = scan_pdf([LETTER, ["Zweite Seite Sonnenschirm und Liegestuhl"]])
    document = receive_document(services, Upload(data, "scan.pdf"))
    process_version(services, document.id, 1)
    version = services.catalog.get_document(document.id).latest
    assert services.store.get(version.storage_key) == data
    assert version.derivative_key and version.derivative_key.endswith("searchable.pdf")
    pages = _text_of_pdf(services.store.get(version.derivative_key))
    assert len(pages) == 2 and "Reklamation" in pages[0] and "Sonnenschirm" in pages[1]
    assert _text_of_pdf(data) == ["", ""]  # the original still has no text layer
    # the version sidecar is rewritten after extraction (rebuildable with MIME type and derivatives)
    from dms.storage import keys

    meta = keys.load(services.store.get(keys.version_meta_key(document.id, 1)))
    assert meta["mime_type"] == "application/pdf" and meta["derivative_key"] == version.derivative_key


@pytest.mark.slow
def test_a_page_that_hangs_becomes_a_warning_not_a_stuck_document(tmp_path) -> None:
    from dms.config import Settings
    from dms.services import build_services

    config = tmp_path / "rules.toml"
    config.write_text("[ocr]\npage_timeout_seconds = 0.01\n", encoding="utf-8")
    svc = build_services(
        Settings.from_env({"DMS_DATA_DIR": str(tmp_path / "data"), "DMS_CONFIG": str(config)}), with_queue=False
    )
    try:
        document = receive_document(svc, Upload(scan_image(LETTER), "scan.png"))
        ctx = process_version(svc, document.id, 1)
        assert ctx.status == "needs_review"  # no text, so no customer: a person looks at it
        assert any("Zeitlimit" in w for w in ctx.warnings), ctx.warnings
        assert svc.catalog.get_document(document.id).fields["warnings"]
    finally:
        svc.close()


def test_a_second_run_of_a_version_keeps_what_the_uploader_said(services) -> None:
    """Crash recovery or a forced reprocessing runs a version again: the customer, class and
    folder given at upload must still apply (they live in `classification["given"]`)."""
    from dms.app.customers import create_customer
    from dms.app.principal import CLI

    number = create_customer(services, CLI, {"name": "Zweiter Lauf GmbH"}).number
    document = receive_document(services, Upload(make_pdf(["Ein Brief ohne Nummer"]), "brief.pdf",
                                                 customer_number=number, document_class="Korrespondenz"))
    for force in (False, True):
        process_version(services, document.id, 1, force=force)
        filed = services.catalog.documents.get(document.id)
        assert (filed.customer_number, filed.folder, filed.status) == (number, "02 Korrespondenz", "filed")
        assert filed.classification["given"]["customer_number"] == number
