"""Office and mail extractors on files generated here: detection, text, refusals, preview."""

from __future__ import annotations

import io
import shutil
import struct
import sys
import zipfile
from collections.abc import Callable
from datetime import UTC, date, datetime
from email.message import EmailMessage

import docx
import openpyxl
import pypdfium2 as pdfium
import pytest
from aspose.email_foss import msg as mapi
from msoffcrypto.format.ooxml import OOXMLFile

from dms.config import Settings
from dms.errors import IngestError
from ingest.context import IngestContext
from ingest.extractors import containers
from ingest.extractors.containers import DOCX, EML, ENCRYPTED_OFFICE, MSG, ODS, ODT, XLSX, refine_mime
from ingest.extractors.mail import extract_eml, extract_outlook_msg
from ingest.extractors.office import (
    extract_docx,
    extract_odf,
    extract_xlsx,
    refuse_encrypted_office,
)
from ingest.extractors.office_preview import office_pdf_preview
from ingest.stages.detect import sniff

Extractor = Callable[[IngestContext, Settings], None]
ODF_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
)


def run(extractor: Extractor, data: bytes, filename: str = "datei") -> IngestContext:
    ctx = IngestContext("doc-1", 1, filename, "key", data=data)
    extractor(ctx, Settings())
    return ctx


def refused(extractor: Extractor, data: bytes) -> str:
    with pytest.raises(IngestError) as err:
        run(extractor, data)
    return err.value.code


def make_docx() -> bytes:
    document = docx.Document()
    document.sections[0].header.paragraphs[0].text = "Kopfzeile Zaunkoenig"
    document.add_paragraph("Erster Absatz Apfelbaum")
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text = "Zelle Birnbaum"
    table.cell(0, 1).text = "Zelle Kirschbaum"
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def make_xlsx() -> bytes:
    workbook = openpyxl.Workbook()
    first = workbook.active
    first.title = "Umsatz"
    first.append(["Kunde", "Betrag", "Datum"])
    first.append(["Quittenhof", 1250.0, date(2024, 1, 31)])
    second = workbook.create_sheet("Notizen")
    second["B3"] = "Mirabellenweg"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def make_odf(mime: str, body: str, manifest: str = "") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), mime)  # stored, first, as ODF requires
        archive.writestr("content.xml", f'<?xml version="1.0"?><office:document-content {ODF_NS}>'
                         f"<office:body>{body}</office:body></office:document-content>")
        archive.writestr("META-INF/manifest.xml", manifest or "<manifest/>")
    return buffer.getvalue()


def make_odt() -> bytes:
    return make_odf(ODT, "<office:text><text:h>Titel Holunder</text:h><text:p>Eins<text:s text:c='2'/>"
                         "<text:span>Schlehe</text:span><text:tab/>Ende</text:p></office:text>")


def make_ods() -> bytes:
    return make_odf(ODS, "<office:spreadsheet><table:table table:name='Blatt1'><table:table-row>"
                         "<table:table-cell><text:p>Hagebutte</text:p></table:table-cell>"
                         "<table:table-cell><text:p>Zeile1</text:p><text:p>Zeile2</text:p></table:table-cell>"
                         "<table:table-cell table:number-columns-repeated='1000'/></table:table-row></table:table>"
                         "<table:table table:name='Blatt2'><table:table-row><table:table-cell>"
                         "<text:p>Sanddorn</text:p></table:table-cell></table:table-row></table:table>"
                         "</office:spreadsheet>")


def make_eml() -> bytes:
    message = EmailMessage()
    message["Subject"] = "Schadenmeldung Vertrag 4711"
    message["From"] = "Erika Müller <erika@example.de>"
    message["To"] = "akte@example.de"
    message["Date"] = "Tue, 05 Mar 2024 09:15:00 +0100"
    message.set_content("Guten Tag, anbei die Unterlagen. Stichwort Wacholder.")
    message.add_alternative("<html><body><p>Guten Tag <b>Wacholder</b></p></body></html>", subtype="html")
    message.add_attachment(b"%PDF-1.4 fake", maintype="application", subtype="pdf", filename="gutachten.pdf")
    return bytes(message)


