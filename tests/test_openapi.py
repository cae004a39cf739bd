"""The OpenAPI document (/api/v1/openapi.json) and the docs page (/api/docs).

Every route of the app has a description (a new endpoint without `@operation` fails here), the
document is valid OpenAPI 3.1, its permissions agree with the authorisation table of
tests/test_auth_http.py, the docs page loads nothing from another origin, and schemathesis
sends generated requests to a real `dms serve` on embedded defaults: no 5xx, no response that
its own document does not allow, every request the document allows is accepted (positive data
acceptance) and every one it forbids is refused (negative data rejection).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import AcceptedNegativeData
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from dms.config import Settings
from dms.errors import ValidationError
from dms.validation import clean_text
from dms.web import create_app
from dms.web.idempotency import KEY
from dms.web.openapi.document import openapi_path
from tests.customer_bodies import valid_customer_body
from tests.docgen import make_pdf
from tests.live import LiveServer
from tests.test_auth_http import ANY, PUBLIC, REQUIRED, shape

# Routes of the app that are pages, not API operations (everything else must be in the document).
PAGES = {"/api/docs", "/static/<path:filename>"}
ERROR_STATUSES = {"400", "401", "403", "404", "409", "413", "422", "503"}


def _document(tmp_path: Path, **env: str) -> tuple[dict, list[tuple[str, str]]]:
    """The app's OpenAPI document and its (method, rule) routes."""
    app = create_app(Settings.from_env({"DMS_DATA_DIR": str(tmp_path / "data"), **env}))
    try:
        response = app.test_client().get("/api/v1/openapi.json")
        assert response.status_code == 200, response.text
        routes = [
            (method, rule.rule)
            for rule in app.url_map.iter_rules()
            if not rule.endpoint.startswith("ui.")  # the web client's pages (tests/web), not the API
            for method in sorted(rule.methods or ()) if method not in ("HEAD", "OPTIONS")
        ]
        return response.get_json(), routes
    finally:
        app.extensions["dms"].close()


def _operations(document: dict) -> Iterator[tuple[str, str, dict]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def _keys(document: dict) -> list[tuple[str, str]]:
    return [(method, shape(re.sub(r"\{[^}]+\}", "<x>", path))) for method, path, _ in _operations(document)]


def test_every_route_has_a_spec(tmp_path: Path) -> None:
    document, routes = _document(tmp_path)
    described = {(method, path) for method, path, _ in _operations(document)}
    api = {(method, openapi_path(rule)) for method, rule in routes if rule not in PAGES}
    assert not api - described, f"routes without @operation: {sorted(api - described)}"
    assert not described - api, f"described but not routed: {sorted(described - api)}"
    assert {rule for _, rule in routes if not rule.startswith("/api/v1/")} == PAGES, "a new page: add it to PAGES"


def test_the_document_is_valid_openapi_3_1(tmp_path: Path) -> None:
    for mode in ("local", "users"):
        document, _ = _document(tmp_path / mode, DMS_AUTH_MODE=mode)
        assert document["openapi"].startswith("3.1")
        validate(document)  # raises with the path of the first violation


def test_every_operation_states_its_permission_and_errors(tmp_path: Path) -> None:
    """x-permission agrees with the authorisation table; error responses use the one Error schema."""
    document, _ = _document(tmp_path, DMS_AUTH_MODE="users")
    components = document["components"]
    assert set(components["securitySchemes"]) == {"bearerAuth", "basicAuth"}
    assert components["schemas"]["Error"]["required"] == ["error"]
    assert {"code", "message"} <= set(components["schemas"]["ErrorDetail"]["required"])
    for status in ERROR_STATUSES:
        assert any(r["description"] for r in components["responses"].values()), status
    unknown = [key for key in _keys(document) if key not in REQUIRED]
    assert not unknown, f"not in the REQUIRED table of tests/test_auth_http.py: {unknown}"
    documented_errors: set[str] = set()
    for method, path, operation in _operations(document):
        needed = REQUIRED[(method, shape(re.sub(r"\{[^}]+\}", "<x>", path)))]
        expected = {PUBLIC: "public", ANY: "authenticated"}.get(needed, needed)
        assert operation["x-permission"] == expected, (method, path)
        if needed == PUBLIC:
            assert operation["security"] == [], (method, path)
        else:
            assert {} not in operation["security"], "users mode: no anonymous access"
            assert "401" in operation["responses"], (method, path)
        for status, response in operation["responses"].items():
            if status in ERROR_STATUSES and "$ref" in response:
                documented_errors.add(status)
        assert operation["operationId"] and operation["summary"]
    assert documented_errors >= ERROR_STATUSES - {"422"}, "statuses the API answers with but never documents"
    local, _ = _document(tmp_path / "local")
    for _, _, operation in _operations(local):
        assert operation["security"] == [] or {} in operation["security"], "local mode: no credential needed"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "data-spec", "action", "srcset") and value:
                self.urls.append(value)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path_factory.mktemp("openapi") / "data")
    try:
        yield server.start()
    finally:
        server.stop()


