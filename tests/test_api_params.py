"""Garbage in every query parameter and every JSON body of every endpoint: a 4xx with the usual
error body, never a 5xx. The table of parameters must cover every route of the app, so a new
endpoint cannot slip past this test."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
import requests

from dms.config import Settings
from dms.web import create_app
from tests.docgen import make_pdf
from tests.live import Api

# endpoint (method, rule) -> its query parameters
PARAMS: dict[tuple[str, str], list[str]] = {
    ("GET", "/api/v1/health"): [],
    ("GET", "/api/v1/config"): [],
    ("GET", "/api/v1/openapi.json"): [],
    ("GET", "/api/docs"): [],
    ("GET", "/api/v1/customers"): ["q", "status", "tag", "group", "branch", "attr.x", "limit", "offset"],
    ("GET", "/api/v1/customers/attributes"): [],
    ("POST", "/api/v1/customers/import"): ["dry_run", "update"],  # import and export (issue #14)
    ("GET", "/api/v1/customers/import/template"): ["format"],
    ("GET", "/api/v1/customers/export"): ["format", "q", "status", "tag", "group", "branch", "attr.x"],
    ("POST", "/api/v1/customers"): [],
    ("GET", "/api/v1/customers/next-number"): [],
    ("GET", "/api/v1/customers/<number>"): [],
    ("PATCH", "/api/v1/customers/<number>"): [],
    ("PUT", "/api/v1/customers/<number>"): [],
    ("GET", "/api/v1/customers/<number>/file"): [],
    ("POST", "/api/v1/customers/<number>/merge"): [],  # merging customers (issue #14)
    ("GET", "/api/v1/customers/<number>/gdpr-report"): ["format"],
    ("POST", "/api/v1/customers/<number>/erasure"): [],
    ("GET", "/api/v1/customers/<number>/erasure"): [],
    ("POST", "/api/v1/documents"): [],
    ("POST", "/api/v1/documents/batch"): [],
    ("GET", "/api/v1/documents"): [
        "customer", "status", "folder", "class", "external_id", "updated_since", "order", "cursor", "limit", "offset",
    ],
    ("GET", "/api/v1/documents/<document_id>"): [],
    ("PATCH", "/api/v1/documents/<document_id>"): [],
    ("GET", "/api/v1/documents/<document_id>/content"): ["version", "download"],
    ("GET", "/api/v1/documents/<document_id>/preview"): ["version", "download"],
    ("GET", "/api/v1/documents/<document_id>/thumbnail"): ["version"],
    ("GET", "/api/v1/documents/<document_id>/status"): [],
    ("POST", "/api/v1/documents/<document_id>/versions"): [],
    ("GET", "/api/v1/audit"): ["customer", "document", "actor", "action", "from", "to", "limit", "cursor"],
    ("GET", "/api/v1/webhooks/deliveries"): ["state", "document", "event", "limit", "offset"],
    ("GET", "/api/v1/mail/messages"): ["status", "customer", "limit", "offset"],
    ("GET", "/api/v1/mail/messages/<mail_id>"): [],
    ("GET", "/api/v1/mail/quarantine"): ["limit", "offset"],
    ("GET", "/api/v1/mail/quarantine/<mail_id>/raw"): [],
    ("POST", "/api/v1/mail/quarantine/<mail_id>/release"): ["reason"],
    ("DELETE", "/api/v1/mail/quarantine/<mail_id>"): ["reason"],
    ("DELETE", "/api/v1/documents/<document_id>"): ["version"],
    ("POST", "/api/v1/documents/<document_id>/restore"): [],
    ("GET", "/api/v1/trash"): [],
    ("POST", "/api/v1/retention/runs"): ["dry_run"],
    ("GET", "/api/v1/retention/runs"): ["status", "limit", "offset"],
    ("GET", "/api/v1/retention/runs/<run_id>"): [],
    ("POST", "/api/v1/retention/runs/<run_id>/approve"): [],
    ("POST", "/api/v1/documents/<document_id>/legal-hold"): ["reason"],  # legal hold (issue #12)
    ("DELETE", "/api/v1/documents/<document_id>/legal-hold"): ["reason"],
    ("POST", "/api/v1/customers/<number>/legal-hold"): ["reason"],
    ("DELETE", "/api/v1/customers/<number>/legal-hold"): ["reason"],
    ("GET", "/api/v1/customers/<number>/timeline"): ["type", "cursor", "limit"],  # timeline (issue #14)
    ("POST", "/api/v1/customers/<number>/notes"): [],
    ("PATCH", "/api/v1/customers/<number>/notes/<note_id>"): [],
    ("GET", "/api/v1/followups"): ["assignee", "due", "limit", "offset"],
    ("GET", "/api/v1/search"): [
        "q", "customer", "class", "folder", "tag", "from", "to", "limit", "offset", "facets", "sort",
    ],
}

# raw, already percent-encoded query values (some are not valid UTF-8 on purpose)
GARBAGE = [
    "abc", "-1", "0", "1e9", "1.5", "99999999999999999999", "%00", "%ff%fe", "%ED%A0%80",
    quote("\u202e\u0000x"), "x" * 5000, quote('"*-'), quote("[]{}"), "",
    "%C2%B2", "%D9%A3",  # "²" and "٣": str.isdigit() but not int() (a 500 once)
    quote("0001-01-01T00:00:00+01:00"),  # before year 1 in UTC (a 500 once)
]

BODIES = [
    b"", b"null", b"[]", b'"text"', b"{", b"{" * 100_000 + b"}" * 100_000, b'{"name": "\\ud800"}',
    b'{"name": {"a": 1}}', b'{"name": 12}', b'{"name": ["x"]}', b'{"name": null}', b'{"name": true}',
    b'{"tags": "a"}', b'{"tags": [1, 2]}', b'{"tags": [{"x": 1}]}', b'{"number": {"x": 1}}',
    b'{"kind": 5}', b'{"class": 7}', b'{"title": ""}', b'{"customer_number": [1]}', b"\xff\xfe",
    json.dumps({"name": "x" * 5000}).encode(), json.dumps({"unknown": 1}).encode(),
]


def test_the_table_covers_every_route(tmp_path) -> None:
    app = create_app(Settings.from_env({"DMS_DATA_DIR": str(tmp_path / "data")}))
    routes = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")
        for method in rule.methods or () if method not in ("HEAD", "OPTIONS")
    }
    assert routes == set(PARAMS)


@pytest.fixture(scope="module")
def document_id(api: Api) -> str:
    customer = api.create_customer("Parameterprobe GmbH")
    pdf = make_pdf(["Rechnung", f"Kundennummer {customer['number']}", "Parameterprobe"])
    response = api.upload(pdf, "probe.pdf")
    assert response.status_code == 202, response.text
    api.wait(response.json()["id"])
    return response.json()["id"]


def _path(rule: str, number: str, document_id: str) -> str:
    path = rule.replace("<number>", number).replace("<document_id>", document_id)
    path = path.replace("<mail_id>", document_id).replace("<run_id>", document_id)
    return path.replace("<note_id>", document_id)


def _assert_client_error(response: requests.Response, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:300]}"
    if response.status_code >= 400:
        error = response.json()["error"]
        assert error["code"] and error["message"], what
        assert len(response.content) < 5000, f"{what}: the error echoes too much input"


def test_garbage_query_parameters_never_5xx(api: Api, live_server, document_id: str) -> None:
    number = api.create_customer("Parameterkunde GmbH")["number"]
    session = requests.Session()
    for (method, rule), params in PARAMS.items():
        if method != "GET":
            continue
        path = _path(rule, number, document_id)
        for param in [*params, "unknown"]:
            for value in GARBAGE:
                url = f"{live_server.url}{path}?{param}={value}"
                _assert_client_error(session.get(url, timeout=60), f"GET {path}?{param}={value[:20]}")


def test_bad_values_are_400_not_clamped(api: Api) -> None:
    for path in ("/documents?limit=abc", "/customers?limit=abc", "/documents?offset=99999999999999999999",
                 "/documents?limit=1e9", "/search?q=x&limit=0", "/search?q=x&from=gestern",
                 "/documents?status=verloren", "/search?q=x&facets=vielleicht"):
        response = api.get(path)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["error"]["code"] == "invalid_request", path


def test_garbage_json_bodies_never_5xx(api: Api, document_id: str) -> None:
    number = api.create_customer("Körperkunde GmbH")["number"]
    targets = [("POST", "/customers"), ("PATCH", f"/customers/{number}"), ("PUT", f"/customers/{number}"),
               ("PUT", "/customers/neu-aus-erp"), ("PATCH", f"/documents/{document_id}")]
    for method, path in targets:
        for body in BODIES:
            response = api.http.request(
                method, api.base + path, data=body, headers={"Content-Type": "application/json"}, timeout=60
            )
            _assert_client_error(response, f"{method} {path} {body[:30]!r}")
            if body in (b'{"name": {"a": 1}}', b'{"name": 12}', b'{"name": ["x"]}'):
                assert response.status_code == 400, "a name must be a string, never stringified"


def test_garbage_upload_fields_never_5xx(api: Api) -> None:
    pdf = make_pdf(["Formularprobe"])
    for field in ("customer_number", "document_class", "folder", "title", "tags", "source", "comment",
                  "external_id", "document_date", "fields", "metadata"):
        for value in ("\x00", "\u202e" * 3, "x" * 5000, "99999999999999999999", ""):
            response = api.post("/documents", files={"file": ("f.pdf", pdf)}, data={field: value})
            _assert_client_error(response, f"upload {field}={value[:10]!r}")
            if response.status_code == 202:
                pdf = make_pdf([f"Formularprobe {field} {len(value)}"])  # the next one is no duplicate
