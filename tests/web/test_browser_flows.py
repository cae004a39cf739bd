"""The main flows of the web client in a real browser (Chromium via Playwright) against `dms serve`.

One server (DMS_AUTH_MODE=users, embedded defaults) for the module; every test signs in itself in
a fresh browser context. Later flows reuse what earlier ones made (the customer, the scanned
page) when they ran, else make it through the API, so each test also runs alone (`-k`).
Selectors and German labels are the test contract of the web client plan (issue #13).
"""

from __future__ import annotations

import base64
import io
import re
import time
from typing import Any
from urllib.parse import quote

import pytest
from PIL import Image

from tests.docgen import make_pdf, scan_image
from tests.web.conftest import PASSWORDS, WebServer, in_ci, login

try:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect
except ImportError:  # a test dependency (pip install -e .[test]); under CI its absence fails the run
    if in_ci():
        raise
    pytest.skip("playwright is not installed", allow_module_level=True)

pytestmark = pytest.mark.slow  # OCR of a scanned page, a browser

FOLDER = "02 Korrespondenz"
OCR_WORD = "Quendelmarsch"  # made up: only the OCR text of the scan contains it
SCAN_NAME = "scan-brief.png"
XSS_TEXT = "<img src=x onerror=alert(1)>"
XSS_NAME = f"{XSS_TEXT}.pdf"
FILED = 90_000  # ms: upload + OCR of one page on a busy 2-core machine

# what earlier flows made, for the later ones (filled lazily through the API when run alone)
made: dict[str, Any] = {}


# --- helpers ------------------------------------------------------------------------------------


def scan_bytes() -> bytes:
    if "scan" not in made:
        made["scan"] = scan_image(
            ["Sehr geehrte Damen und Herren,", "wir bestaetigen den Termin", f"{OCR_WORD} am Montag.",
             "Mit freundlichen Gruessen"], font_size=26,
        )
    return made["scan"]


def customer_number(web: WebServer) -> str:
    if "customer" not in made:
        made["customer"] = web.api("clerk").create_customer("Bäckerei Sonnenschein GmbH")["number"]
        made["customer_name"] = "Bäckerei Sonnenschein GmbH"
    return made["customer"]


def scanned_document(web: WebServer) -> str:
    """The id of the scanned page in 02 Korrespondenz (flow 3's, or uploaded now), filed."""
    if "scan_id" not in made:
        api = web.api("clerk")
        made["scan_id"] = api.upload_ok(scan_bytes(), SCAN_NAME, customer_number=customer_number(web), folder=FOLDER)
        assert api.wait(made["scan_id"])["status"] == "filed"
    return made["scan_id"]


def file_url(number: str, **params: str) -> str:
    query = "&".join(f"{k}={quote(v)}" for k, v in {"ordner": FOLDER, **params}.items())
    return f"/kunden/{number}?{query}"


def drop_files(page: Any, target: Any, files: list[tuple[str, bytes, str]]) -> None:
    """Drop files onto `target` as a user would: dragenter, dragover, drop with a DataTransfer.

    A DataTransfer made in the page has no file system entries (`webkitGetAsEntry()` is null),
    so the upload code takes `dataTransfer.files`."""
    payload = [{"name": n, "b64": base64.b64encode(b).decode(), "type": t} for n, b, t in files]
    transfer = page.evaluate_handle(
        """(files) => {
            const transfer = new DataTransfer();
            for (const f of files) {
                const bytes = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
                transfer.items.add(new File([bytes], f.name, {type: f.type}));
            }
            return transfer;
        }""",
        payload,
    )
    for event in ("dragenter", "dragover", "drop"):
        target.dispatch_event(event, {"dataTransfer": transfer})


def wait_for_painted_page(page: Any, timeout: float = 30) -> None:
    """Wait until the preview's first page canvas shows ink (pdf.js paints after the canvas appears)."""
    canvas = page.locator("#preview .page canvas").first
    expect(canvas).to_be_visible(timeout=timeout * 1000)
    deadline = time.monotonic() + timeout
    while True:
        try:
            shot = canvas.screenshot(timeout=5_000)
        except PlaywrightError:  # the canvas was replaced while we looked (pdf.js re-renders on resize)
            shot = None
        if shot and Image.open(io.BytesIO(shot)).convert("L").getextrema()[0] < 100:  # dark pixels: text
            return
        assert time.monotonic() < deadline, "the preview canvas stayed blank"
        page.wait_for_timeout(200)