def make_msg() -> bytes:
    message = mapi.MapiMessage.create("Rückruf Bitte Tannenzapfen", "Bitte rufen Sie zurück. Stichwort Eberesche.")
    message.set_property(mapi.PropertyId.SENDER_NAME, "Max Mustermann")
    message.set_property(mapi.PropertyId.SENDER_EMAIL_ADDRESS, "max@example.de")
    message.set_property(mapi.PropertyId.MESSAGE_DELIVERY_TIME, datetime(2024, 3, 5, 8, 30, tzinfo=UTC))
    message.add_recipient("akte@example.de", display_name="Kundenakte")
    message.add_attachment("vollmacht.pdf", b"%PDF-1.4 fake", mime_type="application/pdf")
    return message.to_bytes()


def encrypt_ooxml(data: bytes) -> bytes:
    out = io.BytesIO()
    OOXMLFile(io.BytesIO(data)).encrypt("geheim", out)
    return out.getvalue()


def test_refine_mime_names_each_container_by_its_content() -> None:
    subject_first = b"Subject: Hallo\nMessage-ID: <1@x.de>\nFrom: a@x.de\n\nText\n"
    samples = {DOCX: make_docx(), XLSX: make_xlsx(), ODT: make_odt(), ODS: make_ods(), EML: make_eml(),
               MSG: make_msg(), ENCRYPTED_OFFICE: encrypt_ooxml(make_docx())}
    for expected, data in samples.items():
        assert refine_mime(sniff(data), data, "upload.bin") == expected, expected
    assert sniff(subject_first) == "text/plain"  # libmagic misses mails that do not start with From/Received
    assert refine_mime("text/plain", subject_first, "nachricht.txt") == EML
    # Wrong or missing names never decide, in either direction.
    assert refine_mime("application/zip", make_docx(), "bericht.pdf") == DOCX
    assert refine_mime("text/plain", b"Notiz: Einkauf\nMilch\n", "notiz.eml") == "text/plain"
    plain_zip = io.BytesIO()
    with zipfile.ZipFile(plain_zip, "w") as archive:
        archive.writestr("liesmich.txt", "Hallo")
    assert refine_mime("application/zip", plain_zip.getvalue(), "bericht.docx") == "application/zip"
    assert refine_mime("application/zip", b"PK\x03\x04kaputt", "x.docx") == "application/zip"


def test_docx_text_covers_body_tables_and_headers() -> None:
    ctx = run(extract_docx, make_docx())
    text = ctx.pages[0].text
    for word in ("Apfelbaum", "Birnbaum", "Kirschbaum", "Zaunkoenig"):
        assert word in text
    assert "Zelle Birnbaum\tZelle Kirschbaum" in text
    assert [p.method for p in ctx.pages] == ["text_layer"]


def test_xlsx_text_has_a_page_per_sheet_with_german_dates() -> None:
    ctx = run(extract_xlsx, make_xlsx())
    assert [p.number for p in ctx.pages] == [1, 2]
    assert ctx.pages[0].text.splitlines()[0] == "Tabelle: Umsatz"
    assert "Quittenhof\t1250\t31.01.2024" in ctx.pages[0].text
    assert "Mirabellenweg" in ctx.pages[1].text


def test_odt_and_ods_text() -> None:
    odt = run(extract_odf, make_odt()).pages
    assert len(odt) == 1 and "Titel Holunder\nEins  Schlehe\tEnde" in odt[0].text
    ods = run(extract_odf, make_ods()).pages
    assert [p.text for p in ods] == ["Tabelle: Blatt1\nHagebutte\tZeile1 Zeile2", "Tabelle: Blatt2\nSanddorn"]


