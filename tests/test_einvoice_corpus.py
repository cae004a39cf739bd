"""Optional tier over the shared e-invoice corpus (../shared/corpus/einvoices); skipped when absent."""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from dms.errors import IngestError
from ingest.einvoice import (
    InvoiceData,
    detect_invoice_syntax,
    extract_invoice_xml_from_pdf,
    parse_invoice_xml,
    render_invoice_html,
)

CORPUS = Path(__file__).resolve().parents[1].parent / "shared/corpus/einvoices"
SPECIAL = {"fail", "other", "unstructured"}

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(not CORPUS.is_dir(), reason=f"e-invoice corpus not found at {CORPUS}"),
]


def _files(where: str | None) -> list[Path]:
    """Corpus PDF/XML files; `where` is one of SPECIAL, or None for the valid invoices."""
    if not CORPUS.is_dir():
        return []
    found = []
    for path in sorted(CORPUS.rglob("*")):
        if not path.is_file() or path.suffix.lower() not in (".pdf", ".xml"):
            continue
        parts = set(path.relative_to(CORPUS).parts[:-1])
        if (where is None and not parts & SPECIAL) or (where is not None and where in parts):
            found.append(path)
    return found


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(CORPUS)) for p in paths]


def _invoice_xml(path: Path) -> bytes | None:
    data = path.read_bytes()
    return extract_invoice_xml_from_pdf(data) if path.suffix.lower() == ".pdf" else data


VALID = _files(None)
FAIL = _files("fail")
OTHER = _files("other")
UNSTRUCTURED = _files("unstructured")

# (invoice number, issue date, gross total, currency) read from the XML of a few corpus files.
KNOWN = {
    "ZUGFeRDv2/correct/intarsys/EN16931/zugferd_2p0_EN16931_Einfach.pdf":
        ("471102", datetime.date(2018, 3, 5), "529.87", "EUR"),
    "ZUGFeRDv2/correct/intarsys/EXTENDED/zugferd_2p0_EXTENDED_Fremdwaehrung.pdf":
        ("47110815", datetime.date(2018, 10, 31), "1021.91", "GBP"),
    "ZUGFeRDv2/correct/Mustangproject/MustangGnuaccountingBeispielRE-20201121_508.pdf":
        ("RE-20201121/508", datetime.date(2020, 11, 21), "571.04", "EUR"),
    "ZUGFeRDv2/correct/Mustangproject/testout-XR.xml":
        ("123", datetime.date(2020, 12, 22), "1.00", "EUR"),
    "ZUGFeRDv2/correct/FNFE-factur-x-examples/Avoir_FR_type381_BASIC.pdf":
        ("AV-2017-0005", datetime.date(2017, 11, 16), "233.47", "EUR"),
    "ZUGFeRDv2/correct/xml/ZUGFeRD-invoice_rabatte_4_abschlag_taxbasistotalamount.xml":
        ("ST-1496", datetime.date(2019, 7, 25), "231.37", "EUR"),
}


def test_corpus_present() -> None:
    assert VALID, "no valid invoices found in the corpus"


@pytest.mark.parametrize("path", VALID, ids=_ids(VALID))
def test_valid_invoice_yields_core_fields(path: Path) -> None:
    xml = _invoice_xml(path)
    assert xml is not None, "no e-invoice XML found"
    assert detect_invoice_syntax(xml) in ("CII", "UBL")
    invoice = parse_invoice_xml(xml)
    assert invoice.invoice_number
    assert isinstance(invoice.issue_date, datetime.date)
    assert isinstance(invoice.gross_total, Decimal)
    fields = invoice.to_fields()
    assert {"invoice_number", "issue_date", "gross_total"} <= fields.keys()
    assert invoice.search_text() and "<!DOCTYPE html>" in render_invoice_html(invoice, xml)


@pytest.mark.parametrize("rel", sorted(KNOWN))
def test_known_values(rel: str) -> None:
    path = CORPUS / rel
    if not path.is_file():
        pytest.skip(f"{rel} not in this corpus")
    invoice = parse_invoice_xml(_invoice_xml(path) or b"")
    number, issued, gross, currency = KNOWN[rel]
    assert (invoice.invoice_number, invoice.issue_date) == (number, issued)
    assert (invoice.gross_total, invoice.currency) == (Decimal(gross), currency)


def test_known_details() -> None:
    fremd = CORPUS / "ZUGFeRDv2/correct/intarsys/EXTENDED/zugferd_2p0_EXTENDED_Fremdwaehrung.pdf"
    if fremd.is_file():  # two TaxTotalAmount elements: GBP (invoice currency) and EUR
        assert parse_invoice_xml(_invoice_xml(fremd) or b"").tax_total == Decimal("163.16")
    credit = CORPUS / "ZUGFeRDv2/correct/FNFE-factur-x-examples/Avoir_FR_type381_BASIC.pdf"
    if credit.is_file():
        assert parse_invoice_xml(_invoice_xml(credit) or b"").document_type == "credit_note"
    einfach = CORPUS / "ZUGFeRDv2/correct/intarsys/EN16931/zugferd_2p0_EN16931_Einfach.pdf"
    if einfach.is_file():
        invoice = parse_invoice_xml(_invoice_xml(einfach) or b"")
        assert (invoice.seller_name, invoice.buyer_id) == ("Lieferant GmbH", "GE2020211")


@pytest.mark.parametrize("path", FAIL, ids=_ids(FAIL))
def test_fail_files_end_cleanly(path: Path) -> None:
    xml = _invoice_xml(path)
    if xml is None:
        return
    try:
        result = parse_invoice_xml(xml)
    except IngestError as err:
        assert err.code and err.message
    else:
        assert isinstance(result, InvoiceData)
        render_invoice_html(result, xml)


@pytest.mark.parametrize("path", OTHER, ids=_ids(OTHER))
def test_other_files_parse_without_crash(path: Path) -> None:
    """EICAR wrapped in invoice XML is just text: it must parse like any invoice."""
    data = path.read_bytes()
    try:
        invoice = parse_invoice_xml(data)
    except IngestError:
        if path.name.startswith("eicar"):
            raise
        return
    assert isinstance(invoice, InvoiceData)
    assert render_invoice_html(invoice, data).startswith("<!DOCTYPE html>")
    if path.name.startswith("eicar"):
        assert invoice.invoice_number and invoice.gross_total is not None


@pytest.mark.parametrize("path", UNSTRUCTURED, ids=_ids(UNSTRUCTURED))
def test_unstructured_pdf_has_no_invoice(path: Path) -> None:
    if path.suffix.lower() == ".pdf":
        assert extract_invoice_xml_from_pdf(path.read_bytes()) is None
    else:
        assert detect_invoice_syntax(path.read_bytes()) is None