def mark_page(page: Any) -> None:
    """A flag that survives only as long as the page is not reloaded."""
    page.evaluate("window.__notReloaded = true")


def assert_not_reloaded(page: Any) -> None:
    assert page.evaluate("window.__notReloaded === true"), "the page was reloaded"


def watch_upload_statuses(page: Any) -> None:
    """Record every text an `.upload-status` shows (to see the status change live)."""
    page.evaluate(
        """() => {
            window.__statuses = [];
            const seen = (el) => {
                const text = el.textContent.trim();
                if (text && window.__statuses[window.__statuses.length - 1] !== text) window.__statuses.push(text);
            };
            new MutationObserver((records) => {
                for (const r of records) {
                    const node = r.target.nodeType === 1 ? r.target : r.target.parentElement;
                    for (const el of node.closest('.upload')?.querySelectorAll('.upload-status') || []) seen(el);
                    if (node.matches?.('.upload')) node.querySelectorAll('.upload-status').forEach(seen);
                    for (const added of r.addedNodes) {
                        if (added.nodeType === 1) added.querySelectorAll?.('.upload-status').forEach(seen);
                    }
                }
            }).observe(document.body, {subtree: true, childList: true, characterData: true});
        }"""
    )


def upload_row(page: Any, filename: str) -> Any:
    return page.locator(f'li.upload[data-filename="{css_string(filename)}"]')


