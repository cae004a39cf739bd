"""Merging customers (issue #14): `POST /api/v1/customers/<number>/merge` on the real app (embedded
backends, Flask test client), mail through the gateway's filing function, a rebuild from the store."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest

from dms.catalog import Catalog
from dms.catalog.customer_aliases import CustomerAliases
from dms.config import Settings
from dms.rebuild import rebuild_catalog
from dms.storage import keys
from dms.web import create_app
from mail_gateway.filing import file_message
from mail_gateway.model import Envelope
from mail_gateway.settings import MailSettings
from tests.docgen import make_pdf

TERMINAL = {"filed", "needs_review", "failed"}


class Site:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.client = app.test_client()
        self.services = app.extensions["dms"]

    def customer(self, **body: Any) -> str:
        response = self.client.post("/api/v1/customers", json={**body, "force": True})
        assert response.status_code == 201, response.text
        return response.json["number"]

    def wait(self, document_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + 60
        while (document := self.client.get(f"/api/v1/documents/{document_id}").json)["status"] not in TERMINAL:
            assert time.monotonic() < deadline, document
            time.sleep(0.05)
        return document

    def upload(self, number: str, *lines: str) -> str:
        pdf = make_pdf(["Rechnung", f"Kundennummer {number}", *lines])
        response = self.client.post("/api/v1/documents", data={"file": (io.BytesIO(pdf), f"{lines[0]}.pdf"),
                                                              "customer_number": number})
        assert response.status_code == 202, response.text
        return self.wait(response.json["id"])["id"]

    def file_ids(self, number: str) -> set[str]:
        response = self.client.get(f"/api/v1/customers/{number}/file")
        assert response.status_code == 200, response.text
        return {d["id"] for folder in response.json["folders"] for d in folder["documents"]}

    def audit(self, number: str, action: str) -> list[dict[str, Any]]:
        return self.client.get(f"/api/v1/audit?customer={number}&action={action}").json["entries"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    app = create_app(Settings.from_env({"DMS_DATA_DIR": str(tmp_path_factory.mktemp("merge") / "data")}))
    try:
        yield Site(app)
    finally:
        app.extensions["dms"].close()


def address(street: str, kind: str = "main", postal_code: str = "04109", city: str = "Leipzig") -> dict[str, str]:
    return {"kind": kind, "street": street, "postal_code": postal_code, "city": city}


@dataclass
class Merged:
    survivor: str
    old: str
    old_documents: set[str]
    survivor_documents: set[str]
    response: Any


@pytest.fixture(scope="module")
def merged(site: Site) -> Merged:
    survivor = site.customer(
        kind="natural", first_name="Margarete", last_name="Lindqvist", emails=["m.lindqvist@example.org"],
        tags=["Stammkunde"], addresses=[address("Karl-Liebknecht-Straße 5")],
        contacts=[{"name": "Sven Lindqvist", "role": "Sohn", "phones": ["+49 341 111111"], "emergency": True}],
    )
    old = site.customer(
        kind="natural", first_name="Margarethe", last_name="Lindqvist", birth_date="1950-06-17",
        emails=["grete@example.org"], tags=["Altkunde"],
        addresses=[address("Karl-Liebknecht-Str. 5"), address("Postfach 12 34", "billing")],
        contacts=[{"name": "Dr. Ilse Berg", "role": "Hausärztin", "phones": ["+49 341 222222"]},
                  {"name": "Sven Lindqvist", "role": "Sohn", "phones": ["+49 341 111111"]}],
        bank_accounts=[{"iban": "DE89370400440532013000", "holder": "Margarethe Lindqvist"}],
        consents=[{"purpose": "email", "granted": True, "date": "2024-01-15", "source": "Formular"}],
    )
    old_documents = {site.upload(old, word, "Lieferung Kirschbaumholz") for word in ("Apfelkuchen", "Birnentarte")}
    survivor_documents = {site.upload(survivor, "Quittenbrot")}
    response = site.client.post(f"/api/v1/customers/{old}/merge", json={"into": survivor, "reason": "Dublette"})
    return Merged(survivor, old, old_documents, survivor_documents, response)


def test_the_merge_keeps_every_document_under_the_survivor(site: Site, merged: Merged) -> None:
    assert merged.response.status_code == 200, merged.response.text
    body = merged.response.json
    assert body["documents"] == 2 and body["customer"]["number"] == merged.survivor
    assert (body["merged"]["old_number"], body["merged"]["number"]) == (merged.old, merged.survivor)
    assert site.file_ids(merged.survivor) == merged.old_documents | merged.survivor_documents
    for document_id in merged.old_documents:
        assert site.client.get(f"/api/v1/documents/{document_id}").json["customer_number"] == merged.survivor
    found = site.client.get(f"/api/v1/search?q=Kirschbaumholz&customer={merged.survivor}").json
    assert {hit["id"] for hit in found["hits"]} == merged.old_documents
    assert site.client.get(f"/api/v1/search?q=Kirschbaumholz&customer={merged.old}").json["hits"] == []


def test_contacts_addresses_and_the_rest_move_to_the_survivor(site: Site, merged: Merged) -> None:
    customer = site.client.get(f"/api/v1/customers/{merged.survivor}").json
    assert [c["name"] for c in customer["contacts"]] == ["Sven Lindqvist", "Dr. Ilse Berg"]  # deduplicated
    assert [(a["kind"], a["street"]) for a in customer["addresses"]] == [
        ("main", "Karl-Liebknecht-Straße 5"), ("billing", "Postfach 12 34")]  # the same address once
    assert customer["emails"] == ["m.lindqvist@example.org", "grete@example.org"]
    assert customer["tags"] == ["Altkunde", "Stammkunde"]
    assert customer["birth_date"] == "1950-06-17"  # the survivor had none
    assert customer["first_name"] == "Margarete"  # its own is kept
    assert [a["iban"] for a in customer["bank_accounts"]] == ["DE89370400440532013000"]
    assert [c["purpose"] for c in customer["consents"]] == ["email"]


def test_the_old_number_redirects_to_the_survivor(site: Site, merged: Merged) -> None:
    for suffix in ("", "/file"):
        response = site.client.get(f"/api/v1/customers/{merged.old}{suffix}?x=1")
        assert response.status_code == 308, response.text
        assert response.headers["Location"] == f"/api/v1/customers/{merged.survivor}{suffix}?x=1"
        assert response.json["error"]["code"] == "customer_merged"
        assert response.json["error"]["number"] == merged.survivor
    followed = site.client.get(f"/api/v1/customers/{merged.old}", follow_redirects=True)
    assert followed.status_code == 200 and followed.json["number"] == merged.survivor
    listed = site.client.get("/api/v1/customers?q=Lindqvist").json["customers"]
    assert [c["number"] for c in listed] == [merged.survivor]
    # the number is taken for good, and a second merge of it is refused
    again = site.client.post("/api/v1/customers", json={"name": "Neu", "number": merged.old})
    assert again.status_code == 409 and again.json["error"]["code"] == "customer_merged"
    put = site.client.put(f"/api/v1/customers/{merged.old}", json={"name": "Neu aus dem ERP"})
    assert put.status_code == 409 and put.json["error"]["number"] == merged.survivor
    twice = site.client.post(f"/api/v1/customers/{merged.old}/merge", json={"into": merged.survivor})
    assert twice.status_code == 409 and twice.json["error"]["code"] == "customer_merged"


def test_the_history_of_both_stays(site: Site, merged: Merged) -> None:
    assert len(site.audit(merged.old, "customer.create")) == 1  # the old entries keep the old number
    [on_old] = site.audit(merged.old, "customer.merge")
    [on_survivor] = site.audit(merged.survivor, "customer.merge")
    assert on_old["details"]["into"] == merged.survivor and on_old["details"]["reason"] == "Dublette"
    assert on_survivor["details"]["merged_number"] == merged.old and on_survivor["details"]["documents"] == 2
    moved = site.client.get(f"/api/v1/audit?action=document.refile&customer={merged.survivor}").json["entries"]
    assert {e["document_id"] for e in moved if e["details"].get("via") == "merge"} == merged.old_documents


def test_mail_to_the_old_file_address_lands_in_the_survivor(site: Site, merged: Merged) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "kunde@example.org", f"akte+{merged.old}@akte.example", "Nachtrag"
    msg["Message-ID"] = make_msgid(domain="example.org")
    msg.set_content("Anbei die Rechnung.")
    msg.add_attachment(make_pdf(["Rechnung", "Pflaumenmus"]), maintype="application", subtype="pdf",
                       filename="pflaumen.pdf")
    envelope = Envelope(mail_from="kunde@example.org", rcpt_tos=(f"akte+{merged.old}@akte.example",),
                        received_at=datetime.now(UTC), via="smtp")
    outcome = file_message(site.services, msg.as_bytes(policy=SMTP_POLICY), envelope,
                           MailSettings.from_settings(site.services.settings))
    assert outcome.status == "filed", outcome
    assert outcome.route is not None and outcome.route.customer_number == merged.survivor
    assert merged.survivor in outcome.route.reason and merged.old in outcome.route.reason
    for document_id in (outcome.mail_document_id, *(p.document_id for p in outcome.parts)):
        assert site.wait(str(document_id))["customer_number"] == merged.survivor


def test_a_rebuild_restores_the_alias(site: Site, merged: Merged, tmp_path: Path) -> None:
    store = site.services.store
    sidecars = [keys.load(store.get(key)) for key in store.list_keys("customers/")]
    [marker] = [record for record in sidecars if record.get("merged_into")]
    assert (marker["number"], marker["merged_into"]) == (merged.old, merged.survivor)
    assert "name" not in marker and "addresses" not in marker  # no second copy of personal data
    catalog = Catalog(f"sqlite:///{tmp_path / 'rebuilt.db'}")
    try:
        catalog.create_schema()
        rebuild_catalog(site.services.store, catalog)
        assert catalog.customers.find(merged.old) is None
        assert CustomerAliases(catalog.db).resolve(merged.old) == merged.survivor
        restored = {d.id for d in catalog.documents.query(customer_number=merged.survivor)}
        assert merged.old_documents <= restored
    finally:
        catalog.close()


def test_what_a_merge_refuses(site: Site) -> None:
    one = site.customer(name="Einzelstück KG", kind="legal")
    cases = [
        (one, {"into": one}, 409, "merge_into_itself"),
        (one, {"into": "K-GIBT-ES-NICHT"}, 404, "customer_not_found"),
        ("K-GIBT-ES-NICHT", {"into": one}, 404, "customer_not_found"),
        (one, {}, 400, "invalid_request"),
        (one, {"into": one, "unbekannt": 1}, 400, "invalid_request"),
    ]
    for number, body, status, code in cases:
        response = site.client.post(f"/api/v1/customers/{number}/merge", json=body)
        assert (response.status_code, response.json["error"]["code"]) == (status, code), (body, response.text)


def test_the_old_numbers_pages_and_history_lead_to_the_survivor(site: Site, merged: Merged) -> None:
    for suffix in ("", "/verlauf", "/stammdaten"):
        page = site.client.get(f"/kunden/{merged.old}{suffix}")
        assert page.status_code == 308, (suffix, page.status_code)
        assert page.headers["Location"].endswith(f"/kunden/{merged.survivor}{suffix}")
    timeline = site.client.get(f"/api/v1/customers/{merged.survivor}/timeline?type=change&limit=200").json
    created = [e for e in timeline["entries"] if e.get("action") == "customer.create"
               or (e.get("change") or {}).get("action") == "customer.create"]
    assert len(created) == 2, timeline["entries"]  # the survivor's own and the merged customer's
