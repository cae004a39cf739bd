"""Property tests of the parsers that read untrusted bytes: e-invoice XML (bare and in PDFs), mail
(.eml and .msg), ZIP containers (type detection and the office extractors) and file names.

Whatever arrives (random bytes, or a valid document with bytes flipped, cut, inserted or header fields
rewritten), a parser either returns a result or raises our `DmsError`, never another exception, and
within a few seconds (a SIGALRM timer turns a hang into a failure). File names from
`safe_filename` never carry path separators, NUL, control or bidi characters, are never empty, `.`
or `..`, at most 255 characters long, and cleaning twice changes nothing.
"""

from __future__ import annotations

import contextlib
import io
import re
import signal
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from urllib.parse import quote

import docx
import openpyxl
from aspose.email_foss import msg as mapi
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dms.config import Settings
from dms.errors import DmsError
from dms.validation import MAX_FILENAME, safe_filename
from ingest.context import IngestContext
from ingest.einvoice import detect_invoice_syntax, extract_invoice_xml_from_pdf, parse_invoice_xml
from ingest.extractors.containers import DOCM, DOCX, PPTX, XLSX, open_zip, refine_mime
from ingest.extractors.einvoice import extract_xml_invoice
from ingest.extractors.mail import extract_eml, extract_outlook_msg
from ingest.extractors.office import extract_docx, extract_pptx, extract_xlsx
from tests.einvoice_docs import cii_invoice, zugferd_pdf
from tests.test_einvoice import ZUGFERD1_XML, ubl_xml