def css_string(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def folder_dropzone(page: Any, folder: str) -> Any:
    item = f'nav[aria-label="Aktenplan"] li[data-folder="{css_string(folder)}"]'
    return page.locator(f"{item}[data-dropzone], {item} [data-dropzone]").first


def documents_of(web: WebServer, number: str) -> list[dict[str, Any]]:
    response = web.api().get("/documents", params={"customer": number, "limit": 100})
    assert response.status_code == 200, response.text
    return response.json()["documents"]


def post_from_page(page: Any, url: str, *, csrf: bool, form: dict[str, str] | None = None,
                   file: tuple[str, str] | None = None, json: dict[str, Any] | None = None) -> dict[str, Any]:
    """A request the page's own script could make (same origin, session cookie): status and body."""
    return page.evaluate(
        """async ({url, csrf, form, file, json}) => {
            const headers = {};
            if (csrf) headers['X-CSRF-Token'] = document.querySelector('meta[name="csrf-token"]').content;
            let body;
            if (json) {
                headers['Content-Type'] = 'application/json';
                body = JSON.stringify(json);
            } else {
                body = new FormData();
                for (const [k, v] of Object.entries(form || {})) body.append(k, v);
                if (file) body.append('file', new File([file[1]], file[0], {type: 'application/pdf'}));
            }
            const response = await fetch(url, {method: 'POST', headers, body, credentials: 'same-origin',
                                               redirect: 'manual'});
            return {status: response.status, text: await response.text()};
        }""",
        {"url": url, "csrf": csrf, "form": form, "file": list(file) if file else None, "json": json},
    )


# --- 1. log in --------------------------------------------------------------------------------


def test_login_refuses_a_wrong_password_and_lets_the_right_one_in(page: Any, web_server: WebServer) -> None:
    page.goto("/kunden")
    expect(page).to_have_url(re.compile(r"/login\?next=(/|%2F)kunden"))

    page.get_by_label("Benutzername").fill("clerk")
    page.get_by_label("Passwort").fill("falsches-passwort")
    page.get_by_role("button", name="Anmelden").click()
    expect(page.get_by_role("alert")).to_contain_text("Benutzername oder Passwort falsch")
    expect(page).to_have_url(re.compile(r"/login"))
    assert not any(c["name"] == "dms_session" for c in page.context.cookies())

    page.get_by_label("Benutzername").fill("clerk")
    page.get_by_label("Passwort").fill(PASSWORDS["clerk"])
    page.get_by_role("button", name="Anmelden").click()
    expect(page).to_have_url(re.compile(r"/kunden$"))  # back to where the user wanted to go
    cookie = next(c for c in page.context.cookies() if c["name"] == "dms_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    expect(page.get_by_role("navigation", name="Hauptnavigation")).to_be_visible()
    expect(page.get_by_role("link", name="Admin")).to_have_count(0)  # a clerk is no admin

    page.get_by_role("button", name="Abmelden").click()
    expect(page).to_have_url(re.compile(r"/login"))
    page.goto("/kunden")
    expect(page).to_have_url(re.compile(r"/login"))  # the session is over


# --- 2. create a customer and open its file ---------------------------------------------------


def test_create_a_customer_and_open_its_file(page: Any, web_server: WebServer, screenshot: Any) -> None:
    api = web_server.api("clerk")
    api.create_customer("Zimmerei Vogt KG", tags=["Handwerk"])  # a second customer for the list
    login(page, "clerk", next_path="/kunden")

    page.get_by_role("link", name="Neuer Kunde").click()
    expect(page).to_have_url(re.compile(r"/kunden/neu"))
    expect(page.get_by_label("Kundennummer")).not_to_have_value("")  # prefilled with the next free number
    page.get_by_label("Name", exact=True).fill("Bäckerei Sonnenschein GmbH")
    page.get_by_label("Tags").fill("Stammkunde, Lebensmittel")
    page.get_by_role("button", name="Anlegen").click()

    page.wait_for_url(re.compile(r"/kunden/\d+"))
    number = re.search(r"/kunden/(\d+)", page.url).group(1)
    made["customer"], made["customer_name"] = number, "Bäckerei Sonnenschein GmbH"
    expect(page.locator("main")).to_contain_text("Bäckerei Sonnenschein GmbH")
    expect(page.locator("main")).to_contain_text(number)

    tree = page.get_by_role("navigation", name="Aktenplan")
    expect(tree).to_be_visible()
    folders = tree.locator("li[data-folder]")
    expect(folders).to_have_count(8)
    for name in ("01 Stammdaten & Verträge", FOLDER, "04 Rechnungen", "99 Posteingang"):
        expect(tree.locator(f'li[data-folder="{css_string(name)}"]')).to_contain_text(name)

    # the customer list: search as you type (no page load), then the screenshot
    page.goto("/kunden")
    results = page.locator("#customer-results")
    expect(results).to_contain_text("Zimmerei Vogt KG")
    mark_page(page)
    page.locator("input[data-customer-search], [data-customer-search] input[name=q]").first.press_sequentially(
        "Sonnen", delay=30)
    expect(results).not_to_contain_text("Zimmerei Vogt KG")
    expect(results).to_contain_text("Bäckerei Sonnenschein GmbH")
    assert_not_reloaded(page)
    page.goto("/kunden")
    expect(results).to_contain_text("Bäckerei Sonnenschein GmbH")
    screenshot(page, "kunden")
    assert not page.js_errors, page.js_errors


# --- 3. drop a scanned page onto 02 Korrespondenz ---------------------------------------------


def test_drop_a_scanned_page_onto_a_folder_and_watch_it_get_filed(page: Any, web_server: WebServer) -> None:
    number = customer_number(web_server)
    login(page, "clerk", next_path=file_url(number))
    dropzone = folder_dropzone(page, FOLDER)
    expect(dropzone).to_be_attached()
    mark_page(page)
    watch_upload_statuses(page)

    drop_files(page, dropzone, [(SCAN_NAME, scan_bytes(), "image/png")])

    row = upload_row(page, SCAN_NAME)
    expect(row).to_be_visible()
    expect(row.locator("progress")).to_be_attached()
    expect(row.locator(".upload-status")).to_have_text(re.compile(r"^\s*abgelegt"), timeout=FILED)
    statuses = page.evaluate("window.__statuses")
    assert len(statuses) >= 2 and statuses[-1].startswith("abgelegt"), statuses  # it changed while we watched

    listed = page.locator("#documents tr[data-document-id]")
    expect(listed).to_have_count(1)
    expect(listed.locator(".status")).to_have_text("abgelegt")
    assert_not_reloaded(page)

    documents = documents_of(web_server, number)
    assert [d["folder"] for d in documents] == [FOLDER]
    assert documents[0]["status"] == "filed"
    assert listed.get_attribute("data-document-id") == documents[0]["id"]
    made["scan_id"] = documents[0]["id"]
    assert not page.js_errors, page.js_errors


# --- 4. search a word only the OCR text contains ----------------------------------------------


def test_search_an_ocr_word_open_the_hit_and_see_the_page(page: Any, web_server: WebServer, screenshot: Any) -> None:
    document_id = scanned_document(web_server)
    number = customer_number(web_server)
    login(page, "clerk")

    header_search = page.get_by_role("search").get_by_role("searchbox", name="Suche")
    header_search.fill(OCR_WORD.lower())
    header_search.press("Enter")
    expect(page).to_have_url(re.compile(r"/suche\?.*q=" + OCR_WORD.lower()))

    hits = page.locator("#results li.hit")
    expect(hits).to_have_count(1)
    expect(hits.first.locator("mark")).to_contain_text(re.compile(OCR_WORD, re.IGNORECASE))
    facets = page.locator("#facets")
    expect(facets).to_contain_text(FOLDER)
    expect(facets).to_contain_text(number)
    screenshot(page, "suche")

    hits.first.locator(f'a[href="/dokumente/{document_id}"]').first.click()
    expect(page).to_have_url(re.compile(f"/dokumente/{document_id}"))
    preview = page.locator("#preview")
    wait_for_painted_page(page)
    text_layer = preview.locator(".textLayer").first
    expect(text_layer).to_contain_text(OCR_WORD, timeout=30_000)
    selected = text_layer.evaluate(
        """(layer) => {
            const range = document.createRange();
            range.selectNodeContents(layer);
            const selection = window.getSelection();
            selection.removeAllRanges();
            selection.addRange(range);
            return selection.toString();
        }"""
    )
    assert OCR_WORD in selected  # the scan's text can be selected (and copied)

    # the customer file with this document in its preview pane
    page.goto(file_url(number, dokument=document_id))
    wait_for_painted_page(page)
    expect(page.locator(f'#documents tr[data-document-id="{document_id}"]')).to_be_visible()
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "akte")
    assert not page.js_errors, page.js_errors


# --- 5. a new version, both in the history, version 1 byte-identical -------------------------


def test_drop_a_new_version_and_download_version_one(page: Any, web_server: WebServer, screenshot: Any) -> None:
    document_id = scanned_document(web_server)
    version_two = make_pdf(["Sehr geehrte Damen und Herren,", "anbei die korrigierte Fassung des Briefes."])
    login(page, "clerk", next_path=f"/dokumente/{document_id}")
    zone = page.locator(f'[data-version-drop][data-document-id="{document_id}"]').first
    expect(zone).to_be_attached()
    mark_page(page)

    drop_files(page, zone, [("brief-korrigiert.pdf", version_two, "application/pdf")])
    dialog = page.locator("dialog#version-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Kommentar").fill("Korrigierte Fassung")
    dialog.get_by_role("button", name="Version hochladen").click()
    expect(upload_row(page, "brief-korrigiert.pdf").locator(".upload-status")).to_have_text(
        re.compile(r"^\s*abgelegt"), timeout=FILED)
    assert_not_reloaded(page)
    body = web_server.api().wait(document_id, version=2)
    assert body["status"] == "filed"

    page.reload()
    versions = page.locator("table#versions tr[data-version]")
    expect(versions).to_have_count(2)
    current, first = page.locator('tr[data-version="2"]'), page.locator('tr[data-version="1"]')
    expect(current).to_contain_text("aktuell")
    expect(current).to_contain_text("Korrigierte Fassung")
    expect(current).to_contain_text(re.compile("Clara Sachbearbeiterin|clerk"))
    expect(first).not_to_contain_text("aktuell")
    expect(first.get_by_role("link", name="Durchsuchbares PDF")).to_be_visible()  # the scan's searchable PDF
    wait_for_painted_page(page)
    page.locator("table#versions").scroll_into_view_if_needed()
    screenshot(page, "versionen")

    with page.expect_download() as info:
        first.get_by_role("link", name="Herunterladen").click()
    download = info.value
    assert download.path().read_bytes() == scan_bytes()
    assert download.suggested_filename.endswith(".png")

    first.get_by_role("link", name="Anzeigen").click()  # an older version opens in the preview
    expect(page).to_have_url(re.compile(r"version=1"))
    wait_for_painted_page(page)
    assert not page.js_errors, page.js_errors


# --- 6. the Posteingang --------------------------------------------------------------------------


def test_assign_a_posteingang_document_to_a_customer(page: Any, web_server: WebServer, screenshot: Any) -> None:
    number = customer_number(web_server)
    api = web_server.api()
    waiting = {}
    for title, text in (("Schreiben ohne Absender", "Bitte um Rueckruf wegen der Lieferung."),
                        ("Unbekannte Anfrage", "Gibt es noch freie Termine im Mai?")):
        document_id = api.upload_ok(make_pdf([text]), f"{title}.pdf", title=title)
        assert api.wait(document_id)["status"] == "needs_review"
        waiting[title] = document_id

    login(page, "clerk", next_path="/posteingang")
    title = "Schreiben ohne Absender"
    row = page.locator("tr, li").filter(has_text=title).filter(
        has=page.get_by_role("button", name="Zuordnen", exact=True)).last
    expect(row).to_be_visible()
    expect(row).to_contain_text("Kein Kunde erkannt")  # the classifier's reason
    expect(page.locator("main")).to_contain_text("Unbekannte Anfrage")
    screenshot(page, "posteingang")

    row.get_by_label(re.compile(r"^Kunde")).fill(number)
    klasse = row.get_by_label(re.compile(r"^Klasse"))
    if klasse.count():
        klasse.select_option(label="Korrespondenz")
    ordner = row.get_by_label(re.compile(r"^Ordner"))
    if ordner.count():
        ordner.select_option(label=FOLDER)
    row.get_by_role("button", name="Zuordnen", exact=True).click()

    expect(page.get_by_role("status").first).to_be_visible()
    expect(page.locator("main")).not_to_contain_text(title)
    expect(page.locator("main")).to_contain_text("Unbekannte Anfrage")  # the other one still waits
    body = api.get(f"/documents/{waiting[title]}").json()
    assert (body["customer_number"], body["folder"], body["status"]) == (number, FOLDER, "filed")

    page.goto(file_url(number))
    expect(page.locator("#documents")).to_contain_text(title)
    assert not page.js_errors, page.js_errors


# --- 7. the auditor ------------------------------------------------------------------------------


def test_an_auditor_sees_no_upload_and_a_forged_upload_is_refused(page: Any, web_server: WebServer) -> None:
    document_id = scanned_document(web_server)
    number = customer_number(web_server)
    login(page, "auditor", next_path="/kunden")
    expect(page.locator("#customer-results")).to_contain_text(number)
    expect(page.get_by_role("link", name="Neuer Kunde")).to_have_count(0)

    page.goto(file_url(number))
    expect(page.get_by_role("navigation", name="Aktenplan")).to_be_visible()
    expect(page.locator(f'#documents tr[data-document-id="{document_id}"]')).to_be_visible()
    for control in ("[data-dropzone]", "[data-version-drop]", "input[type=file]"):
        expect(page.locator(control)).to_have_count(0)

    page.goto(f"/dokumente/{document_id}")
    expect(page.locator("#preview")).to_be_attached()
    for control in ("[data-version-drop]", "input[type=file]", f'form[action$="/dokumente/{document_id}/bearbeiten"]'):
        expect(page.locator(control)).to_have_count(0)
    expect(page.get_by_role("button", name="Neue Version hochladen")).to_have_count(0)
    expect(page.locator("table#versions")).to_be_visible()  # reading is allowed

    page.goto("/posteingang")
    expect(page.get_by_role("button", name="Zuordnen", exact=True)).to_have_count(0)

    # what the page does not offer, the server refuses: the auditor's own session and CSRF token
    before = len(documents_of(web_server, number))
    forged = post_from_page(page, "/api/v1/documents", csrf=True,
                            form={"customer_number": number, "folder": FOLDER}, file=("untergeschoben.pdf", "%PDF-1.4"))
    assert forged["status"] == 403, forged
    assert "documents:write" in forged["text"]
    version = post_from_page(page, f"/api/v1/documents/{document_id}/versions", csrf=True,
                             file=("v.pdf", "%PDF-1.4"))
    assert version["status"] == 403, version
    edit = post_from_page(page, f"/dokumente/{document_id}/bearbeiten", csrf=True, form={
        "csrf_token": page.locator('meta[name="csrf-token"]').get_attribute("content"), "title": "geändert"})
    assert edit["status"] == 403, edit
    assert len(documents_of(web_server, number)) == before
    assert web_server.api().get(f"/documents/{document_id}").json()["title"] != "geändert"


# --- 8. a hostile file name is text ------------------------------------------------------------


def test_a_file_named_like_html_shows_as_text(page: Any, web_server: WebServer) -> None:
    number = customer_number(web_server)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    login(page, "clerk", next_path=file_url(number))

    drop_files(page, folder_dropzone(page, FOLDER), [(XSS_NAME, make_pdf(["Harmloser Inhalt Zwiebelturm."]),
                                                      "application/pdf")])
    row = upload_row(page, XSS_NAME)
    expect(row).to_contain_text(XSS_NAME)  # the upload list shows the name as sent, as text
    expect(row.locator(".upload-status")).to_have_text(re.compile(r"^\s*abgelegt"), timeout=FILED)
    document_id = next(d["id"] for d in documents_of(web_server, number) if "onerror" in (d.get("title") or ""))

    # the server stores a cleaned file name (no < >); the title is free text: give it the markup
    page.goto(f"/dokumente/{document_id}")
    page.get_by_label("Titel", exact=True).fill(XSS_TEXT)
    page.get_by_role("button", name="Speichern").click()
    expect(page.get_by_role("status").first).to_be_visible()
    assert web_server.api().get(f"/documents/{document_id}").json()["title"] == XSS_TEXT

    pages = [f"/dokumente/{document_id}", file_url(number), file_url(number, dokument=document_id),
             "/suche?q=Zwiebelturm"]
    for url in pages:
        page.goto(url)
        expect(page.locator("main")).to_contain_text(XSS_TEXT)
        expect(page.get_by_text(XSS_TEXT).first).to_be_visible()
        assert page.locator("main img[src=x]").count() == 0, url
        page.wait_for_timeout(300)  # a broken <img> would have fired onerror by now
    assert dialogs == []
    assert not page.js_errors, page.js_errors


# --- 9. CSRF, plus the start page and the admin screens ----------------------------------------


def test_a_post_without_csrf_token_is_refused(page: Any, web_server: WebServer, screenshot: Any) -> None:
    number = customer_number(web_server)
    login(page, "admin", next_path=file_url(number))  # a customer file this user opened recently
    page.goto("/")
    expect(page.get_by_role("searchbox").first).to_be_visible()
    expect(page.locator("main")).to_contain_text(made.get("customer_name", number))
    screenshot(page, "start")
    page.goto("/admin/benutzer")
    expect(page.locator("main")).to_contain_text("Paul Prüfer")
    screenshot(page, "admin")

    # a form posted by the browser without the hidden csrf_token field
    page.goto("/kunden/neu")
    page.evaluate(
        """() => {
            const form = document.createElement('form');
            form.method = 'post';
            form.action = '/kunden/neu';
            for (const [k, v] of [['name', 'CSRF Opfer GmbH'], ['kind', 'legal']]) {
                const input = document.createElement('input');
                input.name = k; input.value = v; form.appendChild(input);
            }
            document.body.appendChild(form);
            window.__form = form;
        }"""
    )
    with page.expect_navigation() as navigation:
        page.evaluate("window.__form.submit()")
    assert navigation.value.status == 403
    expect(page.locator("main")).to_contain_text("CSRF")

    # the API with the session cookie: without, and with a wrong token refused; the right one passes
    without = post_from_page(page, "/api/v1/customers", csrf=False, json={"name": "CSRF Opfer GmbH"})
    assert without["status"] == 403 and "csrf_failed" in without["text"], without
    wrong = page.evaluate(
        """async () => (await fetch('/api/v1/customers', {method: 'POST', headers: {
            'Content-Type': 'application/json', 'X-CSRF-Token': 'falsch'}, body: '{"name": "CSRF Opfer GmbH"}'}
        )).status"""
    )
    assert wrong == 403
    logout = page.context.request.post("/logout", max_redirects=0)
    assert logout.status == 403  # not signed out by a foreign page either
    assert web_server.api().get("/customers", params={"q": "CSRF Opfer"}).json()["customers"] == []

    allowed = post_from_page(page, "/api/v1/customers", csrf=True, json={"name": "Echte Kundin AG"})
    assert allowed["status"] == 201, allowed
    page.goto("/")
    expect(page.get_by_role("button", name="Abmelden")).to_be_visible()  # still signed in
    assert not page.js_errors, page.js_errors
