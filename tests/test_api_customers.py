"""Customers and their files, through the HTTP API of a running server."""

from __future__ import annotations

from tests.live import Api

DEFAULT_FOLDERS = [
    "01 Stammdaten & Verträge",
    "02 Korrespondenz",
    "03 Angebote & Aufträge",
    "04 Rechnungen",
    "05 Lieferscheine",
    "06 Service & Wartung",
    "07 Reklamationen",
    "99 Posteingang",
]


def test_customer_gets_the_next_free_number_and_a_file_with_the_aktenplan(api: Api) -> None:
    suggested = api.get("/customers/next-number").json()["number"]
    created = api.create_customer("Müller & Söhne KG", kind="legal", tags=["Premium"])
    assert created["number"] == suggested
    assert created["status"] == "Kunde"
    assert created["tags"] == ["Premium"]
    assert api.get("/customers/next-number").json()["number"] == str(int(suggested) + 1)

    fetched = api.get(f"/customers/{created['number']}").json()
    assert fetched["name"] == "Müller & Söhne KG"

    file = api.get(f"/customers/{created['number']}/file").json()
    assert [f["name"] for f in file["folders"]] == DEFAULT_FOLDERS
    assert all(f["documents"] == [] for f in file["folders"])


def test_a_given_number_is_used_but_never_twice(api: Api) -> None:
    created = api.create_customer("Erika Mustermann", number="77001", kind="natural", status="Interessent")
    assert created["number"] == "77001"
    assert created["kind"] == "natural"
    again = api.post("/customers", json={"name": "Jemand anderes", "number": "77001"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "customer_exists"
    # the suggestion skips numbers given by hand
    assert int(api.get("/customers/next-number").json()["number"]) > 77001


def test_customer_validation_errors_are_json(api: Api) -> None:
    missing_name = api.post("/customers", json={"number": "123456"})
    assert missing_name.status_code == 400
    assert missing_name.json()["error"]["code"] == "invalid_request"
    bad_kind = api.post("/customers", json={"name": "X", "kind": "robot"})
    assert bad_kind.status_code == 400
    not_json = api.post("/customers", data="name=X")
    assert not_json.status_code == 400
    unknown = api.get("/customers/99999999")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "customer_not_found"


def test_customer_status_and_tags_can_be_changed(api: Api, customer: dict) -> None:
    changed = api.patch(f"/customers/{customer['number']}", json={"status": "ehemaliger Kunde", "tags": ["a", "b"]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["status"] == "ehemaliger Kunde"
    assert api.get(f"/customers/{customer['number']}").json()["tags"] == ["a", "b"]
    assert api.patch(f"/customers/{customer['number']}", json={"status": "VIP"}).status_code == 400