def test_eml_text_has_headers_body_and_attachment_names() -> None:
    text = run(extract_eml, make_eml()).pages[0].text
    assert "Betreff: Schadenmeldung Vertrag 4711" in text
    assert "Von: Erika Müller <erika@example.de>" in text
    assert "Datum: 05.03.2024 09:15" in text
    assert "Stichwort Wacholder" in text and "<b>" not in text
    assert "- gutachten.pdf" in text


def test_eml_html_only_and_unknown_charset() -> None:
    html = EmailMessage()
    html["From"] = "a@example.de"
    html["Subject"] = "Nur HTML"
    html.set_content("<html><head><style>p{color:red}</style></head><body><p>Ginster&nbsp;Heide</p>"
                     "<script>alert(1)</script></body></html>", subtype="html")
    text = run(extract_eml, bytes(html)).pages[0].text
    assert "Ginster Heide" in text and "color" not in text and "alert" not in text
    odd = b"From: a@example.de\nSubject: x\nContent-Type: text/plain; charset=x-unbekannt\n\nSchwarzdorn\n"
    assert "Schwarzdorn" in run(extract_eml, odd).pages[0].text


def test_msg_text_via_aspose_email() -> None:
    text = run(extract_outlook_msg, make_msg()).pages[0].text
    assert "Betreff: Rückruf Bitte Tannenzapfen" in text
    assert "Stichwort Eberesche" in text
    assert "Von: Max Mustermann <max@example.de>" in text and "An: Kundenakte <akte@example.de>" in text
    assert "Datum: 05.03.2024 08:30" in text
    assert "- vollmacht.pdf" in text
    assert "extract_msg" not in sys.modules  # GPL: must not be used by the product


def test_msg_without_plain_body_uses_the_html_body() -> None:
    message = mapi.MapiMessage.create("Nur HTML", "")
    message.body_html = "<html><body><p>Faulbaum&nbsp;<b>Hasel</b></p></body></html>"
    assert "Faulbaum Hasel" in run(extract_outlook_msg, message.to_bytes()).pages[0].text
    legacy = mapi.MapiMessage.create("HTML in cp1252", "")
    legacy.set_property(0x1013, mapi.PropertyTypeCode.PTYP_BINARY, "<p>Grüße aus Köln</p>".encode("cp1252"))
    legacy.set_property(0x3FDE, mapi.PropertyTypeCode.PTYP_INTEGER32, 1252)  # PR_INTERNET_CPID
    assert "Grüße aus Köln" in run(extract_outlook_msg, legacy.to_bytes()).pages[0].text


def test_msg_headers_prefer_smtp_and_fall_back_to_display_properties() -> None:
    exchange = mapi.MapiMessage.create("Intern", "Text")
    exchange.set_property(mapi.PropertyId.SENDER_NAME, "Max Mustermann")
    exchange.set_property(mapi.PropertyId.SENDER_EMAIL_ADDRESS, "/O=EXCHANGELABS/OU=EXCHANGE/CN=RECIPIENTS/CN=MAX")
    exchange.set_property(0x5D01, mapi.PropertyTypeCode.PTYP_STRING, "max@example.de")  # PR_SENDER_SMTP_ADDRESS
    recipient = exchange.add_recipient("/O=EXCHANGELABS/OU=EXCHANGE/CN=RECIPIENTS/CN=AKTE", display_name="Akte")
    recipient.set_property(0x39FE, mapi.PropertyTypeCode.PTYP_STRING, "akte@example.de")  # PR_SMTP_ADDRESS
    text = run(extract_outlook_msg, exchange.to_bytes()).pages[0].text
    assert "Von: Max Mustermann <max@example.de>" in text and "An: Akte <akte@example.de>" in text
    assert "EXCHANGELABS" not in text
    names_only = mapi.MapiMessage.create("Nur Namen", "Text")
    names_only.set_property(mapi.PropertyId.SENDER_NAME, "Erika Müller")
    names_only.set_property(mapi.PropertyId.DISPLAY_TO, "Kundenakte; Sachbearbeitung")
    names_only.set_property(0x0039, mapi.PropertyTypeCode.PTYP_TIME, datetime(2024, 3, 5, 8, 30, tzinfo=UTC))
    text = run(extract_outlook_msg, names_only.to_bytes()).pages[0].text
    assert "Von: Erika Müller\nAn: Kundenakte; Sachbearbeitung\nDatum: 05.03.2024 08:30\nBetreff: Nur Namen" in text


