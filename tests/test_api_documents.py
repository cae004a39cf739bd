"""The customer file end to end through the HTTP API of a running `dms serve` (embedded defaults)."""

from __future__ import annotations

import hashlib

from tests.docgen import make_pdf, scan_image
from tests.live import Api


def _folder_of(api: Api, number: str, document_id: str) -> str:
    file = api.get(f"/customers/{number}/file").json()
    for folder in file["folders"]:
        if any(d["id"] == document_id for d in folder["documents"]):
            return folder["name"]
    raise AssertionError(f"{document_id} not in the file of {number}")


def test_born_digital_pdf_is_filed_and_found_by_word_and_inflection(api: Api, customer: dict) -> None:
    number = customer["number"]
    pdf = make_pdf([
        "Muster Handel GmbH - Rechnung",
        "Rechnungsnummer: RE-2026-0815   Rechnungsdatum: 12.03.2026",
        "Wir berechnen Ihnen die Lieferung Zitronenfalter wie vereinbart.",
        "Gesamtbetrag: 1.190,00 EUR",
    ])
    document_id = api.upload_ok(pdf, "rechnung.pdf", customer_number=number)
    body = api.wait(document_id)
    assert body["status"] == "filed", body
    assert body["folder"] == "04 Rechnungen"
    assert body["class"] == "Rechnung"
    assert body["customer_number"] == number
    assert body["fields"]["invoice_number"] == "RE-2026-0815"
    assert body["title"] == "Rechnung RE-2026-0815"
    assert body["fields"]["gross_total"] == "1190.00"
    assert body["document_date"] == "2026-03-12"
    assert body["classification"]["class_source"] == "rules"
    assert "Rechnung:rechnung-title" in body["classification"]["class_rules"]
    assert [e["stage"] for e in body["events"]][:2] == ["store_original", "load_original"]
    assert body["events"][-1] == {**body["events"][-1], "stage": "done", "status": "filed"}
    assert _folder_of(api, number, document_id) == "04 Rechnungen"

    for query in ("Zitronenfalter", "Zitronenfaltern", "zitronenf*"):
        result = api.search(query)
        hits = [h for h in result["hits"] if h["id"] == document_id]
        assert hits, (query, result)
        assert any("<mark>Zitronenfalter</mark>" in h for h in hits[0]["highlights"]), hits[0]
        assert hits[0]["customer_number"] == number and hits[0]["folder"] == "04 Rechnungen"
    # an inflected form of a word on the page ("Lieferung" → "Lieferungen")
    assert any(h["id"] == document_id for h in api.search("Lieferungen Zitronenfalter")["hits"])
    assert any(h["id"] == document_id for h in api.search('"Lieferung Zitronenfalter"')["hits"])
    assert not api.search('"Zitronenfalter Lieferung"')["hits"]


def test_scanned_page_is_read_by_ocr_and_filed_by_the_customer_number_in_its_text(api: Api, customer: dict) -> None:
    number = customer["number"]
    png = scan_image([
        "Sehr geehrte Damen und Herren,",
        f"zu Ihrer Kundennummer {number} senden wir Ihnen",
        "die Unterlagen zum Schmetterlingshaus in Potsdam.",
        "Mit freundlichen Grüßen",
    ], dpi=300)
    document_id = api.upload_ok(png, "scan_0001.png")  # no customer given
    body = api.wait(document_id, timeout=180)
    assert body["status"] == "filed", body
    assert body["customer_number"] == number
    assert body["classification"]["customer_source"] == "text"
    assert body["class"] == "Korrespondenz"
    assert body["folder"] == "02 Korrespondenz"
    assert body["latest_version"]["mime_type"] == "image/png"
    # the preview is the searchable PDF; the original PNG stays the version's content
    preview = api.get(f"/documents/{document_id}/preview", params={"download": 1})
    assert preview.headers["Content-Type"] == "application/pdf" and preview.content.startswith(b"%PDF")
    assert "durchsuchbar" in preview.headers["Content-Disposition"]
    assert api.get(f"/documents/{document_id}/content").content == png
    assert _folder_of(api, number, document_id) == "02 Korrespondenz"
    for query in ("Schmetterlingshaus", "Schmetterlingshäuser"):
        hits = [h for h in api.search(query, customer=number)["hits"] if h["id"] == document_id]
        assert hits, query
        assert "<mark>Schmetterlingshaus</mark>" in " ".join(hits[0]["highlights"])


