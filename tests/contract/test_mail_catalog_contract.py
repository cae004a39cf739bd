"""The email-in parts of the catalog (issue #11): received mail, document links, customers'
mail addresses; run against SQLite (embedded) and a fresh PostgreSQL database (server)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from dms.catalog import Catalog
from dms.errors import NotFound, PreconditionFailed, ValidationError
from tests.contract.test_catalog_contract import FOLDERS, _customer, _document

# --- received mail --------------------------------------------------------------------------


def test_a_mail_key_is_claimed_once_and_found_again(catalog: Catalog) -> None:
    received = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    first, created = catalog.mail.claim(
        "key-1", message_id="<a@b.de>", sender="scanner@buero.example", recipients=["akte+10001@akte.example"],
        subject="Scan", via="smtp", received_at=received, envelope={"peer": "127.0.0.1"},
    )
    assert created
    assert (first.status, first.document_ids, first.route, first.forwarded) == ("filing", [], {}, [])
    assert first.received_at == received and first.updated_at is not None
    again, created = catalog.mail.claim("key-1", sender="jemand@anders.example", subject="Anders")
    assert not created
    assert again == first  # the first claim's values count
    assert catalog.mail.find("key-1") == first
    assert catalog.mail.find("key-2") is None
    assert catalog.mail.get(first.id) == first
    with pytest.raises(NotFound) as err:
        catalog.mail.get(str(uuid.uuid4()))
    assert err.value.code == "mail_not_found"


def test_concurrent_claims_of_one_mail_make_one_record(catalog: Catalog) -> None:
    catalogs = [Catalog(catalog.url) for _ in range(4)]  # own engines, like separate processes
    try:
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda i: catalogs[i % 4].mail.claim("same", subject=f"Versuch {i}"), range(8)))
    finally:
        for other in catalogs:
            other.close()
    assert sum(created for _, created in results) == 1
    assert len({record.id for record, _ in results}) == 1
    assert catalog.mail.count() == 1


def test_a_mail_record_is_updated_and_listed_newest_first(catalog: Catalog) -> None:
    start = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    ids = [catalog.mail.claim(f"k{i}", received_at=start + timedelta(minutes=i))[0].id for i in range(4)]
    updated = catalog.mail.update(
        ids[1], status="filed", customer_number="10001", document_ids=["d1", "d2"], mail_document_id="m1",
        route={"customer_number": "10001", "rule": "recipient"}, sender_auth={"spf": "pass"},
        forwarded=[{"sender": "kunde@example.com", "how": "inline"}],
    )
    assert (updated.status, updated.document_ids, updated.route["rule"]) == ("filed", ["d1", "d2"], "recipient")
    assert catalog.mail.get(ids[1]) == updated
    catalog.mail.update(ids[2], status="quarantined", code="malformed_mime", reason="Kaputt.", raw_key="mail/q/x")
    assert [m.id for m in catalog.mail.list()] == ids[::-1]
    assert [m.id for m in catalog.mail.list(limit=2, offset=1)] == [ids[2], ids[1]]
    assert [m.id for m in catalog.mail.list(status="filed")] == [ids[1]]
    assert [m.id for m in catalog.mail.list(customer_number="10001")] == [ids[1]]
    assert catalog.mail.list(status="filed", customer_number="10002") == []
    assert (catalog.mail.count(), catalog.mail.count(status="quarantined")) == (4, 1)
    quarantined = catalog.mail.get(ids[2])
    assert (quarantined.code, quarantined.raw_key) == ("malformed_mime", "mail/q/x")
    assert quarantined.to_dict()["received_at"] == (start + timedelta(minutes=2)).isoformat()
    with pytest.raises(ValueError):
        catalog.mail.update(ids[0], colour="blue")
    with pytest.raises(ValueError):
        catalog.mail.update(ids[0], status="verloren")
    with pytest.raises(NotFound):
        catalog.mail.update(str(uuid.uuid4()), status="filed")


def test_long_and_hostile_header_values_are_kept(catalog: Catalog) -> None:
    sender = "x" * 2000 + "@example.com"
    message_id = "<" + "m" * 3000 + ">"
    record, _ = catalog.mail.claim("hostile", sender=sender, subject="Betreff " * 500, message_id=message_id)
    assert catalog.mail.get(record.id).sender == sender


# --- links between documents ----------------------------------------------------------------


def test_links_go_both_ways_in_link_order_and_only_once(catalog: Catalog) -> None:
    customer = _customer(catalog)
    mail = _document(catalog, customer.number, title="Mail: Scan", folder="99 Eingang")
    first = _document(catalog, customer.number, title="Rechnung 1", folder="04 Rechnungen")
    second = _document(catalog, None, title="Unbekannt")
    catalog.relations.link(mail.id, first.id, "attachment", "mail")
    catalog.relations.link(mail.id, second.id, "attachment", "mail")
    catalog.relations.link(mail.id, first.id, "attachment", "mail")  # again: nothing new
    assert catalog.relations.related(mail.id) == [
        {"id": first.id, "kind": "attachment", "title": "Rechnung 1", "customer_number": customer.number,
         "folder": "04 Rechnungen", "restricted": False, "trashed": False},
        {"id": second.id, "kind": "attachment", "title": "Unbekannt", "customer_number": None, "folder": None,
         "restricted": False, "trashed": False},
    ]
    assert catalog.relations.related(first.id) == [
        {"id": mail.id, "kind": "mail", "title": "Mail: Scan", "customer_number": customer.number,
         "folder": "99 Eingang", "restricted": False, "trashed": False},
    ]
    assert catalog.relations.related(str(uuid.uuid4())) == []
    with pytest.raises(ValueError):
        catalog.relations.link(mail.id, mail.id, "attachment", "mail")


def test_concurrent_links_make_one_link(catalog: Catalog) -> None:
    mail, attachment = _document(catalog), _document(catalog)
    catalogs = [Catalog(catalog.url) for _ in range(4)]
    try:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda i: catalogs[i % 4].relations.link(mail.id, attachment.id, "attachment", "mail"),
                          range(8)))
    finally:
        for other in catalogs:
            other.close()
    assert [r["id"] for r in catalog.relations.related(mail.id)] == [attachment.id]
    assert [r["kind"] for r in catalog.relations.related(attachment.id)] == ["mail"]


# --- customers' mail addresses --------------------------------------------------------------


def test_customer_emails_are_kept_normalised_and_change_the_etag(catalog: Catalog) -> None:
    plain = _customer(catalog, "Ohne Adresse GmbH")
    assert plain.emails == []
    customer = catalog.customers.create(
        "Mit Adresse GmbH", folders=FOLDERS, emails=["Buchhaltung@Kunde.DE", "Anna Müller <anna@müller.de>",
                                                     "buchhaltung@kunde.de"],
    )
    assert customer.emails == ["buchhaltung@kunde.de", "anna@müller.de"]
    assert catalog.get_customer(customer.number).emails == customer.emails
    assert customer.to_dict()["emails"] == customer.emails
    changed = catalog.customers.update(customer.number, if_match=[customer.etag], emails=["neu@kunde.de"])
    assert changed.emails == ["neu@kunde.de"] and changed.etag != customer.etag
    with pytest.raises(PreconditionFailed):
        catalog.customers.update(customer.number, if_match=[customer.etag], emails=[])
    with pytest.raises(ValidationError) as err:
        catalog.customers.update(customer.number, emails=["kein Name"])
    assert err.value.details.get("field") == "emails"
    with pytest.raises(ValidationError):
        catalog.customers.create("Zu viele GmbH", folders=FOLDERS, emails=[f"a{i}@kunde.de" for i in range(21)])


def test_customers_are_found_by_exact_mail_address(catalog: Catalog) -> None:
    first = catalog.customers.create("Erste GmbH", folders=FOLDERS, emails=["info@kunde.de", "a_b@kunde.de"])
    second = catalog.customers.create("Zweite GmbH", folders=FOLDERS, emails=["INFO@kunde.de", "büro@müller.de"])
    catalog.customers.create("Dritte GmbH", folders=FOLDERS, emails=["xinfo@kunde.de", "info@kunde.de.example"])
    _customer(catalog, "Ohne GmbH")
    assert [c.number for c in catalog.customers.find_by_email("Info@Kunde.de")] == [first.number, second.number]
    assert [c.number for c in catalog.customers.find_by_email("a_b@kunde.de")] == [first.number]
    assert catalog.customers.find_by_email("axb@kunde.de") == []  # `_` is no wildcard
    assert [c.number for c in catalog.customers.find_by_email("BÜRO@müller.de")] == [second.number]
    assert catalog.customers.find_by_email("nfo@kunde.de") == []
    assert catalog.customers.find_by_email("%@kunde.de") == []
    assert catalog.customers.find_by_email("kein name") == []
    catalog.customers.update(first.number, emails=[])
    assert [c.number for c in catalog.customers.find_by_email("info@kunde.de")] == [second.number]


def test_customer_emails_survive_a_rebuild_from_the_sidecars(store, catalog: Catalog, tmp_path) -> None:
    from dms import sidecars
    from dms.rebuild import rebuild_catalog

    scratch = Catalog(f"sqlite:///{tmp_path / 'scratch.db'}")
    scratch.create_schema()
    try:
        customer = scratch.customers.create("Sidecar GmbH", folders=FOLDERS, emails=["post@sidecar.de"])
        sidecars.write_customer(store, customer)
    finally:
        scratch.close()
    assert rebuild_catalog(store, catalog)["customers"] == 1
    restored = catalog.get_customer(customer.number)
    assert restored.emails == ["post@sidecar.de"] and restored.etag == customer.etag
    assert [c.number for c in catalog.customers.find_by_email("post@sidecar.de")] == [customer.number]
