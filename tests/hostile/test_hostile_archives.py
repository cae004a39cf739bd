"""Hostile containers against a real `dms serve` (and `dms worker`): zip bombs whose headers lie,
too many entries, too high compression, mails nested in mails, and macro-enabled office files.

Every input is generated here. The limits are the shipped defaults of `[archives]` (10 000 entries,
200 MB uncompressed, ratio 200:1, depth 3). Each test asserts the document's final state with its
reason code, the peak RSS of the service's process tree while it worked (< 1024 MB), that the service
still answers, and that nothing large was written to the data or work folder.
"""

from __future__ import annotations

import io
import struct
import time
import uuid
import zipfile
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import docx
import openpyxl
import pytest
from aspose.email_foss import msg as mapi

from tests.hostile.conftest import MB, HostileStack

PEAK_LIMIT_MB = 1024
LARGEST_FILE_MB = 32  # no file in the data or work folder may come near an unpacked bomb

CONTENT_TYPES_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
VBA_TYPE = "application/vnd.ms-office.vbaProject"
VBA_REL = "http://schemas.microsoft.com/office/2006/relationships/vbaProject"


# --- generated inputs ---------------------------------------------------------------------------------


def word_document(text: str) -> bytes:
    document = docx.Document()
    document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def rewrite_zip(data: bytes, replace: dict[str, bytes], add: dict[str, bytes] | None = None) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for name in source.namelist():
            target.writestr(name, replace.get(name, source.read(name)))
        for name, content in (add or {}).items():
            target.writestr(name, content)
    return buffer.getvalue()


def declare_size(data: bytes, name: str, size: int) -> bytes:
    """Patch the uncompressed size of entry `name` in its local and its central header."""
    patched = bytearray(data)
    raw_name = name.encode()
    for signature, name_at, header, size_at in ((b"PK\x03\x04", 26, 30, 22), (b"PK\x01\x02", 28, 46, 24)):
        position = patched.find(signature)
        while position != -1:
            length = struct.unpack_from("<H", patched, position + name_at)[0]
            if patched[position + header:position + header + length] == raw_name:
                struct.pack_into("<I", patched, position + size_at, size)
            position = patched.find(signature, position + 4)
    return bytes(patched)


def docx_with_zero_entry(name: str, megabytes: int, text: str) -> bytes:
    """A DOCX with an extra entry of `megabytes` MB of zeros (deflate: about 1000:1), headers honest."""
    source = zipfile.ZipFile(io.BytesIO(word_document(text)))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for entry in source.namelist():
            target.writestr(entry, source.read(entry))
        with target.open(name, "w") as stream:
            zeros = bytes(MB)
            for _ in range(megabytes):
                stream.write(zeros)
    return buffer.getvalue()


def macro_enabled(kind: str, text: str) -> bytes:
    """A .docm/.xlsm/.pptm: the macro-free file with the macro-enabled main type and a dummy vbaProject.bin."""
    if kind == "docm":
        data, folder, main = word_document(text), "word", "document"
        main_type = "application/vnd.ms-word.document.macroEnabled.main+xml"
    elif kind == "xlsm":
        workbook = openpyxl.Workbook()
        workbook.active["A1"] = text
        buffer = io.BytesIO()
        workbook.save(buffer)
        data, folder, main = buffer.getvalue(), "xl", "workbook"
        main_type = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
    else:
        return presentation(text, macro=True)
    source = zipfile.ZipFile(io.BytesIO(data))
    types = source.read("[Content_Types].xml").decode()
    old_type = next(t for t in types.split('"') if t.endswith(".main+xml"))
    types = types.replace(old_type, main_type).replace(
        "</Types>", f'<Override PartName="/{folder}/vbaProject.bin" ContentType="{VBA_TYPE}"/></Types>')
    rels_name = f"{folder}/_rels/{main}.xml.rels"
    rels = source.read(rels_name).decode().replace(
        "</Relationships>", f'<Relationship Id="rIdVba" Type="{VBA_REL}" Target="vbaProject.bin"/></Relationships>')
    return rewrite_zip(data, {"[Content_Types].xml": types.encode(), rels_name: rels.encode()},
                       {f"{folder}/vbaProject.bin": b"\xd0\xcf\x11\xe0 Attribute VB_Name = \"Shell\" " * 50})