def test_new_version_is_shown_and_every_older_version_stays_byte_identical(api: Api, customer: dict) -> None:
    number = customer["number"]
    v1 = make_pdf(["Wartungsvertrag Heizungsanlage", "Laufzeit zwölf Monate, Vertragspartner Kesselflicker"])
    v2 = make_pdf(["Wartungsvertrag Heizungsanlage", "Laufzeit 24 Monate, Vertragspartner Drachenbauer"])
    document_id = api.upload_ok(v1, "vertrag.pdf", customer_number=number)
    assert api.wait(document_id)["status"] == "filed"

    response = api.post(
        f"/documents/{document_id}/versions", files={"file": ("vertrag-v2.pdf", v2)}, data={"comment": "Verlängert"}
    )
    assert response.status_code == 202, response.text
    assert response.json()["version"] == 2
    body = api.wait(document_id, version=2)
    assert body["status"] == "filed"
    assert [v["number"] for v in body["versions"]] == [1, 2]
    assert body["versions"][1]["comment"] == "Verlängert"
    assert body["latest_version"]["sha256"] == hashlib.sha256(v2).hexdigest()
    assert body["folder"] == "01 Stammdaten & Verträge"

    latest = api.get(f"/documents/{document_id}/content")
    assert latest.content == v2 and latest.headers["X-Document-Version"] == "2"
    old = api.get(f"/documents/{document_id}/content", params={"version": 1})
    assert old.status_code == 200 and old.content == v1
    assert old.headers["Content-Type"] == "application/pdf"
    assert api.get(f"/documents/{document_id}/content", params={"version": 7}).status_code == 404

    # the file view and the search show the latest version
    file = api.get(f"/customers/{number}/file").json()
    shown = [d for f in file["folders"] for d in f["documents"] if d["id"] == document_id]
    assert len(shown) == 1 and shown[0]["latest_version"]["number"] == 2
    assert any(h["id"] == document_id for h in api.search("Drachenbauer")["hits"])
    assert not any(h["id"] == document_id for h in api.search("Kesselflicker")["hits"])


def test_identical_upload_to_the_same_customer_is_reported_as_duplicate(api: Api, customer: dict) -> None:
    pdf = make_pdf(["Lieferschein 4711", "Liefermenge: 3 Paletten Gummibärchen"])
    document_id = api.upload_ok(pdf, "lieferschein.pdf", customer_number=customer["number"])
    again = api.upload(pdf, "lieferschein-kopie.pdf", customer_number=customer["number"])
    assert again.status_code == 409
    error = again.json()["error"]
    assert error["code"] == "duplicate" and error["document_id"] == document_id
    # another customer may file the same bytes
    other = api.create_customer("Zweitkunde AG")
    assert api.upload(pdf, "lieferschein.pdf", customer_number=other["number"]).status_code == 202
    # the same bytes as a new version of the same document are a duplicate too
    assert api.post(f"/documents/{document_id}/versions", files={"file": ("x.pdf", pdf)}).status_code == 409


def test_pdf_with_a_jpg_name_is_handled_as_pdf(api: Api, customer: dict) -> None:
    pdf = make_pdf(["Angebot Nr. 55", "Wir bieten Ihnen Honigmelonen an, gültig bis 31.12.2026"])
    document_id = api.upload_ok(pdf, "foto.jpg", customer_number=customer["number"])
    body = api.wait(document_id)
    assert body["status"] == "filed"
    assert body["latest_version"]["mime_type"] == "application/pdf"
    assert body["latest_version"]["filename"] == "foto.jpg"
    assert body["class"] == "Angebot"
    assert any(".jpg" in w for w in body["fields"]["warnings"])
    assert any(h["id"] == document_id for h in api.search("Honigmelone")["hits"])


def _assert_failed_and_kept(api: Api, document_id: str, data: bytes, code: str) -> dict:
    body = api.wait(document_id)
    assert body["status"] == "failed", body
    assert f"[{code}]" in body["status_reason"], body["status_reason"]
    kept = api.get(f"/documents/{document_id}/content")
    assert kept.status_code == 200 and kept.content == data
    return body


