"""Customer master data (issue 14) through the HTTP API of the real app (Flask test client, users
mode, real catalog and object store in a temp folder), the CLI (`dms check`, `dms serve`) and the
sidecars + `rebuild_catalog`: persons and companies with every sub-list, validation per field,
IBAN masking per permission, custom attributes, configured statuses, groups and branches, list
filters, ETag/If-Match, the audit trail, and the automatic status on the first invoice."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dms.config import Settings
from tests.customer_bodies import iban
from tests.docgen import make_pdf
from tests.live import free_port

PASSWORD = "stammdaten-passwort-2026"
CONFIG = """
[customers]
statuses = ["Interessent", "Kunde", "ehemaliger Kunde", "Premium"]
default_status = "Kunde"
groups = ["Standard", "Pflege", "Gewerbe"]
default_group = "Standard"
branches = ["Zentrale", "Nord"]
default_branch = "Zentrale"
auto_status_on_invoice = "Kunde"

[customers.attributes.vertragsnummer]
label = "Vertragsnummer"
type = "text"
required = true
regex = 'VN-\\d{6}'

[customers.attributes.hausnotruf]
label = "Hausnotruf"
type = "bool"

[customers.attributes.geraete]
label = "Geräte"
type = "int"
min = 0
max = 10

[customers.attributes.rabatt]
label = "Rabatt %"
type = "decimal"
min = 0
max = 50

[customers.attributes.tarif]
label = "Tarif"
type = "choice"
choices = ["Basis", "Komfort"]

[customers.attributes.seit]
label = "Kunde seit"
type = "date"