def presentation(text: str, macro: bool = False) -> bytes:
    """A minimal PPTX/PPTM with two slides; the presentation order (slide 2 first) differs from the names."""
    main_type = ("application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml" if macro else
                 "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml")
    a = "http://schemas.openxmlformats.org/drawingml/2006/main"
    p = "http://schemas.openxmlformats.org/presentationml/2006/main"
    r = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    slide_rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/slide"

    def slide(words: str) -> str:
        return (f'<p:sld xmlns:a="{a}" xmlns:p="{p}"><p:cSld><p:spTree><p:sp><p:txBody>'
                f"<a:p><a:r><a:t>{words}</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>")

    files = {
        "[Content_Types].xml": (
            f'<Types xmlns="{CONTENT_TYPES_NS}">'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/ppt/presentation.xml" ContentType="{main_type}"/>'
            f'<Override PartName="/ppt/vbaProject.bin" ContentType="{VBA_TYPE}"/></Types>'),
        "ppt/presentation.xml": (
            f'<p:presentation xmlns:p="{p}" xmlns:r="{r}"><p:sldIdLst>'
            '<p:sldId id="256" r:id="rId2"/><p:sldId id="257" r:id="rId1"/></p:sldIdLst></p:presentation>'),
        "ppt/_rels/presentation.xml.rels": (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{slide_rel}" Target="slides/slide1.xml"/>'
            f'<Relationship Id="rId2" Type="{slide_rel}" Target="slides/slide2.xml"/>'
            f'<Relationship Id="rIdVba" Type="{VBA_REL}" Target="vbaProject.bin"/></Relationships>'),
        "ppt/slides/slide1.xml": slide("Zweite Folie"),
        "ppt/slides/slide2.xml": slide(text),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
        if macro:
            archive.writestr("ppt/vbaProject.bin", b"\xd0\xcf\x11\xe0 Sub AutoOpen() Shell \"calc\" " * 50)
    return buffer.getvalue()


def nested_eml(levels: int, word: str) -> bytes:
    """A mail with a mail attached with a mail attached ... `levels` mails inside the outer one."""
    inner = EmailMessage()
    inner["From"], inner["To"], inner["Subject"] = "a@example.de", "b@example.de", f"Ebene {levels}"
    inner.set_content(f"innerste Nachricht {word}")
    for level in range(levels - 1, -1, -1):
        outer = EmailMessage()
        outer["From"], outer["To"], outer["Subject"] = "a@example.de", "akte@example.de", f"Ebene {level} {word}"
        outer.set_content(f"Weitergeleitet {word}. Angebot")
        outer.add_attachment(inner)
        inner = outer
    return bytes(inner)


def nested_msg(levels: int, word: str) -> bytes:
    inner = mapi.MapiMessage.create(f"Ebene {levels}", "innen")
    for level in range(levels - 1, -1, -1):
        outer = mapi.MapiMessage.create(f"Ebene {level} {word}", f"Weitergeleitet {word}. Angebot")
        outer.add_embedded_message_attachment(inner)
        inner = outer
    return inner.to_bytes()


@pytest.fixture(scope="module")
def lying_docx() -> bytes:
    """1 GB of zeros in `word/media/bild1.png`, headers (local and central) claiming 150 MB: under every
    declared-size limit (200 MB, ratio 150:1), so only counting the real bytes catches it."""
    data = docx_with_zero_entry("word/media/bild1.png", 1024, "Lügende Kopfzeilen")
    assert len(data) < 4 * MB
    return declare_size(data, "word/media/bild1.png", 150 * MB)


# --- helpers --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def customer(hostile_stack: HostileStack) -> str:
    return hostile_stack.api.create_customer(f"Archiv Test {uuid.uuid4().hex[:6]}")["number"]


def process(stack: HostileStack, data: bytes, filename: str, customer: str, timeout: float = 180) -> tuple[
    dict, float, float
]:
    """Upload, wait for the final state; returns the document, the peak RSS (MB) and the seconds taken."""
    started = time.monotonic()
    with stack.memory() as memory:
        document_id = stack.api.upload_ok(data, filename, customer_number=customer)
        body = stack.api.wait(document_id, timeout=timeout)
    seconds = time.monotonic() - started
    print(f"[{stack.kind}] {filename}: {body['status']} {body.get('status_reason')!r} "
          f"peak {memory.peak_mb:.0f} MB in {seconds:.1f}s")
    return body, memory.peak_mb, seconds


def assert_refused(stack: HostileStack, body: dict, data: bytes, code: str, peak_mb: float) -> None:
    assert body["status"] == "failed", body
    assert f"[{code}]" in (body["status_reason"] or ""), body["status_reason"]
    kept = stack.api.get(f"/documents/{body['id']}/content")
    assert kept.status_code == 200 and kept.content == data  # the original stays
    assert peak_mb < PEAK_LIMIT_MB
    assert stack.alive()
    assert_nothing_large_written(stack)


def files_under(folder: Path) -> Iterator[Path]:
    return (path for path in folder.rglob("*") if path.is_file()) if folder.exists() else iter(())


def assert_nothing_large_written(stack: HostileStack) -> None:
    for folder in {stack.server.data_dir, stack.work_dir}:
        large = [(p, p.stat().st_size) for p in files_under(folder) if p.stat().st_size > LARGEST_FILE_MB * MB]
        assert not large, large


# --- tests ------------------------------------------------------------------------------------------------


def test_zip_whose_headers_under_declare_an_entry_is_refused_on_the_real_bytes(
    hostile_stack: HostileStack, customer: str, lying_docx: bytes
) -> None:
    body, peak, seconds = process(hostile_stack, lying_docx, "bombe.docx", customer)
    assert_refused(hostile_stack, body, lying_docx, "corrupt_document", peak)
    assert "entpackt größer als angegeben" in body["status_reason"]
    assert seconds < 60


def test_honest_zip_over_the_size_or_ratio_limit_is_refused(hostile_stack: HostileStack, customer: str) -> None:
    # 100 MB of zeros in a few hundred KB: under the size limit, far over the ratio limit
    dense = docx_with_zero_entry("word/media/bild1.png", 100, "Hohe Kompression")
    body, peak, _ = process(hostile_stack, dense, "dicht.docx", customer)
    assert_refused(hostile_stack, body, dense, "archive_bomb", peak)
    # 300 MB declared honestly: over the 200 MB limit, refused before anything is inflated
    big = docx_with_zero_entry("word/media/bild1.png", 300, "Zu groß")
    body, peak, _ = process(hostile_stack, big, "gross.docx", customer)
    assert_refused(hostile_stack, body, big, "too_large", peak)


def test_zip_with_too_many_entries_is_refused(hostile_stack: HostileStack, customer: str) -> None:
    many = rewrite_zip(word_document("Viele Teile"), {}, {f"x/teil{i}.xml": b"" for i in range(10_001)})
    body, peak, _ = process(hostile_stack, many, "viele.docx", customer)
    assert_refused(hostile_stack, body, many, "too_large", peak)
    assert "10" in body["status_reason"] and "Teile" in body["status_reason"]


def test_mails_nested_beyond_max_depth_are_refused(hostile_stack: HostileStack, customer: str) -> None:
    word = f"Matroschka{uuid.uuid4().hex[:6]}"
    for name, make in (("kette.eml", nested_eml), ("kette.msg", nested_msg)):
        deep = make(4, word)  # four mails inside the outer one; max_depth is 3
        body, peak, _ = process(hostile_stack, deep, name, customer)
        assert_refused(hostile_stack, body, deep, "archive_bomb", peak)
        assert "verschachtelt" in body["status_reason"]
        allowed = make(3, word + name[-3:])
        body, peak, _ = process(hostile_stack, allowed, name, customer)
        assert body["status"] == "filed", body
        assert peak < PEAK_LIMIT_MB
    hits = hostile_stack.api.search(word + "eml")["hits"]
    assert len(hits) == 1


@pytest.mark.parametrize("kind", ["docm", "xlsm", "pptm"])
def test_macro_enabled_office_files_are_read_without_their_macros(
    hostile_stack: HostileStack, customer: str, kind: str
) -> None:
    word = f"Makrofrei{kind}{uuid.uuid4().hex[:6]}"
    data = macro_enabled(kind, f"Angebot {word}")
    body, peak, _ = process(hostile_stack, data, f"angebot.{kind}", customer)
    assert body["status"] == "filed", body
    assert body["latest_version"]["mime_type"].endswith("macroEnabled.12")
    assert peak < PEAK_LIMIT_MB and hostile_stack.alive()
    hits = hostile_stack.api.search(word)["hits"]
    assert [hit["id"] for hit in hits] == [body["id"]]
