"""Customer import and export (issue 14): `dms customers import|export|template` through click's CliRunner,
`/api/v1/customers/import|export` through the Flask test client; real files, a real catalog.

The big file: 1,000 generated customers with exactly 7 bad rows. The dry run reports exactly those 7 (row
and column) and writes nothing; the corrected file imports completely; a re-import with `--update` changes
only the rows that changed (counted in the audit trail).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner

from dms.cli import main
from dms.config import Settings
from dms.web import create_app

CONFIG = """
[customers]
groups = ["Standard", "Hausnotruf", "Pflege"]
branches = ["Zentrale", "Nord"]

[customers.attributes.vertragsart]
label = "Vertragsart"
type = "choice"
choices = ["Basis", "Komfort", "Premium"]

[customers.attributes.notrufknopf]
label = "Notrufknopf"
type = "bool"

[customers.attributes.schluessel]
label = "Schlüsselnummer"
type = "text"
regex = "S-[0-9]{4}"
"""

HEADER = ["Kundennummer", "Art", "Name", "Anrede", "Vorname", "Nachname", "Geburtsdatum", "Status", "Filiale",
          "Gruppen", "Tags", "E-Mail", "Straße", "PLZ", "Ort", "Land", "IBAN", "BIC", "Attribut:vertragsart",
          "Attribut:notrufknopf", "Attribut:schluessel"]
FIRST = ["Anna", "Bernd", "Carla", "Dieter", "Erika", "Frank", "Gisela", "Heinz", "Ilse", "Jürgen", "Karin", "Lothar"]
LAST = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann"]
CITIES = [("10115", "Berlin"), ("20095", "Hamburg"), ("80331", "München"), ("50667", "Köln"), ("01067", "Dresden")]


def iban(bank: str, account: int) -> str:
    """A German IBAN with correct check digits (ISO 13616 mod 97), computed here independently of the code."""
    bban = f"{bank}{account:010d}"
    digits = int(bban + "131400")  # "DE00" moved to the end, D=13 E=14
    return f"DE{98 - digits % 97:02d}{bban}"


def person(i: int) -> dict[str, str]:
    """Customer i of the generated file: distinct name, birth date and street (no probable duplicates among
    them); every third a company."""
    postal, city = CITIES[i % len(CITIES)]
    row = {
        "Kundennummer": str(50000 + i), "Status": ["Kunde", "Interessent"][i % 2], "Filiale": "Zentrale",
        "Gruppen": "Standard", "Tags": f"los{i % 7}", "E-Mail": f"kunde{i}@example.org",
        "Straße": f"Lindenweg {i}", "PLZ": postal, "Ort": city, "Land": "DE",
        "IBAN": iban("37040044", 1000 + i), "BIC": "COBADEFFXXX",
        "Attribut:vertragsart": ["Basis", "Komfort", "Premium"][i % 3], "Attribut:notrufknopf": ["ja", "nein"][i % 2],
        "Attribut:schluessel": f"S-{i:04d}",
    }
    if i % 3 == 2:
        row.update({"Art": "Firma", "Name": f"{LAST[i % len(LAST)]} Pflegedienst {i} GmbH"})
    else:
        row.update({"Art": "Privatperson", "Anrede": ["Frau", "Herr"][i % 2], "Vorname": FIRST[i % len(FIRST)],
                    "Nachname": f"{LAST[i % len(LAST)]}-{i}",
                    "Geburtsdatum": (date(1930, 1, 1) + timedelta(days=9 * i)).strftime("%d.%m.%Y")})
    return row


# row index (0-based in the data) → (the bad change, the column the report must name)
BAD: dict[int, tuple[dict[str, str], str]] = {
    11: ({"PLZ": "1234A"}, "PLZ"),
    150: ({"IBAN": "DE00370400440532013000"}, "IBAN"),
    301: ({"Geburtsdatum": "31.02.1980"}, "Geburtsdatum"),
    444: ({"Status": "VIP"}, "Status"),
    600: ({"Kundennummer": "50599"}, "Kundennummer"),  # the number of the row before: twice in the file
    777: ({"Attribut:vertragsart": "Gold"}, "Attribut:vertragsart"),
    958: ({"Name": "", "Vorname": "", "Nachname": "", "Art": "Privatperson"}, "Name"),  # 958 % 3 == 1: a person
}


def csv_bytes(rows: list[dict[str, str]], *, delimiter: str = ",", encoding: str = "utf-8-sig",
              header: list[str] = HEADER) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=header, delimiter=delimiter, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def generated(count: int = 1000, *, bad: bool) -> list[dict[str, str]]:
    rows = [person(i) for i in range(count)]
    if bad:
        for index, (change, _column) in BAD.items():
            rows[index] = {**rows[index], **change}
    return rows


@dataclass
class Office:
    """One data folder: the CLI (CliRunner, environment set per call) and the API (Flask test client)."""

    data_dir: Path
    env: dict[str, str]
    app: Any

    def cli(self, *args: str, code: int | None = 0) -> Any:
        result = CliRunner().invoke(main, ["customers", *args], env=self.env, catch_exceptions=False)
        if code is not None:
            assert result.exit_code == code, result.output
        return result

    @property
    def client(self) -> Any:
        return self.app.test_client()

    def customers(self, **params: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            page = self.client.get("/api/v1/customers", query_string={**params, "limit": 1000, "offset": len(found)})
            assert page.status_code == 200, page.text
            batch = page.json["customers"]
            found += batch
            if len(batch) < 1000:
                return found

    def audit(self, action: str) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            query = {"action": action, "limit": 500, **({"cursor": cursor} if cursor else {})}
            page = self.client.get("/api/v1/audit", query_string=query)
            assert page.status_code == 200, page.text
            entries += page.json["entries"]
            cursor = page.json.get("next_cursor")
            if not cursor:
                return entries


def _office(base: Path) -> Iterator[Office]:
    data = base / "data"
    config = base / "dms.toml"
    config.write_text(CONFIG, encoding="utf-8")
    env = {"DMS_DATA_DIR": str(data), "DMS_CONFIG": str(config)}
    app = create_app(Settings.from_env(env))
    try:
        yield Office(data, env, app)
    finally:
        app.extensions["dms"].close()


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    yield from _office(tmp_path)


# --- the generated 1,000 rows --------------------------------------------------------------------


def test_a_thousand_rows_dry_run_import_and_update(office: Office, tmp_path: Path) -> None:
    bad_file = tmp_path / "kunden-fehler.csv"
    bad_file.write_bytes(csv_bytes(generated(bad=True)))

    dry = office.cli("import", str(bad_file), "--dry-run", code=1)
    reported = {(int(line.split(",")[0].removeprefix("Zeile ")), line.split("„")[1].split("“")[0])
                for line in dry.output.splitlines() if line.startswith("Zeile ") and "Warnung" not in line}
    assert reported == {(index + 2, column) for index, (_, column) in BAD.items()}, dry.output  # header = row 1
    assert "1000 Zeilen geprüft (Probelauf): 993 gültig, 7 Fehler" in dry.output
    assert office.customers() == []

    refused = office.cli("import", str(bad_file), code=1)  # the real import: the same 7 errors, nothing written
    assert "7 Fehler" in refused.output and "nicht importiert" in refused.output
    assert office.customers() == [] and office.audit("customer.create") == []

    good = generated(bad=False)
    good_file = tmp_path / "kunden.csv"
    good_file.write_bytes(csv_bytes(good))
    done = office.cli("import", str(good_file))
    assert "1000 Zeilen importiert: 1000 gültig, 0 Fehler" in done.output and "neu 1000" in done.output
    customers = {c["number"]: c for c in office.customers()}
    assert len(customers) == 1000 and len(office.audit("customer.create")) == 1000
    erika = customers["50004"]  # i = 4: Erika Weber-4, born 1930-01-01 + 36 days, Dresden
    assert (erika["kind"], erika["name"], erika["birth_date"]) == ("natural", "Erika Weber-4", "1930-02-06")
    assert erika["addresses"][0]["postal_code"] == "01067" and erika["addresses"][0]["kind"] == "main"
    assert erika["attributes"] == {"vertragsart": "Komfort", "notrufknopf": True, "schluessel": "S-0004"}
    company = customers["50005"]
    assert (company["kind"], company["name"]) == ("legal", "Meyer Pflegedienst 5 GmbH")

    again = office.cli("import", str(good_file), code=1)  # the same numbers again without --update: errors
    assert "1000 Fehler" in again.output and "customer_exists" in again.output

    changed = [dict(r) for r in good]
    changed[3]["Ort"], changed[3]["PLZ"] = "Potsdam", "14467"
    changed[500]["Tags"] = "los3, vip"
    changed[999]["Attribut:vertragsart"] = "Basis"  # 999 % 3 == 0: was Basis already: unchanged
    changed[998]["Attribut:vertragsart"] = "Basis"  # was Premium
    good_file.write_bytes(csv_bytes(changed))
    updated = office.cli("import", str(good_file), "--update")
    assert "neu 0, geändert 3, unverändert 997" in updated.output
    entries = office.audit("customer.update")
    assert sorted(e["customer_number"] for e in entries) == ["50003", "50500", "50998"]
    assert office.client.get("/api/v1/customers/50003").json["addresses"][0]["city"] == "Potsdam"
    assert sorted(office.client.get("/api/v1/customers/50500").json["tags"]) == ["los3", "vip"]
    assert len(office.customers()) == 1000


# --- file formats --------------------------------------------------------------------------------


def test_windows_1252_with_semicolons_and_a_german_date(office: Office, tmp_path: Path) -> None:
    rows = [{"Kundennummer": "", "Vorname": "Jürgen", "Nachname": "Größ", "Geburtsdatum": "24.12.1950",
             "Straße": "Hauptstraße 5", "PLZ": "50667", "Ort": "Köln", "Attribut:schluessel": "S-0001"},
            {"Kundennummer": "", "Name": "Bäckerei Schäfer e.K.", "Art": "Firma", "Straße": "Marktplatz 1",
             "PLZ": "8001", "Ort": "Zürich", "Land": "CH", "Attribut:schluessel": "S-0002"}]
    path = tmp_path / "alt.csv"
    path.write_bytes(csv_bytes(rows, delimiter=";", encoding="cp1252"))
    assert "ü".encode("cp1252") in path.read_bytes()  # really Windows-1252, not UTF-8
    result = office.cli("import", str(path))
    assert "neu 2" in result.output
    by_name = {c["name"]: c for c in office.customers()}
    assert set(by_name) == {"Jürgen Größ", "Bäckerei Schäfer e.K."}
    assert by_name["Jürgen Größ"]["birth_date"] == "1950-12-24"
    assert by_name["Jürgen Größ"]["addresses"][0]["street"] == "Hauptstraße 5"
    assert by_name["Bäckerei Schäfer e.K."]["addresses"][0]["country"] == "CH"


def test_errors_name_row_and_column_as_the_file_spells_them(office: Office, tmp_path: Path) -> None:
    header = ["Kd.-Nr.", "Firma", "Postleitzahl", "Ort", "Unbekannt"]
    path = tmp_path / "spalten.csv"
    path.write_bytes(csv_bytes([{"Kd.-Nr.": "1", "Firma": "A GmbH"}], header=header))
    unknown = office.cli("import", str(path), "--dry-run", code=1)
    assert "Zeile 1, Spalte „Unbekannt“: Unbekannte Spalte" in unknown.output

    header = header[:-1]
    path.write_bytes(csv_bytes([{"Kd.-Nr.": "1", "Firma": "A GmbH", "Postleitzahl": "123", "Ort": "Berlin"},
                                {"Kd.-Nr.": "2", "Firma": "", "Postleitzahl": "10115", "Ort": "Berlin"}],
                               header=header))
    result = office.cli("import", str(path), "--dry-run", code=1)
    assert "Zeile 2, Spalte „Postleitzahl“" in result.output
    assert "Zeile 3, Spalte „Firma“" in result.output
    assert office.customers() == []


def test_duplicates_warn_but_numbers_taken_are_errors(office: Office, tmp_path: Path) -> None:
    first = [{**person(0), "Kundennummer": "70001"}]
    path = tmp_path / "eins.csv"
    path.write_bytes(csv_bytes(first))
    office.cli("import", str(path))
    twin = {**person(0), "Kundennummer": "", "Nachname": "Mueller-0", "E-Mail": "zwilling@example.org",
            "IBAN": "", "BIC": ""}  # ü/ue, same birth date and address: a probable duplicate
    path.write_bytes(csv_bytes([twin, {**twin, "Vorname": "Anne"}]))
    result = office.cli("import", str(path))
    assert "[Warnung]" in result.output and "70001" in result.output and "neu 2" in result.output
    response = office.client.post("/api/v1/customers/import?dry_run=1",
                                  data={"file": (io.BytesIO(csv_bytes([{**person(0), "Kundennummer": "70001"}])),
                                                 "k.csv")})
    report = response.json
    assert response.status_code == 200 and report["written"] is False
    assert [(e["row"], e["column"], e["code"]) for e in report["errors"]] == [(2, "Kundennummer", "customer_exists")]


# --- export --------------------------------------------------------------------------------------


def test_export_honours_the_filters_and_carries_the_attributes(office: Office, tmp_path: Path) -> None:
    rows = generated(30, bad=False)
    rows[4]["Attribut:vertragsart"] = "Premium"
    path = tmp_path / "k.csv"
    path.write_bytes(csv_bytes(rows))
    office.cli("import", str(path))
    wanted = [r for r in rows if r["Status"] == "Interessent" and r["Attribut:vertragsart"] == "Premium"]
    assert 2 <= len(wanted) < 15

    out = tmp_path / "export.xlsx"
    office.cli("export", "--format", "xlsx", "--status", "Interessent", "--attr", "vertragsart=Premium", "-o",
               str(out))
    sheet = openpyxl.load_workbook(out, read_only=True).active
    table = [[c if c is not None else "" for c in row] for row in sheet.iter_rows(values_only=True)]
    header, body = table[0], table[1:]
    assert "Attribut:vertragsart" in header and "Attribut:schluessel" in header
    assert sorted(r[header.index("Kundennummer")] for r in body) == sorted(r["Kundennummer"] for r in wanted)
    assert {r[header.index("Attribut:vertragsart")] for r in body} == {"Premium"}
    assert all(r[header.index("PLZ")].isdigit() and len(r[header.index("PLZ")]) == 5 for r in body)  # text, "01067"

    response = office.client.get("/api/v1/customers/export", query_string={"format": "csv", "status": "Interessent",
                                                                             "attr.vertragsart": "Premium"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    lines = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))
    assert len(lines) == 1 + len(wanted)
    assert len(office.audit("customer.export")) == 2

    # the export imports again unchanged (an XLSX round trip)
    again = office.cli("import", str(out), "--update")
    assert f"neu 0, geändert 0, unverändert {len(wanted)}" in again.output


def test_templates_and_formula_safe_cells(office: Office, tmp_path: Path) -> None:
    csv_template = office.client.get("/api/v1/customers/import/template?format=csv")
    assert csv_template.status_code == 200
    header = csv_template.data.decode("utf-8-sig").strip().split(";")
    assert header[:4] == ["Kundennummer", "Externe Nummer", "Art", "Name"]
    assert "Attribut:vertragsart" in header
    xlsx = office.client.get("/api/v1/customers/import/template?format=xlsx")
    book = openpyxl.load_workbook(io.BytesIO(xlsx.data))
    assert book.sheetnames == ["Kunden", "Hinweise"]
    out = tmp_path / "vorlage.csv"
    office.cli("template", "-o", str(out))
    assert out.read_bytes() == csv_template.data

    row = {"Name": "=HYPERLINK(\"http://x\")", "Art": "Firma", "Attribut:schluessel": "S-0003"}
    path = tmp_path / "formel.csv"
    path.write_bytes(csv_bytes([row]))
    office.cli("import", str(path))
    exported = office.client.get("/api/v1/customers/export?format=csv").data.decode("utf-8-sig")
    assert "'=HYPERLINK" in exported
    sheet = openpyxl.load_workbook(io.BytesIO(office.client.get("/api/v1/customers/export?format=xlsx").data)).active
    cell = sheet.cell(row=2, column=4)
    assert cell.value.startswith("=HYPERLINK") and cell.data_type == "s"


def test_the_api_imports_all_or_nothing(office: Office) -> None:
    rows = generated(5, bad=False)
    bad = [*rows, {**person(9), "IBAN": "DE00123"}]
    response = office.client.post("/api/v1/customers/import", data={"file": (io.BytesIO(csv_bytes(bad)), "k.csv")})
    report = response.json
    assert response.status_code == 200 and report["written"] is False and report["dry_run"] is False
    assert [(e["row"], e["column"]) for e in report["errors"]] == [(7, "IBAN")]
    assert office.customers() == []
    response = office.client.post("/api/v1/customers/import", data={"file": (io.BytesIO(csv_bytes(rows)), "k.csv")})
    assert response.json["written"] is True and response.json["created"] == 5
    assert response.json["numbers"] == [r["Kundennummer"] for r in rows]
    garbage = office.client.post("/api/v1/customers/import", data={"file": (io.BytesIO(b"\x00\x01PK"), "x.bin")})
    assert garbage.status_code == 200 and garbage.json["errors"][0]["code"] == "unreadable_file"
    missing = office.client.post("/api/v1/customers/import", data={})
    assert missing.status_code == 400


def test_the_export_masks_ibans_without_customers_bank_and_imports_back(office: Office, tmp_path: Path) -> None:
    from dms.identity.repository import IdentityRepository

    path = tmp_path / "k.csv"
    path.write_bytes(csv_bytes(generated(3, bad=False)))
    office.cli("import", str(path))
    identity = IdentityRepository.for_catalog(office.app.extensions["dms"].catalog)
    reader = identity.create_token("leser", ["customers:read"])[1]
    banker = identity.create_token("bank", ["customers:read", "customers:bank"])[1]
    secured = create_app(Settings.from_env({**office.env, "DMS_AUTH_MODE": "users"}))
    try:
        def export(token: str) -> list[dict[str, str]]:
            response = secured.test_client().get("/api/v1/customers/export?format=csv",
                                                 headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200, response.text
            return list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))

        masked, full = export(reader), export(banker)
        assert [r["IBAN"] for r in full] == [iban("37040044", 1000 + i) for i in range(3)]
        assert [r["IBAN"] for r in masked] == ["**** " + r["IBAN"][-4:] for r in full]
        forbidden = secured.test_client().post("/api/v1/customers/import", data={"file": (io.BytesIO(b"N"), "k.csv")},
                                               headers={"Authorization": f"Bearer {reader}"})
        assert forbidden.status_code == 403
    finally:
        secured.extensions["dms"].close()
    out = tmp_path / "maskiert.csv"
    out.write_text("\n".join([";".join(masked[0]), *(";".join(r.values()) for r in masked)]), encoding="utf-8")
    again = office.cli("import", str(out), "--update")  # the masked IBAN stands for the stored account
    assert "neu 0, geändert 0, unverändert 3" in again.output