def test_the_docs_page_loads_only_local_assets(served: LiveServer) -> None:
    page = requests.get(served.url + "/api/docs", timeout=30)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "http" not in csp, csp  # the browser may fetch from nowhere else
    parser = _Links()
    parser.feed(page.text)
    assert len(parser.urls) >= 4, parser.urls
    for url in parser.urls:
        assert url.startswith("/") and not url.startswith("//"), f"not a local URL: {url}"
        asset = requests.get(served.url + url, timeout=30)
        assert asset.status_code == 200, (url, asset.status_code)
    assert "http" not in requests.get(served.url + "/static/docs.js", timeout=30).text
    assert "openapi" in requests.get(served.url + "/api/v1/openapi.json", timeout=30).json()


# --- schemathesis against the real server ---------------------------------------------------


@pytest.fixture(scope="module")
def samples(served: LiveServer) -> dict[str, str]:
    """A real customer and document, so generated requests reach more than the 404 branches."""
    base = served.url + "/api/v1"
    number = requests.post(base + "/customers", json={"name": "Schema GmbH"}, timeout=30).json()["number"]
    pdf = make_pdf(["Rechnung", f"Kundennummer {number}", "Schemaprobe"])
    upload = requests.post(base + "/documents", files={"file": ("s.pdf", pdf)}, timeout=30)
    assert upload.status_code == 202, upload.text
    return {"number": number, "document_id": upload.json()["id"]}