def _nested_msg(levels: int) -> bytes:
    inner = mapi.MapiMessage.create("Ebene 0", "innen")
    for level in range(1, levels + 1):
        outer = mapi.MapiMessage.create(f"Ebene {level}", "außen")
        outer.add_embedded_message_attachment(inner)
        inner = outer
    inner.add_attachment("", b"ohne Namen")
    return inner.to_bytes()


def test_msg_attachments_are_listed_without_converting_their_content() -> None:
    text = run(extract_outlook_msg, _nested_msg(3)).pages[0].text
    assert text.endswith("Anhänge:\n- Ebene 2.msg\n- (ohne Namen, application/octet-stream)")
    assert "innen" not in text


def test_msg_nested_beyond_the_depth_limit_is_refused() -> None:
    # converted recursively, each level would grow the next by a third: archives.max_depth stops it
    with pytest.raises(IngestError) as refused:
        run(extract_outlook_msg, _nested_msg(59))
    assert refused.value.code == "archive_bomb"


def test_msg_with_only_rtf_text_warns() -> None:
    message = mapi.MapiMessage.create("Nur RTF", "")
    message.set_property(0x1009, mapi.PropertyTypeCode.PTYP_BINARY, b"\x00" * 16)  # PR_RTF_COMPRESSED
    ctx = run(extract_outlook_msg, message.to_bytes())
    assert ctx.pages[0].text == "Betreff: Nur RTF" and any("RTF" in warning for warning in ctx.warnings)


def _directory_entry(data: bytes, name: str) -> int:
    """Offset of the CFB directory entry (128 bytes, UTF-16 name first) with this name."""
    offset = data.find(name.encode("utf-16-le") + b"\x00\x00")
    assert offset > 0 and offset % 128 == 0, name
    return offset


def test_msg_directory_bombs_are_corrupt_documents() -> None:
    message = mapi.MapiMessage.create("Bombe", "Text")
    message.add_recipient("akte@example.de")
    message.add_attachment("gross.bin", bytes(range(256)) * 400)
    data = message.to_bytes()
    # A storage sharing another's subtree: the reader would walk (and read) it twice, or forever in a cycle.
    shared = bytearray(data)
    recipient = _directory_entry(data, "__recip_version1.0_#00000000")
    attachment = _directory_entry(data, "__attach_version1.0_#00000000")
    shared[attachment + 76:attachment + 80] = data[recipient + 76:recipient + 80]  # child id
    # Small streams pointed at the big attachment's sector chain: every one would be read in full.
    amplified = bytearray(data)
    big = _directory_entry(data, "__substg1.0_37010102")
    for name in ("__substg1.0_0037001F", "__substg1.0_1000001F"):  # subject, body
        entry = _directory_entry(data, name)
        amplified[entry + 116:entry + 128] = data[big + 116:big + 128]  # start sector, size
    for hostile in (shared, amplified):
        assert refused(extract_outlook_msg, bytes(hostile)) == "corrupt_document"