SETTINGS = Settings()
SECONDS = 10  # per example: far above what a sane input takes, far below a hang
FAST = settings(max_examples=150, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SLOW = settings(max_examples=40, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@contextlib.contextmanager
def time_limit(seconds: float = SECONDS) -> Iterator[None]:
    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"parser ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_extractor(extractor: Callable[[IngestContext, Settings], None], data: bytes, name: str) -> IngestContext | None:
    """The extractor's context, or None when it refused with our DmsError; anything else fails the test."""
    ctx = IngestContext("doc-prop", 1, name, "key", data=data)
    with time_limit():
        try:
            extractor(ctx, SETTINGS)
        except DmsError:
            return None
    assert isinstance(ctx.pages, list)
    return ctx


# --- mutations of valid documents ----------------------------------------------------------------------

_HEADERS = (b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06")
# Offsets of the CRC/size/count/offset fields in local, central and end-of-central-directory records.
_FIELDS = {b"PK\x03\x04": (14, 18, 22, 26), b"PK\x01\x02": (16, 20, 24, 28, 42), b"PK\x05\x06": (8, 10, 12, 16)}


@st.composite
def mutated(draw: st.DrawFn, bases: list[bytes]) -> bytes:
    """One of `bases` with up to 6 edits: flipped bytes, a cut, inserted bytes, rewritten zip header fields."""
    data = bytearray(draw(st.sampled_from(bases)))
    for _ in range(draw(st.integers(0, 6))):
        if not data:
            break
        op = draw(st.sampled_from(["flip", "cut", "insert", "field", "field"]))
        position = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[position] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[position:position + draw(st.integers(1, 4096))]
        elif op == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=64))
        else:
            signature = draw(st.sampled_from(_HEADERS))
            found = [m.start() for m in re.finditer(re.escape(signature), bytes(data))]
            if not found:
                continue
            start = draw(st.sampled_from(found)) + draw(st.sampled_from(_FIELDS[signature]))
            value = draw(st.sampled_from([0, 1, 0xFFFF, 0xFFFFFFFF, 150 * 1024 * 1024])
                         | st.integers(0, 0xFFFFFFFF))
            if start + 4 <= len(data):
                struct.pack_into("<I", data, start, value)
    return bytes(data)


# --- e-invoices -----------------------------------------------------------------------------------------

INVOICES = [cii_invoice("RE-1", "10001", "Muster GmbH", note="Zitronenfalter"), ubl_xml(), ubl_xml(credit=True),
            ZUGFERD1_XML]


def parse_or_refuse(data: bytes) -> None:
    with time_limit():
        try:
            invoice = parse_invoice_xml(data)
        except DmsError:
            return
    assert invoice.syntax in ("CII", "UBL")
    invoice.search_text()


@FAST
@given(st.binary(max_size=4096))
def test_invoice_parser_on_arbitrary_bytes(data: bytes) -> None:
    parse_or_refuse(data)
    assert detect_invoice_syntax(data) in (None, "CII", "UBL")


@FAST
@given(mutated(INVOICES))
def test_invoice_parser_on_mutated_invoices(data: bytes) -> None:
    parse_or_refuse(data)
    assert detect_invoice_syntax(data) in (None, "CII", "UBL")
    run_extractor(extract_xml_invoice, data, "rechnung.xml")  # the pipeline's path, rendition included


@SLOW
@given(mutated([zugferd_pdf(INVOICES[0], ["Rechnung RE-1"])]))
def test_embedded_invoice_search_on_mutated_pdfs(data: bytes) -> None:
    with time_limit():
        found = extract_invoice_xml_from_pdf(data)
    assert found is None or isinstance(found, bytes)


def test_invoice_size_limit_is_a_parameter() -> None:
    xml = INVOICES[0]
    assert parse_invoice_xml(xml, max_bytes=len(xml)).invoice_number == "RE-1"
    try:
        parse_invoice_xml(xml, max_bytes=len(xml) - 1)
    except DmsError as exc:
        assert exc.code == "too_large" and "max_xml_mb" in exc.message
    else:
        raise AssertionError("not refused")


# --- mail -------------------------------------------------------------------------------------------------


def eml_with_attachment(name: str) -> bytes:
    """A raw mail whose attachment name (RFC 2231, percent-encoded) may hold any character, CR and LF too."""
    return (
        "From: a@example.de\nTo: b@example.de\nSubject: Anhang\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain; charset=utf-8\n\nText\n'
        "--b\nContent-Type: application/pdf\n"
        f"Content-Disposition: attachment; filename*=utf-8''{quote(name.encode('utf-8', 'surrogatepass'), safe='')}\n"
        "Content-Transfer-Encoding: base64\n\nJVBERi0=\n--b--\n"
    ).encode()


def make_eml(attachment: str = "gutachten.pdf") -> bytes:
    message = EmailMessage()
    message["Subject"] = "Schadenmeldung Vertrag 4711"
    message["From"] = "Erika Müller <erika@example.de>"
    message["To"] = "akte@example.de"
    message["Date"] = "Tue, 05 Mar 2024 09:15:00 +0100"
    message.set_content("Guten Tag, anbei die Unterlagen.")
    message.add_alternative("<html><body><p>Guten Tag <b>Wacholder</b></p></body></html>", subtype="html")
    message.add_attachment(b"%PDF-1.4 fake", maintype="application", subtype="pdf", filename=attachment)
    forwarded = EmailMessage()
    forwarded["Subject"], forwarded["From"] = "Weitergeleitet", "a@example.de"
    forwarded.set_content("innen")
    message.add_attachment(forwarded)
    return bytes(message)


def make_msg() -> bytes:
    message = mapi.MapiMessage.create("Rückruf Tannenzapfen", "Bitte rufen Sie zurück.")
    message.add_recipient("akte@example.de", display_name="Kundenakte")
    message.add_attachment("vollmacht.pdf", b"%PDF-1.4 fake", mime_type="application/pdf")
    return message.to_bytes()


MAILS = [make_eml(), b"From: a@example.de\nTo: b@example.de\nSubject: kurz\n\nText\n",
         b"From: a@b\nContent-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: message/rfc822\n\nFrom: c@d\n\n"
         b"innen\n--x--\n"]


@FAST
@given(st.one_of(st.binary(max_size=2048), mutated(MAILS)))
def test_eml_extractor_on_arbitrary_and_mutated_mails(data: bytes) -> None:
    run_extractor(extract_eml, data, "mail.eml")


@SLOW
@given(mutated([make_msg()]))
def test_msg_extractor_on_mutated_messages(data: bytes) -> None:
    run_extractor(extract_outlook_msg, data, "mail.msg")


HOSTILE_NAME_CHARS = list("/\\\x00\x01\x1f\x7f\x85\u202e\u202d\u2066\u200f\u061c.. :*?\"<>|\t\n\r") + list("aéß漢")


@FAST
@given(st.text(alphabet=st.sampled_from(HOSTILE_NAME_CHARS) | st.characters(), max_size=300))
def test_attachment_names_in_mail_text_are_clean(name: str) -> None:
    ctx = run_extractor(extract_eml, eml_with_attachment(name), "mail.eml")
    if ctx is None:
        return
    listed = ctx.pages[0].text.split("Anhänge:\n", 1)[1].splitlines()
    for line in listed:
        shown = line.removeprefix("- ")
        if shown.startswith("(ohne Namen"):
            continue
        assert_clean_filename(shown)


# --- file names ---------------------------------------------------------------------------------------------

_CONTROL_OR_BIDI = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u061c]")


