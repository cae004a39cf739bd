"""Probable duplicates on create (issue #14): `POST /api/v1/customers` and the creating `PUT` answer 409
`probable_duplicate` with the candidates, unless `force: true` (which the audit entry records).
The real app on embedded backends (Flask test client), real catalog."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dms.config import Settings
from dms.web import create_app


class Site:
    def __init__(self, app: Any) -> None:
        self.client = app.test_client()

    def create(self, **body: Any) -> Any:
        return self.client.post("/api/v1/customers", json=body)

    def created(self, **body: Any) -> str:
        response = self.create(**body)
        assert response.status_code == 201, response.text
        return response.json["number"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    app = create_app(Settings.from_env({"DMS_DATA_DIR": str(tmp_path_factory.mktemp("dupes") / "data")}))
    try:
        yield Site(app)
    finally:
        app.extensions["dms"].close()


def address(street: str, postal_code: str, city: str, kind: str = "main") -> dict[str, str]:
    return {"kind": kind, "street": street, "postal_code": postal_code, "city": city}


def probable(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 409, response.text
    error = response.json["error"]
    assert error["code"] == "probable_duplicate" and "force" in error["message"], error
    for candidate in error["candidates"]:
        assert set(candidate) == {"number", "name", "reason", "score"} and 0 < candidate["score"] <= 1
    return error["candidates"]


def test_same_first_and_last_name_and_birth_date(site: Site) -> None:
    first = site.created(kind="natural", first_name="Hannelore", last_name="Kästner", birth_date="1961-04-12",
                         addresses=[address("Lindenweg 3", "80331", "München")])
    # another address, another spelling of the umlaut: still the same person
    candidates = probable(site.create(kind="natural", first_name="Hannelore", last_name="Kaestner",
                                      birth_date="1961-04-12", addresses=[address("Am Hang 9", "01067", "Dresden")]))
    assert [c["number"] for c in candidates] == [first]
    assert candidates[0]["score"] == 1.0 and "Geburtsdatum" in candidates[0]["reason"]
    # a different birth date is another person
    site.created(kind="natural", first_name="Hannelore", last_name="Kästner", birth_date="1988-09-30")


def test_umlaut_and_typo_variants_at_the_same_address(site: Site) -> None:
    first = site.created(kind="natural", salutation="Herr", first_name="Jürgen", last_name="Schäfer",
                         addresses=[address("Musterstraße 12", "10115", "Berlin")])
    umlaut = probable(site.create(kind="natural", first_name="Juergen", last_name="Schaefer",
                                  addresses=[address("Musterstr. 12", "10115", "Berlin")]))
    assert [c["number"] for c in umlaut] == [first] and "Anschrift" in umlaut[0]["reason"]
    typo = probable(site.create(kind="natural", first_name="Jürgen", last_name="Schäffer",
                                addresses=[address("Muster Straße 12", "10115", "Berlin")]))
    assert [c["number"] for c in typo] == [first] and typo[0]["score"] < 1


def test_legal_form_variants_at_the_same_address(site: Site) -> None:
    first = site.created(kind="legal", name="Brückner Haustechnik GmbH",
                         addresses=[address("Industriestraße 7", "70565", "Stuttgart")])
    candidates = probable(site.create(kind="legal", name="Firma Brueckner Haustechnik G.m.b.H.",
                                      addresses=[address("Industriestr. 7", "70565", "Stuttgart")]))
    assert [c["number"] for c in candidates] == [first]
    assert candidates[0]["name"] == "Brückner Haustechnik GmbH"
    # the creating PUT (master data from an ERP) is checked the same way
    put = site.client.put("/api/v1/customers/K-DUP-1", json={
        "kind": "legal", "name": "Brückner Haustechnik Gesellschaft mit beschränkter Haftung",
        "addresses": [address("Industriestrasse 7", "70565", "Stuttgart")]})
    assert [c["number"] for c in probable(put)] == [first]
    assert site.client.get("/api/v1/customers/K-DUP-1").status_code == 404  # nothing was created


def test_a_namesake_elsewhere_is_no_duplicate(site: Site) -> None:
    site.created(kind="natural", first_name="Thomas", last_name="Wagenknecht",
                 addresses=[address("Hauptstraße 1", "50667", "Köln")])
    site.created(kind="natural", first_name="Thomas", last_name="Wagenknecht",
                 addresses=[address("Bahnhofstraße 20", "20095", "Hamburg")])
    site.created(kind="legal", name="Wagenknecht Bau GmbH", addresses=[address("Hauptstraße 1", "50667", "Köln")])


def test_force_creates_it_and_the_audit_entry_says_so(site: Site) -> None:
    first = site.created(kind="natural", first_name="Ottilie", last_name="Brandstätter", birth_date="1947-02-03")
    body = {"kind": "natural", "first_name": "Ottilie", "last_name": "Brandstaetter", "birth_date": "1947-02-03"}
    probable(site.create(**body))
    forced = site.create(**body, force=True)
    assert forced.status_code == 201, forced.text
    number = forced.json["number"]
    assert number != first and "force" not in forced.json
    entries = site.client.get(f"/api/v1/audit?customer={number}&action=customer.create").json["entries"]
    assert [e["details"]["forced_duplicate_of"] for e in entries] == [[first]]
    # without a probable duplicate, `force` is simply not needed and nothing is recorded
    plain = site.create(kind="natural", first_name="Ottokar", last_name="Einzigartig", force=True)
    assert plain.status_code == 201, plain.text
    entries = site.client.get(f"/api/v1/audit?customer={plain.json['number']}&action=customer.create").json
    assert "forced_duplicate_of" not in entries["entries"][0]["details"]
    # force must be a yes/no
    assert site.create(**body, force="vielleicht").status_code == 400