[customers.attributes.notiz]
label = "Notiz"
type = "multiline"
"""


DE_IBAN = "DE89370400440532013000"  # the textbook example
AT_IBAN = iban("AT", "1904300234573201")
NL_IBAN = iban("NL", "ABNA0417164300")
ATTRIBUTES = {"vertragsnummer": "VN-123456"}


class Client:
    """The Flask test client with one credential."""

    def __init__(self, app: Any, authorization: str) -> None:
        self.http = app.test_client()
        self.headers = {"Authorization": authorization}

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None, **kw: Any) -> Any:
        return self.http.open("/api/v1" + path, method=method, headers={**self.headers, **(headers or {})}, **kw)

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.request("POST", path, **kw)

    def patch(self, path: str, **kw: Any) -> Any:
        return self.request("PATCH", path, **kw)

    def put(self, path: str, **kw: Any) -> Any:
        return self.request("PUT", path, **kw)

    def create(self, **body: Any) -> dict[str, Any]:
        body.setdefault("attributes", dict(ATTRIBUTES))
        response = self.post("/customers", json=body)
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.get_json()


class Stack:
    def __init__(self, base: Path, config: str = CONFIG, **env: str) -> None:
        from dms.app.services import open_catalog
        from dms.identity.repository import IdentityRepository

        self.base = base
        (base / "dms.toml").write_text(config, encoding="utf-8")
        self.env = {"DMS_DATA_DIR": str(base / "data"), "DMS_CONFIG": str(base / "dms.toml"),
                    "DMS_AUTH_MODE": "users", **env}
        self.settings = Settings.from_env(self.env)
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        catalog = open_catalog(self.settings)
        try:
            identity = IdentityRepository.for_catalog(catalog)
            for name, role in (("anna", "admin"), ("bernd", "clerk"), ("carla", "auditor")):
                identity.add_user(name, role, actor="test")
                identity.set_password(name, PASSWORD, actor="test")
            self.tokens = {
                "bank": identity.create_token("bank", ["customers:read", "customers:bank"], actor="test")[1],
                "read": identity.create_token("lesen", ["customers:read"], actor="test")[1],
                "erp": identity.create_token("erp", ["customers:read", "customers:write", "documents:write",
                                                     "documents:read"], actor="test")[1],
            }
        finally:
            catalog.close()
        from dms.web import create_app

        self.app = create_app(self.settings)
        self.admin = self.user("anna")
        self.clerk = self.user("bernd")

    def user(self, name: str) -> Client:
        return Client(self.app, "Basic " + base64.b64encode(f"{name}:{PASSWORD}".encode()).decode())

    def token(self, name: str) -> Client:
        return Client(self.app, f"Bearer {self.tokens[name]}")

    def close(self) -> None:
        self.app.extensions["dms"].close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    found = Stack(tmp_path_factory.mktemp("masterdata"))
    try:
        yield found
    finally:
        found.close()


PERSON: dict[str, Any] = {
    "kind": "natural", "salutation": "Frau", "title": "Dr.", "first_name": "Erika", "last_name": "Mustermann",
    "birth_date": "1950-04-12", "status": "Interessent", "groups": ["Pflege", "Standard"], "branch": "Nord",
    "external_number": "ALT-4711", "tags": ["Hausnotruf"], "emails": ["Erika@Example.org"],
    "addresses": [
        {"kind": "main", "street": "Musterstraße 12", "postal_code": "12345", "city": "Berlin"},
        {"kind": "billing", "street": "Postfach 7", "postal_code": "1010", "city": "Wien", "country": "at",
         "addition": "z. Hd. Sohn"},
    ],
    "contacts": [
        {"name": "Petra Mustermann", "role": "Tochter", "phones": ["+49 30 1234567", "0171 / 555 66 77"],
         "email": "petra@example.org", "availability": "werktags ab 17 Uhr", "relation": "Tochter",
         "emergency": True},
        {"name": "Dr. Hausarzt", "role": "Hausarzt", "phones": ["030 998877"]},
    ],
    "bank_accounts": [{"iban": "de89 3704 0044 0532 0130 00", "bic": "cobadeffxxx", "holder": "Erika Mustermann",
                       "label": "Lastschrift"}],
    "consents": [{"purpose": "email", "granted": True, "date": "2026-01-15", "source": "Aufnahmebogen"},
                 {"purpose": "newsletter", "granted": False, "date": "2026-01-15", "source": "Aufnahmebogen"}],
    "communication": {"preferred_channel": "phone", "language": "de", "no_advertising": True},
    "attributes": {"vertragsnummer": "VN-000815", "hausnotruf": True, "geraete": 2, "rabatt": 12.5,
                   "tarif": "Komfort", "seit": "2026-01-15", "notiz": "Schlüssel beim Nachbarn\nHund im Haus"},
}


def test_a_natural_person_with_every_sub_list_round_trips(stack: Stack) -> None:
    created = stack.admin.create(**PERSON)
    assert created["name"] == "Erika Mustermann"  # derived from first and last name
    assert (created["salutation"], created["title"], created["birth_date"]) == ("Frau", "Dr.", "1950-04-12")
    assert (created["status"], created["groups"], created["branch"]) == ("Interessent", ["Pflege", "Standard"], "Nord")
    assert created["emails"] == ["erika@example.org"]
    main, billing = created["addresses"]
    assert main["normalized"] == "musterstr 12|12345|berlin|de" and main["country"] == "DE"
    assert (billing["kind"], billing["country"], billing["addition"]) == ("billing", "AT", "z. Hd. Sohn")
    assert [c["name"] for c in created["contacts"]] == ["Petra Mustermann", "Dr. Hausarzt"]  # order kept
    assert created["contacts"][0]["emergency"] is True and created["contacts"][1]["emergency"] is False
    assert created["bank_accounts"] == [{"iban": DE_IBAN, "bic": "COBADEFFXXX", "holder": "Erika Mustermann",
                                         "label": "Lastschrift", "masked": False}]  # admin: in full
    assert created["consents"][1] == {"purpose": "newsletter", "granted": False, "date": "2026-01-15",
                                      "source": "Aufnahmebogen"}
    assert created["communication"] == {"preferred_channel": "phone", "language": "de", "no_advertising": True}
    assert created["attributes"]["rabatt"] == 12.5 and created["attributes"]["hausnotruf"] is True
    fetched = stack.admin.get(f"/customers/{created['number']}")
    assert fetched.status_code == 200 and fetched.headers["ETag"]
    assert fetched.get_json() == created


def test_a_company_is_created_changed_and_its_lists_replaced(stack: Stack) -> None:
    company = stack.admin.create(name="Müller Bau G.m.b.H.", legal_form="GmbH", register_court="Amtsgericht Köln",
                                 register_number="HRB 12345", vat_id="DE 123 456 788",
                                 addresses=[{"street": "Industriestr. 5", "postal_code": "50667", "city": "Köln"}])
    assert company["kind"] == "legal" and company["vat_id"] == "DE123456788"
    assert company["groups"] == ["Standard"] and company["branch"] == "Zentrale" and company["status"] == "Kunde"
    assert company["addresses"][0]["kind"] == "main"
    number = company["number"]
    changed = stack.admin.patch(f"/customers/{number}", json={
        "contacts": [{"name": "B", "phones": ["0221 1"]}, {"name": "A", "email": "a@mueller-bau.de"}],
        "addresses": [{"kind": "delivery", "street": "Lager 1", "postal_code": "8001", "city": "Zürich",
                       "country": "CH"}],
        "groups": ["Gewerbe"], "status": "Premium",
    })
    assert changed.status_code == 200, changed.get_data(as_text=True)
    body = changed.get_json()
    assert [c["name"] for c in body["contacts"]] == ["B", "A"]
    assert [a["kind"] for a in body["addresses"]] == ["delivery"] and body["groups"] == ["Gewerbe"]
    assert body["legal_form"] == "GmbH" and body["status"] == "Premium"  # untouched fields stay


def test_every_bad_field_is_named(stack: Stack) -> None:
    response = stack.admin.post("/customers", json={
        "name": "Fehlerhaft GmbH", "vat_id": "DE12345", "status": "VIP", "groups": ["Unbekannt"],
        "birth_date": "2999-01-01",
        "addresses": [{"street": "Weg 1", "postal_code": "1234", "city": "Berlin"},
                      {"kind": "main", "city": "Wien", "country": "AT", "postal_code": "1010"}],
        "contacts": [{"name": "X", "email": "keine-adresse", "phones": ["abc"]}],
        "bank_accounts": [{"iban": "DE89370400440532013001"}, {"iban": DE_IBAN, "bic": "XYZ"}],
        "consents": [{"purpose": "email"}],
        "attributes": {"vertragsnummer": "123", "geraete": 11, "tarif": "Gold", "unbekannt": 1},
    })
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_request" and error["field"]
    assert set(error["fields"]) == {
        "vat_id", "status", "groups.0", "birth_date", "addresses.0.postal_code", "contacts.0.email",
        "contacts.0.phones.0", "bank_accounts.0.iban", "bank_accounts.1.bic", "consents.0.granted",
        "attributes.vertragsnummer", "attributes.geraete", "attributes.tarif", "attributes.unbekannt",
    }
    assert error["codes"]["bank_accounts.0.iban"] == "invalid_iban"
    assert error["codes"]["attributes.vertragsnummer"] == "attribute_format"
    assert "Prüfziffer" in error["fields"]["bank_accounts.0.iban"]
    # the second main address is only found once the first is valid
    two_mains = stack.admin.post("/customers", json={"name": "Zwei Häuser", "attributes": ATTRIBUTES, "addresses": [
        {"kind": "main", "city": "Berlin"}, {"kind": "main", "city": "Hamburg"}]})
    assert two_mains.get_json()["error"]["field"] == "addresses.1.kind"
    required = stack.admin.post("/customers", json={"name": "Ohne Vertrag"})
    assert required.status_code == 400
    assert required.get_json()["error"]["field"] == "attributes.vertragsnummer"
    nameless = stack.admin.post("/customers", json={"kind": "natural", "attributes": ATTRIBUTES})
    assert nameless.get_json()["error"]["field"] == "name"


def test_ibans_are_masked_without_the_bank_permission(stack: Stack) -> None:
    number = stack.admin.create(name="Konto Test", bank_accounts=[
        {"iban": DE_IBAN, "label": "Haupt"}, {"iban": AT_IBAN}])["number"]
    for client, visible in ((stack.admin, True), (stack.token("bank"), True), (stack.clerk, False),
                            (stack.token("read"), False), (stack.user("carla"), False)):
        accounts = client.get(f"/customers/{number}").get_json()["bank_accounts"]
        if visible:
            assert [a["iban"] for a in accounts] == [DE_IBAN, AT_IBAN]
        else:
            assert [a["iban"] for a in accounts] == ["**** 3000", "**** " + AT_IBAN[-4:]]
        assert {a["masked"] for a in accounts} == {not visible}
    listed = stack.clerk.get("/customers", query_string={"q": "Konto Test"}).get_json()["customers"]
    assert listed[0]["bank_accounts"][0]["iban"] == "**** 3000"

    # a clerk sends the accounts back as shown, adding one: the masked ones keep what is stored
    shown = stack.clerk.get(f"/customers/{number}").get_json()["bank_accounts"]
    changed = stack.clerk.patch(f"/customers/{number}", json={"bank_accounts": [*shown, {"iban": NL_IBAN}]})
    assert changed.status_code == 200, changed.get_data(as_text=True)
    full = stack.admin.get(f"/customers/{number}").get_json()["bank_accounts"]
    assert [a["iban"] for a in full] == [DE_IBAN, AT_IBAN, NL_IBAN] and full[0]["label"] == "Haupt"
    unknown = stack.clerk.patch(f"/customers/{number}", json={"bank_accounts": [{"iban": "**** 9999"}]})
    assert unknown.status_code == 400 and unknown.get_json()["error"]["field"] == "bank_accounts.0.iban"
    # the audit trail never holds a full IBAN
    entries = stack.admin.get("/audit", query_string={"customer": number, "action": "customer.update"}).get_json()
    texts = str(entries)
    assert NL_IBAN not in texts and "**** " + NL_IBAN[-4:] in texts


def test_attributes_are_listed_and_filter_the_customer_list(stack: Stack) -> None:
    settings = stack.token("read").get("/customers/attributes").get_json()
    keys = [a["key"] for a in settings["attributes"]]
    assert keys == ["vertragsnummer", "hausnotruf", "geraete", "rabatt", "tarif", "seit", "notiz"]
    assert settings["attributes"][0] == {"key": "vertragsnummer", "label": "Vertragsnummer", "type": "text",
                                         "required": True, "regex": "VN-\\d{6}"}
    assert settings["statuses"][-1] == "Premium" and settings["branches"] == ["Zentrale", "Nord"]
    marker = f"Filtertest{time.monotonic_ns()}"
    numbers = [
        stack.admin.create(name=f"{marker} A", groups=["Pflege"], branch="Nord",
                           attributes={**ATTRIBUTES, "tarif": "Basis", "hausnotruf": True, "geraete": 3})["number"],
        stack.admin.create(name=f"{marker} B", groups=["Gewerbe"],
                           attributes={"vertragsnummer": "VN-654321", "tarif": "Komfort", "geraete": 3})["number"],
        stack.admin.create(name=f"{marker} C", status="Interessent", external_number=f"X-{marker}",
                           attributes={**ATTRIBUTES, "notiz": "Rückruf erbeten"})["number"],
    ]

    def found(**params: str) -> list[str]:
        response = stack.clerk.get("/customers", query_string={"q": marker, **params})
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        assert body["total"] == len(body["customers"])
        return [c["number"] for c in body["customers"]]

    assert found() == numbers
    assert found(group="Pflege") == [numbers[0]] and found(branch="Nord") == [numbers[0]]
    assert found(branch="Zentrale") == numbers[1:] and found(status="Interessent") == [numbers[2]]
    assert found(**{"attr.tarif": "Komfort"}) == [numbers[1]]
    assert found(**{"attr.geraete": "3"}) == numbers[:2]
    assert found(**{"attr.hausnotruf": "ja"}) == [numbers[0]]
    assert found(**{"attr.notiz": "rückruf"}) == [numbers[2]]
    assert found(**{"attr.vertragsnummer": "VN-654"}) == [numbers[1]]
    page = stack.clerk.get("/customers", query_string={"q": marker, "limit": 1, "offset": 1}).get_json()
    assert page["total"] == 3 and [c["number"] for c in page["customers"]] == [numbers[1]]
    by_external = stack.clerk.get("/customers", query_string={"q": f"x-{marker}"}).get_json()
    assert [c["number"] for c in by_external["customers"]] == [numbers[2]]
    umlauts = stack.admin.create(name="Jürgen Weiß", kind="natural")["number"]
    assert umlauts in [c["number"] for c in stack.clerk.get("/customers?q=juergen weiss").get_json()["customers"]]
    for bad in ({"status": "VIP"}, {"group": "Nirgends"}, {"branch": "Süd"}, {"attr.unbekannt": "1"},
                {"attr.geraete": "drei"}):
        response = stack.clerk.get("/customers", query_string=bad)
        assert response.status_code == 400, bad


def test_changes_need_the_current_etag_and_are_audited(stack: Stack) -> None:
    created = stack.admin.post("/customers", json={"name": "Versioniert", "attributes": ATTRIBUTES})
    number, etag = created.get_json()["number"], created.headers["ETag"]
    first = stack.admin.patch(f"/customers/{number}", headers={"If-Match": etag},
                              json={"contacts": [{"name": "Neu"}], "external_number": "E-1"})
    assert first.status_code == 200 and first.headers["ETag"] != etag
    stale = stack.admin.patch(f"/customers/{number}", headers={"If-Match": etag}, json={"title": "Prof."})
    assert stale.status_code == 412
    assert stack.admin.get(f"/customers/{number}").get_json()["title"] is None
    entries = stack.admin.get("/audit", query_string={"customer": number, "action": "customer.update"}).get_json()
    [entry] = entries["entries"]
    assert entry["details"]["old"] == {"contacts": [], "external_number": None}
    new = entry["details"]["new"]
    assert new["contacts"][0]["name"] == "Neu" and new["external_number"] == "E-1"
    taken = stack.admin.post("/customers", json={"name": "Doppelt", "external_number": "E-1",
                                                 "attributes": ATTRIBUTES})
    assert taken.status_code == 409 and taken.get_json()["error"]["code"] == "external_number_exists"


def test_the_erp_upsert_takes_master_data_and_old_bodies_alike(stack: Stack) -> None:
    erp = stack.token("erp")
    created = erp.put("/customers/ERP-77", json={"name": "Alt-ERP GmbH", "tags": ["erp"],
                                                 "attributes": ATTRIBUTES})
    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.get_json()["bank_accounts"] == []
    updated = erp.put("/customers/ERP-77", headers={"If-Match": created.headers["ETag"]},
                      json={"vat_id": "ATU12345678", "external_number": "SAP-77"})
    assert updated.status_code == 200 and updated.get_json()["vat_id"] == "ATU12345678"
    same = erp.put("/customers/ERP-77", json={"vat_id": "ATU12345678"})
    assert same.status_code == 200 and same.headers["ETag"] == updated.headers["ETag"]  # no change, no new state


def test_an_external_number_can_be_read_only(tmp_path: Path) -> None:
    stack = Stack(tmp_path, CONFIG.replace('auto_status_on_invoice = "Kunde"', "external_number_editable = false"))
    try:
        number = stack.admin.create(name="Fest", external_number="ALT-1")["number"]
        refused = stack.admin.patch(f"/customers/{number}", json={"external_number": "ALT-2"})
        assert refused.status_code == 400 and refused.get_json()["error"]["field"] == "external_number"
        assert stack.admin.patch(f"/customers/{number}", json={"external_number": "ALT-1"}).status_code == 200
        later = stack.admin.create(name="Später")["number"]
        assert stack.admin.patch(f"/customers/{later}", json={"external_number": "ALT-3"}).status_code == 200
    finally:
        stack.close()


def test_the_first_invoice_makes_a_prospect_a_customer(stack: Stack) -> None:
    number = stack.admin.create(name="Interessiert GmbH", status="Interessent")["number"]
    erp = stack.token("erp")
    pdf = make_pdf(["Interessiert GmbH - Rechnung", "Rechnungsnummer: RE-2026-0001", f"Kundennummer {number}",
                    "Gesamtbetrag: 119,00 EUR zahlbar bis 30.06.2026"])
    uploaded = erp.post("/documents", data={"file": (io.BytesIO(pdf), "rechnung.pdf"),
                                            "customer_number": number, "document_class": "Rechnung"})
    assert uploaded.status_code == 202, uploaded.get_data(as_text=True)
    document_id = uploaded.get_json()["id"]
    deadline = time.monotonic() + 120
    while erp.get(f"/documents/{document_id}").get_json()["status"] not in ("filed", "needs_review", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert erp.get(f"/documents/{document_id}").get_json()["status"] == "filed"
    deadline = time.monotonic() + 30
    while stack.admin.get(f"/customers/{number}").get_json()["status"] != "Kunde":
        assert time.monotonic() < deadline, "status not set after the first invoice"
        time.sleep(0.2)
    entries = stack.admin.get("/audit", query_string={"customer": number, "action": "customer.update"}).get_json()
    [entry] = entries["entries"]
    assert entry["actor"] == "system" and entry["details"]["via"] == "invoice"
    assert entry["details"]["old"] == {"status": "Interessent"} and entry["details"]["new"] == {"status": "Kunde"}


def test_sidecars_carry_everything_and_a_rebuild_restores_it(stack: Stack, tmp_path: Path) -> None:
    from dms.app.services import open_store
    from dms.catalog import Catalog
    from dms.rebuild import rebuild_catalog

    number = stack.admin.create(**{**PERSON, "first_name": "Rebekka", "external_number": "REBUILD-1"})["number"]
    services = stack.app.extensions["dms"]
    before = services.catalog.customers.get(number)
    catalog = Catalog(f"sqlite:///{tmp_path / 'rebuilt.db'}")
    catalog.create_schema()
    try:
        counts = rebuild_catalog(open_store(stack.settings), catalog)
        assert counts["skipped"] == 0
        restored = catalog.customers.get(number)
        assert restored == before
        assert restored.bank_accounts[0]["iban"] == DE_IBAN and restored.birth_date.isoformat() == "1950-04-12"
        # the keys for duplicate search are rebuilt too
        found = catalog.customers.candidates(name_key="rebekka mustermann", address_key="musterstr 12|12345|berlin|de")
        assert number in [c.number for c in found]
    finally:
        catalog.close()


# --- configuration ------------------------------------------------------------------------------


def _cli(env: dict[str, str], *args: str) -> Any:
    from dms.cli import main

    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_a_status_in_use_cannot_be_removed(tmp_path: Path) -> None:
    stack = Stack(tmp_path)
    try:
        for _ in range(2):
            stack.admin.create(name="Premiumkunde", status="Premium")
    finally:
        stack.close()
    assert _cli(stack.env, "check").exit_code == 0
    (tmp_path / "dms.toml").write_text(CONFIG.replace(', "Premium"]', "]"), encoding="utf-8")
    result = _cli(stack.env, "check")
    assert result.exit_code == 1
    assert "'Premium' wird noch von 2 Kunde(n) verwendet" in result.output
    serve = subprocess.run([sys.executable, "-m", "dms.cli", "serve", "--port", str(free_port())],
                           env={**os.environ, **stack.env}, capture_output=True, text=True, timeout=120)
    assert serve.returncode == 1 and "'Premium'" in serve.stderr and "läuft auf" not in serve.stdout


@pytest.mark.parametrize(("setting", "message"), [
    ('default_status = "Stammkunde"', "default_status = 'Stammkunde' steht nicht in statuses"),
    ('default_group = "VIP"', "default_group = 'VIP' steht nicht in groups"),
    ('auto_status_on_invoice = "Bezahlt"', "auto_status_on_invoice = 'Bezahlt'"),
    ('[customers.attributes.x]\ntype = "farbe"', "type 'farbe' ist unbekannt"),
])
def test_a_wrong_customer_configuration_is_reported(tmp_path: Path, setting: str, message: str) -> None:
    config = tmp_path / "dms.toml"
    config.write_text(f"[customers]\n{setting}\n", encoding="utf-8")
    result = _cli({"DMS_DATA_DIR": str(tmp_path / "data"), "DMS_CONFIG": str(config)}, "check")
    assert result.exit_code == 1 and message in result.output, result.output