def assert_clean_filename(name: str) -> None:
    assert name and name not in (".", "..")
    assert "/" not in name and "\\" not in name and "\x00" not in name
    assert not _CONTROL_OR_BIDI.search(name), repr(name)
    assert len(name) <= MAX_FILENAME


@FAST
@given(st.one_of(
    st.text(alphabet=st.sampled_from(HOSTILE_NAME_CHARS), max_size=40),
    st.text(max_size=600),
    st.lists(st.sampled_from(["..", ".", "a", "b.pdf", "", " "]), max_size=8).map("/".join),
    st.tuples(st.text(max_size=300), st.sampled_from(["", ".pdf", ".tar.gz", "."])).map("".join),
))
def test_safe_filename_properties(name: str) -> None:
    cleaned = safe_filename(name)
    assert_clean_filename(cleaned)
    assert safe_filename(cleaned) == cleaned


def test_safe_filename_examples() -> None:
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("rechnung\u202efdp.exe") == "rechnungfdp.exe"
    assert safe_filename("..") == "unbenannt"
    assert safe_filename(None) == "unbenannt"


# --- ZIP containers -----------------------------------------------------------------------------------------


def make_docx() -> bytes:
    document = docx.Document()
    document.add_paragraph("Erster Absatz Apfelbaum")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def make_xlsx() -> bytes:
    workbook = openpyxl.Workbook()
    workbook.active.append(["Kunde", "Betrag"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def make_pptx() -> bytes:
    from tests.hostile.test_hostile_archives import presentation

    return presentation("Folie Eins")


ZIPS = {DOCX: make_docx(), XLSX: make_xlsx(), PPTX: make_pptx()}
EXTRACTORS = {DOCX: extract_docx, XLSX: extract_xlsx, PPTX: extract_pptx}


@FAST
@given(st.sampled_from(sorted(ZIPS)), st.data())
def test_zip_detection_and_office_extractors_on_mutated_zips(mime: str, data: st.DataObject) -> None:
    blob = data.draw(mutated([ZIPS[mime]]))
    with time_limit():
        refined = refine_mime("application/zip", blob, "datei.bin")
    assert isinstance(refined, str)
    ctx = run_extractor(EXTRACTORS[mime], blob, "datei")
    if ctx is not None:  # accepted: then every entry's real size was within the limits
        with time_limit(), open_zip(blob, "Datei", SETTINGS) as archive:
            assert sum(_readable_size(archive, info) for info in archive.infolist()) <= 200 * 1024 * 1024


def _readable_size(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> int:
    """An entry's real size; 0 for a broken entry the extractor did not need (a mutated name in
    the central directory that no longer matches its local header)."""
    try:
        return len(archive.read(info))
    except (zipfile.BadZipFile, zlib.error, EOFError):
        return 0


def test_refine_mime_names_macro_enabled_and_presentation_types() -> None:
    from tests.hostile.test_hostile_archives import macro_enabled

    assert refine_mime("application/zip", ZIPS[PPTX], "x") == PPTX
    assert refine_mime("application/zip", macro_enabled("docm", "Text"), "x") == DOCM


def test_pptx_slides_in_presentation_order() -> None:
    ctx = run_extractor(extract_pptx, ZIPS[PPTX], "folien.pptx")
    assert ctx is not None
    assert [page.text for page in ctx.pages] == ["Folie Eins", "Zweite Folie"]


def test_zip_entry_count_is_checked_before_parsing_the_directory() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index in range(10_001):
            archive.writestr(f"x/{index}", b"")
    try:
        open_zip(buffer.getvalue(), "ZIP-Datei", SETTINGS)
    except DmsError as exc:
        assert exc.code == "too_large"
    else:
        raise AssertionError("not refused")


def test_msg_whose_directory_chain_loops_is_refused_before_it_is_parsed() -> None:
    """A directory sector chain that loops back stands for a directory of millions of entries."""
    data = bytearray(make_msg())
    sector_size = 1 << struct.unpack_from("<H", data, 0x1E)[0]
    fat_sector = struct.unpack_from("<I", data, 0x4C)[0]
    first = sector = struct.unpack_from("<I", data, 0x30)[0]
    fat_at = (fat_sector + 1) * sector_size
    while (following := struct.unpack_from("<I", data, fat_at + sector * 4)[0]) < 0xFFFFFFFA:
        sector = following
    struct.pack_into("<I", data, fat_at + sector * 4, first)  # the last directory sector points to the first
    with time_limit(5):
        try:
            run = extract_outlook_msg(IngestContext("d", 1, "x.msg", "k", data=bytes(data)), SETTINGS)
        except DmsError as exc:
            assert exc.code == "too_large", exc.message
        else:
            raise AssertionError(f"not refused: {run}")