def _embedded_document() -> dict:
    """The document of an app on embedded defaults, made at collection time: schemathesis
    parametrizes from it (its lazy `from_fixture` loader does not run on pytest 9);
    `test_the_served_document_is_this_one` checks that the live server serves the same."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return _document(Path(tmp))[0]


DOCUMENT = _embedded_document()
# A refused request may also be a 412 (an empty or unknown `If-Match`) or a 413 (more files than
# `api.max_batch_items`): both are in the document; schemathesis' default list lacks them.
REJECTED = ["400", "401", "403", "404", "405", "406", "409", "412", "413", "415", "422", "428", "429", "5xx"]
schema = schemathesis.openapi.from_dict(DOCUMENT, config=SchemathesisConfig.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": REJECTED}}}
))


def _texts(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _texts(key)
            yield from _texts(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item)


def _cleaned_differently(case) -> bool:
    """Whether a text of the request changes when the server cleans it (dms.validation.clean_text: NFC,
    no control or bidi characters, white space folded); limits count the cleaned text."""
    sent = [case.body, case.query, case.path_parameters, case.headers]
    try:
        return any(clean_text(text) != text for text in _texts(sent))
    except ValidationError:  # a lone surrogate: refused anyway
        return False


def rejects_negative_data(ctx, response, case):
    """schemathesis' negative_data_rejection, except for a text over its length limit that is within it once
    cleaned (README, *Limits*: control and bidi characters are removed, then the length is checked)."""
    try:
        return negative_data_rejection(ctx, response, case)
    except AcceptedNegativeData:
        if _cleaned_differently(case):
            return None
        raise


CHECKS = [
    response_schema_conformance, status_code_conformance, content_type_conformance, response_headers_conformance,
    rejects_negative_data, positive_data_acceptance,
]
BUDGET = {"started": 0.0}


def test_the_served_document_is_this_one(served: LiveServer) -> None:
    assert requests.get(served.url + "/api/v1/openapi.json", timeout=30).json() == DOCUMENT


@schema.parametrize()
@settings(max_examples=15, deadline=timedelta(seconds=10), database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_the_server_keeps_to_its_document(case, served: LiveServer, samples: dict[str, str]) -> None:
    """Generated requests (examples, boundaries, fuzzing) against every operation: no 5xx, every
    response's status, content type, headers and body as the document says, valid requests accepted
    (2xx, or 404/409 of records that do not exist or already do) and invalid ones refused (4xx)."""
    if not BUDGET["started"]:
        BUDGET["started"] = time.monotonic()
    path = case.meta.components.get(ParameterLocation.PATH) if case.meta is not None else None
    for name, value in (case.path_parameters or {}).items():
        # half of them on real records, unless the path is what a negative case made invalid
        if name in samples and len(str(value)) % 2 == 0 and not (path and path.mode.is_negative):
            case.path_parameters[name] = samples[name]
    _one_key_per_request(case)
    if case.meta is not None and case.meta.generation.mode.is_positive:
        _as_a_client_would_send_it(case, served, samples)
    response = case.call(base_url=served.url, timeout=30)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code} {response.text}"
    case.validate_response(response, checks=CHECKS)


def _one_key_per_request(case) -> None:
    """An `Idempotency-Key` names one request (a UUID per operation): hypothesis draws the same few keys
    for different requests, which the server rightly answers 422 `idempotency_key_reused`."""
    headers = case.headers or {}
    key = headers.get("Idempotency-Key")
    if isinstance(key, str) and KEY.fullmatch(key):
        headers["Idempotency-Key"] = str(uuid.uuid4())


def _as_a_client_would_send_it(case, served: LiveServer, samples: dict[str, str]) -> None:
    """Valid requests, made meaningful where a JSON Schema cannot say what is valid: references name
    records that exist, a `cursor` is one the server made, `If-Match` the customer's current ETag,
    metadata is sent once (form field or `metadata` part, not both), a manifest has one entry per
    file, a customer created by PUT has a name, and a merge merges two fresh customers. Everything else
    stays as generated."""
    base = served.url + "/api/v1"
    body = case.body if isinstance(case.body, dict) else None
    if body is not None and case.path.startswith("/api/v1/customers"):
        valid_customer_body(body)  # IBAN check digits, VAT ids, postal codes, … (issue 14)
    if body is not None:
        manifest = body.get("manifest") if isinstance(body.get("manifest"), list) else []
        for item in [body, body.get("metadata"), *manifest]:
            if isinstance(item, dict) and item.get("customer_number") is not None:
                item["customer_number"] = samples["number"]
        if isinstance(body.get("metadata"), dict):
            for name in set(body["metadata"]) & set(body):
                del body[name]
        if isinstance(body.get("manifest"), list):  # as JSON text: schemathesis sends `[""]` as a bare part ""
            count = len(body["file"]) if isinstance(body.get("file"), list) else 1
            body["manifest"] = json.dumps((body["manifest"] + [{}] * count)[:count])
    query = case.query or {}
    if case.path == "/api/v1/documents" and query.get("cursor"):
        order = query.get("order") or "newest"
        page = requests.get(f"{base}/documents", params={"order": order, "limit": 1}, timeout=30).json()
        query["cursor"] = page["next_cursor"] or _oldest_cursor(base)
        query["order"] = "" if page["next_cursor"] is None else order
    if case.method == "POST" and case.path.endswith("/merge") and body is not None:
        # a merge cannot be undone: a fresh pair of customers, never the samples (issue #14)
        pair = [requests.post(f"{base}/customers", json={"name": f"Dublette {uuid.uuid4().hex[:12]}"},
                              timeout=30).json()["number"] for _ in range(2)]
        case.path_parameters["number"], body["into"] = pair
    number = (case.path_parameters or {}).get("number")
    if number is not None and case.method in ("PUT", "PATCH"):
        current = requests.get(f"{base}/customers/{number}", timeout=30)
        headers = case.headers or {}
        if "If-Match" in headers:
            if current.status_code == 200:
                headers["If-Match"] = current.headers["ETag"]
            else:
                del headers["If-Match"]
        if case.method == "PUT" and current.status_code == 404 and body is not None:
            body.setdefault("name", "Neu aus dem ERP")


def _oldest_cursor(base: str) -> str:
    return requests.get(f"{base}/documents", params={"order": "oldest", "limit": 1}, timeout=30).json()["next_cursor"]


def test_schemathesis_stayed_in_its_time_box() -> None:
    """The generated tests above run before this one (file order); together they stay well under 240 s (the
    suite runs its files in parallel workers on two cores, so this is a bound, not a speed target)."""
    if BUDGET["started"]:
        assert time.monotonic() - BUDGET["started"] < 240