def test_empty_corrupt_and_encrypted_files_fail_with_a_reason_and_keep_the_original(api: Api, customer: dict) -> None:
    number = customer["number"]
    empty_id = api.upload_ok(b"", "leer.pdf", customer_number=number)
    _assert_failed_and_kept(api, empty_id, b"", "empty_file")

    good = make_pdf(["Rechnung 1", "Text"] * 20)
    corrupt = good[: len(good) // 3]
    corrupt_id = api.upload_ok(corrupt, "kaputt.pdf", customer_number=number)
    body = _assert_failed_and_kept(api, corrupt_id, corrupt, "corrupt_pdf")
    assert "beschädigt" in body["status_reason"]

    encrypted = make_pdf(["Geheimer Vertrag"], encrypt="geheim")
    encrypted_id = api.upload_ok(encrypted, "geheim.pdf", customer_number=number)
    body = _assert_failed_and_kept(api, encrypted_id, encrypted, "encrypted_pdf")
    assert "passwortgeschützt" in body["status_reason"]

    zip_bytes = b"PK\x03\x04" + b"\x00" * 100
    zip_id = api.upload_ok(zip_bytes, "archiv.pdf", customer_number=number)
    _assert_failed_and_kept(api, zip_id, zip_bytes, "unsupported_type")

    # failed documents are listed (for a person to look at) but not searchable
    failed = api.get("/documents", params={"status": "failed", "customer": number}).json()["documents"]
    assert {d["id"] for d in failed} == {empty_id, corrupt_id, encrypted_id, zip_id}


def test_unknown_customer_goes_to_the_inbox_for_review_and_can_be_filed_by_hand(api: Api, customer: dict) -> None:
    pdf = make_pdf(["Rechnung", "Kd.-Nr. 99999999", "Posten: Kirschkernkissen"])
    document_id = api.upload_ok(pdf, "unbekannt.pdf")
    body = api.wait(document_id)
    assert body["status"] == "needs_review"
    assert body["folder"] == "99 Posteingang" and body["customer_number"] is None
    assert "99999999" in body["status_reason"]
    inbox = api.get("/documents", params={"status": "needs_review"}).json()["documents"]
    assert document_id in {d["id"] for d in inbox}

    refiled = api.patch(f"/documents/{document_id}", json={"customer_number": customer["number"]})
    assert refiled.status_code == 200, refiled.text
    assert refiled.json()["status"] == "filed"
    assert refiled.json()["folder"] == "04 Rechnungen"
    hits = api.search("Kirschkernkissen", customer=customer["number"])["hits"]
    assert [h["id"] for h in hits] == [document_id]


def test_customer_number_with_kd_nr_abbreviation_assigns_the_customer(api: Api, customer: dict) -> None:
    pdf = make_pdf(["Reklamation", f"Kd.-Nr. {customer['number']}", "Die Lieferung Blumenkohl war beschädigt."])
    body = api.wait(api.upload_ok(pdf, "reklamation.pdf"))
    assert body["status"] == "filed"
    assert body["customer_number"] == customer["number"]
    assert body["folder"] == "07 Reklamationen"


def test_search_filters_by_customer_class_folder_and_date(api: Api) -> None:
    a = api.create_customer("Filter A GmbH")["number"]
    b = api.create_customer("Filter B GmbH")["number"]
    invoice = make_pdf(["Rechnung", "Rechnungsdatum: 05.01.2025", "Posten Quarkstrudel"])
    letter = make_pdf(
        ["Sehr geehrte Frau Muster,", "Datum: 20.06.2026", "anbei der Quarkstrudel", "Mit freundlichen Grüßen"]
    )
    inv_id = api.upload_ok(invoice, "r.pdf", customer_number=a)
    let_id = api.upload_ok(letter, "b.pdf", customer_number=b)
    api.wait(inv_id), api.wait(let_id)

    assert {h["id"] for h in api.search("Quarkstrudel")["hits"]} == {inv_id, let_id}
    assert [h["id"] for h in api.search("Quarkstrudel", customer=a)["hits"]] == [inv_id]
    assert [h["id"] for h in api.search("Quarkstrudel", **{"class": "Korrespondenz"})["hits"]] == [let_id]
    assert [h["id"] for h in api.search("Quarkstrudel", folder="04 Rechnungen")["hits"]] == [inv_id]
    assert [h["id"] for h in api.search("Quarkstrudel", **{"from": "2026-01-01"})["hits"]] == [let_id]
    assert [h["id"] for h in api.search("Quarkstrudel", to="2025-12-31")["hits"]] == [inv_id]
    assert api.search("Quarkstrudel -Rechnung")["total"] == 1
    facets = api.search("Quarkstrudel", facets="1")["facets"]
    assert {f["value"]: f["count"] for f in facets["customer"]} == {a: 1, b: 1}
    assert {f["value"] for f in facets["class"]} == {"Rechnung", "Korrespondenz"}
    assert [f["value"] for f in facets["year"]] == ["2026", "2025"]
    assert api.get("/search", params={"q": "x", "from": "gestern"}).status_code == 400


def test_bad_requests_get_json_errors(api: Api, customer: dict) -> None:
    no_file = api.post("/documents", data={"customer_number": customer["number"]})
    assert no_file.status_code == 400 and no_file.json()["error"]["code"] == "invalid_request"
    unknown_customer = api.upload(b"%PDF-1.4", "a.pdf", customer_number="00000")
    assert unknown_customer.status_code == 400
    assert unknown_customer.json()["error"]["code"] == "customer_not_found"
    bad_class = api.upload(b"%PDF-1.4", "a.pdf", document_class="Liebesbrief")
    assert bad_class.status_code == 400
    bad_folder = api.upload(b"%PDF-1.4", "a.pdf", customer_number=customer["number"], folder="08 Geheim")
    assert bad_folder.status_code == 400
    missing = api.get("/documents/does-not-exist")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "document_not_found"
    assert api.get("/nope").status_code == 404
    assert api.http.delete(api.base + "/customers").status_code == 405


def test_given_class_and_folder_win_over_the_rules(api: Api, customer: dict) -> None:
    pdf = make_pdf(["Rechnung", "eigentlich ein Serviceeinsatz Protokoll Waschstraße"])
    document_id = api.upload_ok(
        pdf, "x.pdf", customer_number=customer["number"], document_class="Wartung", title="Protokoll März"
    )
    body = api.wait(document_id)
    assert (body["class"], body["folder"], body["title"]) == ("Wartung", "06 Service & Wartung", "Protokoll März")
    assert body["classification"]["class_source"] == "given"
