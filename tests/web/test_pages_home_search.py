"""The start page and the search page over HTTP (Flask test client): the real app on embedded
backends in a temporary data folder, real PDFs processed by the real pipeline."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import lxml.html
import pytest

from dms.app.customers import customer_file
from dms.config import Settings
from dms.identity.repository import IdentityRepository
from dms.identity.roles import ROLES
from dms.search import IndexEntry
from dms.web import create_app
from dms.web.auth import AuthenticatedPrincipal
from tests.docgen import make_pdf

TERMINAL = {"filed", "needs_review", "failed"}
XSS = "<img src=x onerror=alert(1)>"


class Web:
    """A browser's view of the app: its cookies, the page's CSRF token, pages parsed as HTML."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.client = app.test_client()
        self.token = ""

    def get(self, path: str, status: int = 200) -> Any:
        response = self.client.get(path)
        assert response.status_code == status, (path, response.status_code, response.text[:500])
        found = re.search(r'<meta name="csrf-token" content="([^"]*)"', response.text)
        if found and found.group(1):
            self.token = found.group(1)
        return response

    def page(self, path: str, status: int = 200) -> Any:
        return lxml.html.fromstring(self.get(path, status).text)

    def post(self, path: str, data: dict[str, Any], status: int = 302) -> Any:
        response = self.client.post(path, data={"csrf_token": self.token, **data})
        assert response.status_code == status, (path, response.status_code, response.text[:500])
        return response

    def login(self, username: str, password: str) -> Web:
        response = self.client.post("/login", data={"username": username, "password": password, "next": "/"})
        assert response.status_code == 302, response.text[:500]
        self.get("/")
        return self

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"X-CSRF-Token": self.token, **kwargs.pop("headers", {})}
        return self.client.open("/api/v1" + path, method=method, headers=headers, **kwargs)

    def upload(self, pdf: bytes, filename: str, **fields: str) -> str:
        response = self.api("POST", "/documents", data={"file": (io.BytesIO(pdf), filename), **fields})
        assert response.status_code == 202, response.text
        return response.json["id"]

    def wait(self, document_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + 60
        while True:
            body = self.api("GET", f"/documents/{document_id}").json
            if body["status"] in TERMINAL:
                return body
            assert time.monotonic() < deadline, body
            time.sleep(0.05)


def texts(nodes: list[Any]) -> list[str]:
    return [" ".join(node.text_content().split()) for node in nodes]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A local-mode app with two customers and documents: filed, to review, failed, a hostile file name."""
    data = tmp_path_factory.mktemp("pages-search") / "data"
    app = create_app(Settings.from_env({"DMS_DATA_DIR": str(data)}))
    web = Web(app)
    web.get("/")
    a = web.api("POST", "/customers", json={"name": "Muster GmbH"}).json["number"]
    b = web.api("POST", "/customers", json={"name": "Beispiel AG"}).json["number"]
    docs = {
        "strong": web.upload(make_pdf(["Zitronenfalter Zitronenfalter Zitronenfalter im Garten"]), "angebot.pdf",
                             customer_number=a, document_class="Angebot", title="Zitronenfalter Angebot",
                             document_date="2023-01-10"),
        "weak": web.upload(make_pdf(["Rechnung über Blumen, nebenbei ein Zitronenfalter und viele andere Worte"]),
                           "rechnung.pdf", customer_number=b, document_class="Rechnung", title="Rechnung Blumen",
                           document_date="2026-02-01", tags="wichtig"),
        "xss": web.upload(make_pdf([f"Kolibri {XSS} Kolibri"]), f"{XSS}.pdf", customer_number=a,
                          document_class="Korrespondenz"),
        "review": web.upload(make_pdf(["Ein Brief ohne Kundennummer über Schmetterlinge"]), "brief.pdf"),
        "failed": web.upload(b"%PDF-1.4\n1 0 obj kaputt", "kaputt.pdf"),
    }
    statuses = {name: web.wait(document_id)["status"] for name, document_id in docs.items()}
    assert statuses == {"strong": "filed", "weak": "filed", "xss": "filed", "review": "needs_review",
                        "failed": "failed"}, statuses
    try:
        yield {"app": app, "web": web, "a": a, "b": b, "docs": docs, "data": data}
    finally:
        app.extensions["dms"].close()


# --- start page ---------------------------------------------------------------------------------


def test_the_start_page_has_the_search_box_the_inbox_count_and_the_failed_documents(site) -> None:
    page = site["web"].page("/")
    form = page.xpath("//main//form[@role='search']")[0]
    assert form.get("action") == "/suche"
    field = form.xpath(".//input[@name='q']")[0]
    assert page.xpath(f"//label[@for='{field.get('id')}']/text()") == ["Suchbegriff"]
    inbox = page.xpath("//*[@id='inbox-count']//a[@href='/posteingang']")[0]
    assert " ".join(inbox.text_content().split()) == "1 Dokument wartet auf Zuordnung"
    rows = page.xpath("//*[@id='failed-documents']//tr[@data-document-id]")
    assert [row.get("data-document-id") for row in rows] == [site["docs"]["failed"]]
    assert "fehlgeschlagen" in rows[0].text_content()
    reason = site["web"].api("GET", f"/documents/{site['docs']['failed']}").json["status_reason"]
    assert reason and reason in " ".join(rows[0].text_content().split())
    assert rows[0].xpath(f".//a[@href='/dokumente/{site['docs']['failed']}']")


def test_recently_opened_files_are_the_users_own_newest_first(tmp_path: Path) -> None:
    settings = Settings.from_env({"DMS_DATA_DIR": str(tmp_path / "data"), "DMS_AUTH_MODE": "users"})
    app = create_app(settings)
    services = app.extensions["dms"]
    try:
        identity = IdentityRepository.for_catalog(services.catalog)
        for name in ("clara", "carl"):
            identity.add_user(name, "clerk", actor="test")
            identity.set_password(name, "ein-langes-passwort", actor="test")
        clara = Web(app).login("clara", "ein-langes-passwort")
        page = clara.page("/")
        assert "Noch keine Akte geöffnet" in page.xpath("//*[@id='recent-files']")[0].text_content()
        numbers = [clara.api("POST", "/customers", json={"name": f"Kunde {n} <b>GmbH</b>"}).json["number"]
                   for n in range(3)]
        as_clara = AuthenticatedPrincipal("clara", frozenset({"clerk"}), kind="user", permissions=ROLES["clerk"])
        as_carl = AuthenticatedPrincipal("carl", frozenset({"clerk"}), kind="user", permissions=ROLES["clerk"])
        for number in (numbers[0], numbers[1], numbers[0]):
            customer_file(services, as_clara, number)
        customer_file(services, as_carl, numbers[2])  # someone else's
        response = clara.get("/")
        links = lxml.html.fromstring(response.text).xpath("//*[@id='recent-files']//a")
        assert [link.get("href") for link in links] == [f"/kunden/{numbers[0]}", f"/kunden/{numbers[1]}"]
        assert "Kunde 0 &lt;b&gt;GmbH&lt;/b&gt;" in response.text  # names are escaped
    finally:
        services.close()


# --- search page ----------------------------------------------------------------------------------


def test_a_search_lists_hits_with_highlights_links_and_thumbnails(site) -> None:
    page = site["web"].page("/suche?q=Zitronenfalter")
    assert page.xpath("//*[@id='total']/text()") == ["2"]
    hits = page.xpath("//ol[@id='results']/li[contains(@class, 'hit')]")
    assert len(hits) == 2
    first = hits[0]
    assert first.get("data-document-id") == site["docs"]["strong"]  # relevance: the title counts most
    assert first.xpath(".//a/@href")[0] == f"/dokumente/{site['docs']['strong']}"
    assert first.xpath(".//img[contains(@class, 'thumb')]/@src") == [
        f"/api/v1/documents/{site['docs']['strong']}/thumbnail?version=1"]
    assert first.xpath(".//p[@class='snippet']/mark/text()")[0] == "Zitronenfalter"
    meta = " ".join(first.xpath(".//dl")[0].text_content().split())
    assert site["a"] in meta and "Muster GmbH" in meta and "Angebot" in meta and "10.01.2023" in meta
    # the query stays in the field, with the syntax hint next to it
    field = page.xpath("//main//input[@name='q']")[0]
    assert field.get("value") == "Zitronenfalter"
    hint = page.xpath(f"//*[@id='{field.get('aria-describedby')}']")[0].text_content()
    assert '"genaue Wortfolge"' in hint and "Rech*" in hint and "-Wort" in hint


def test_user_text_is_escaped_and_only_the_marks_are_markup(site) -> None:
    response = site["web"].get("/suche?q=Kolibri")
    assert XSS not in response.text and "onerror=alert(1)&gt;" in response.text
    page = lxml.html.fromstring(response.text)
    assert not page.xpath("//img[@src='x']")
    snippet = page.xpath("//p[@class='snippet']")[0]
    assert [child.tag for child in snippet] == ["mark", "mark"]
    assert XSS in snippet.text_content()  # shown as text
    query = site["web"].get("/suche?q=" + "%3Cscript%3Ealert(1)%3C/script%3E")
    assert "<script>alert(1)</script>" not in query.text


def test_facets_are_filter_links_with_counts(site) -> None:
    web = site["web"]
    page = web.page("/suche?q=Zitronenfalter")
    facets = page.xpath("//aside[@id='facets']")[0]
    groups = {section.get("data-facet"): texts(section.xpath(".//li")) for section in facets.xpath(".//section")}
    assert groups["kunde"] == [f"{site['a']} · Muster GmbH 1", f"{site['b']} · Beispiel AG 1"]
    assert sorted(groups["klasse"]) == ["Angebot 1", "Rechnung 1"]
    assert groups["jahr"] == ["2026 1", "2023 1"]
    assert groups["tag"] == ["wichtig 1"]
    link = facets.xpath(f".//section[@data-facet='kunde']//a[contains(@href, 'kunde={site['b']}')]/@href")[0]
    filtered = web.page(link)
    assert [hit.get("data-document-id") for hit in filtered.xpath("//li[contains(@class, 'hit')]")] == [
        site["docs"]["weak"]]
    remove = filtered.xpath("//section[@data-facet='kunde']//a[contains(@class, 'facet-remove')]")[0]
    assert "entfernen" in remove.text_content()
    assert len(web.page(remove.get("href")).xpath("//li[contains(@class, 'hit')]")) == 2
    by_year = web.page("/suche?q=Zitronenfalter&jahr=2023")
    assert [hit.get("data-document-id") for hit in by_year.xpath("//li[contains(@class, 'hit')]")] == [
        site["docs"]["strong"]]
    # a filter alone, without words, lists what it matches
    assert len(web.page("/suche?tag=wichtig").xpath("//li[contains(@class, 'hit')]")) == 1


def test_sort_by_date_puts_the_newest_document_first(site) -> None:
    web = site["web"]
    page = web.page("/suche?q=Zitronenfalter")
    assert page.xpath("//nav[@aria-label='Sortierung']//strong/text()") == ["Relevanz"]
    link = page.xpath("//nav[@aria-label='Sortierung']//a[text()='Datum']/@href")[0]
    assert "sortierung=datum" in link
    by_date = web.page(link)
    order = [hit.get("data-document-id") for hit in by_date.xpath("//li[contains(@class, 'hit')]")]
    assert order == [site["docs"]["weak"], site["docs"]["strong"]]
    # the sort is kept when searching again and when following a facet
    assert by_date.xpath("//main//form[@role='search']//input[@name='sortierung']/@value") == ["datum"]
    assert all("sortierung=datum" in href for href in by_date.xpath("//aside[@id='facets']//a/@href"))
    api = web.api("GET", "/search?q=Zitronenfalter&sort=date").json
    assert [hit["id"] for hit in api["hits"]] == order and api["hits"][0]["version"] == 1
    assert web.api("GET", "/search?q=Zitronenfalter&sort=neu").status_code == 400


def test_paging_twenty_per_page(site) -> None:
    index = site["app"].extensions["dms"].index
    index.bulk_index(
        IndexEntry(id=f"page-{n:02d}", customer_number=None, title=f"Seitentest {n}", document_class="Rechnung",
                   folder="04 Rechnungen", text="Pfirsichblüte", date=date(2020, 1, 1 + n % 28)) for n in range(45)
    )
    web = site["web"]
    first = web.page("/suche?q=Pfirsichbl%C3%BCte")
    assert len(first.xpath("//li[contains(@class, 'hit')]")) == 20
    pager = first.xpath("//nav[@aria-label='Seiten']")[0]
    assert "Seite 1 von 3" in pager.text_content()
    following = pager.xpath(".//a[@rel='next']/@href")[0]
    assert "seite=2" in following and "q=Pfirsichbl" in following
    last = web.page("/suche?q=Pfirsichbl%C3%BCte&seite=3")
    assert len(last.xpath("//li[contains(@class, 'hit')]")) == 5
    assert last.xpath("//ol[@id='results']/@start") == ["41"]
    assert not last.xpath("//nav[@aria-label='Seiten']//a[@rel='next']")
    assert web.get("/suche?q=Pfirsichbl%C3%BCte&seite=abc").status_code == 200  # page 1


def test_empty_states_and_refused_queries(site) -> None:
    web = site["web"]
    start = web.page("/suche")
    assert "Geben Sie einen Suchbegriff ein" in start.text_content() and not start.xpath("//*[@id='results']")
    none = web.page("/suche?q=Quastenflosser")
    assert "Keine Treffer für „Quastenflosser“" in none.text_content()
    assert none.xpath("//*[@id='total']/text()") == ["0"]
    refused = web.page("/suche?q=" + "wort%20" * 600, status=400)
    alert = refused.xpath("//main//*[@role='alert']")[0]
    assert "Zeichen" in alert.text_content() or "Begriffe" in alert.text_content()
    assert refused.xpath("//main//form[@role='search']//input[@name='q']")  # the form stays to correct it
    # a year that is no year is ignored, not an error
    assert web.get("/suche?q=Zitronenfalter&jahr=20x6").status_code == 200