@pytest.mark.parametrize(
    ("extractor", "data"),
    [
        (extract_docx, make_docx()[:3000]),
        (extract_docx, b"PK\x03\x04" + b"\x00" * 100),
        (extract_xlsx, make_xlsx()[:-200]),
        (extract_xlsx, make_docx()),
        (extract_odf, make_odt()[:200]),
        (extract_odf, make_odf(ODT, "<office:text><text:p>offen</office:text>")),
        (extract_outlook_msg, make_msg()[:2000]),
        (extract_outlook_msg, b"kurz"),  # short bytes must never be taken for a path name
        (extract_outlook_msg, containers.OLE_MAGIC + b"\x00" * 600),
        (extract_eml, b"\x00\x01\x02 kein Mailkopf"),
        (refuse_encrypted_office, containers.OLE_MAGIC + b"\x00" * 600),
    ],
)
def test_malformed_files_are_corrupt_documents(extractor: Extractor, data: bytes) -> None:
    assert refused(extractor, data) == "corrupt_document"


def test_xml_entity_bomb_in_docx_is_refused() -> None:
    source = zipfile.ZipFile(io.BytesIO(make_docx()))
    bomb = (b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
            b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            b"<w:body><w:p><w:r><w:t>&b;</w:t></w:r></w:p></w:body></w:document>")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for name in source.namelist():
            target.writestr(name, bomb if name == "word/document.xml" else source.read(name))
    assert refused(extract_docx, buffer.getvalue()) == "corrupt_document"


def test_encrypted_office_files_are_refused() -> None:
    encrypted = encrypt_ooxml(make_xlsx())
    for extractor in (refuse_encrypted_office, extract_docx, extract_xlsx):
        assert refused(extractor, encrypted) == "encrypted_document"
    manifest = '<manifest:manifest><manifest:encryption-data manifest:checksum="x"/></manifest:manifest>'
    assert refused(extract_odf, make_odf(ODT, "", manifest)) == "encrypted_document"


def test_zip_bombs_are_refused_before_unpacking() -> None:
    big = io.BytesIO()
    with zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", zipfile.ZipFile(io.BytesIO(make_docx())).read("[Content_Types].xml"))
        with archive.open("word/document.xml", "w") as entry:
            chunk = b"\x00" * (1024 * 1024)
            for _ in range(containers.MAX_UNCOMPRESSED // len(chunk) + 1):
                entry.write(chunk)
    assert len(big.getvalue()) < 1024 * 1024
    assert refused(extract_docx, big.getvalue()) == "too_large"
    many = io.BytesIO()
    with zipfile.ZipFile(many, "w") as archive:
        for index in range(containers.MAX_ENTRIES + 1):
            archive.writestr(f"x/{index}", b"")
    for extractor in (extract_docx, extract_xlsx, extract_odf):
        assert refused(extractor, many.getvalue()) == "too_large"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("soffice") is None and shutil.which("libreoffice") is None,
                    reason="LibreOffice (optional) is not installed")
def test_office_pdf_preview_via_libreoffice() -> None:
    pdf = office_pdf_preview(make_docx(), ".docx", timeout=180)
    assert pdf is not None and pdf.startswith(b"%PDF")
    document = pdfium.PdfDocument(pdf)
    try:
        page = document[0]
        assert "Apfelbaum" in page.get_textpage().get_text_bounded()
    finally:
        document.close()


def test_zip_entries_that_lie_about_their_size_are_corrupt() -> None:
    """zipfile stops at the declared size and then fails the CRC, so the cap cannot be talked around."""
    source = zipfile.ZipFile(io.BytesIO(make_docx()))
    name = b"word/document.xml"
    padded = source.read("word/document.xml") + b"<!--" + b"x" * 5_000_000 + b"-->"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.namelist():
            target.writestr(entry, padded if entry == name.decode() else source.read(entry))
    data = bytearray(buffer.getvalue())
    for signature, name_at, header, size_at in ((b"PK\x03\x04", 26, 30, 22), (b"PK\x01\x02", 28, 46, 24)):
        position = data.find(signature)
        while position != -1:
            length = struct.unpack_from("<H", data, position + name_at)[0]
            if data[position + header:position + header + length] == name:
                struct.pack_into("<I", data, position + size_at, 1000)  # declare 1000 bytes uncompressed
            position = data.find(signature, position + 4)
    assert refused(extract_docx, bytes(data)) == "corrupt_document"
