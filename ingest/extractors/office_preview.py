"""PDF previews of office files by LibreOffice (optional: without it there is no preview).

The conversion runs as a child process with an address-space limit, in a temp folder inside the
attempt's scratch folder, and is killed with its whole process group on timeout.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from dms.errors import IngestError
from ingest.context import IngestContext
from ingest.extractors.containers import DOCX, ODS, ODT, PPTX, XLSX
from ingest.ocr import limit_memory

# Macro-enabled types are missing on purpose: LibreOffice never gets a file that carries macros.
PREVIEW_SUFFIXES = {DOCX: ".docx", XLSX: ".xlsx", PPTX: ".pptx", ODT: ".odt", ODS: ".ods"}

def find_soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def office_pdf_preview(
    data: bytes, suffix: str, timeout: float = 120, *, memory_mb: int | None = None, workdir: str | None = None
) -> bytes | None:
    """The document converted to PDF by LibreOffice; None when LibreOffice is not installed.

    The conversion runs with an address-space limit of twice `memory_mb` (LibreOffice reserves
    much more address space than it touches) in a temp folder inside `workdir`.

    Raises IngestError(code="preview_failed") when the conversion fails or times out.
    """
    binary = find_soffice()
    if binary is None:
        return None
    with tempfile.TemporaryDirectory(prefix="kundenakte-preview-", dir=workdir) as tmp:
        folder = Path(tmp)
        source = folder / f"dokument{suffix}"
        source.write_bytes(data)
        command = [
            binary, f"-env:UserInstallation={(folder / 'profile').as_uri()}", "--headless", "--invisible",
            "--norestore", "--nologo", "--nolockcheck", "--convert-to", "pdf", "--outdir", str(folder / "out"),
            str(source),
        ]
        env = {**os.environ, "HOME": tmp}
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            preexec_fn=limit_memory(2 * memory_mb if memory_mb else None),
        )
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            os.killpg(process.pid, signal.SIGKILL)  # soffice forks soffice.bin: end the whole group
            process.communicate()
            raise IngestError(
                f"Die PDF-Vorschau wurde nach {timeout:.0f} s abgebrochen.", code="preview_failed"
            ) from exc
        result = folder / "out" / "dokument.pdf"
        if process.returncode != 0 or not result.is_file() or not result.read_bytes().startswith(b"%PDF"):
            detail = output.decode("utf-8", "replace").strip()[-300:]
            raise IngestError(f"Die PDF-Vorschau konnte nicht erzeugt werden ({detail}).", code="preview_failed")
        return result.read_bytes()


def render_office_preview(ctx: IngestContext, timeout: float = 120, memory_mb: int | None = None) -> bytes | None:
    """Preview PDF for an office document in `ctx`; a failure becomes a warning, never an error."""
    suffix = PREVIEW_SUFFIXES.get(ctx.mime_type or "")
    if suffix is None:
        return None
    try:
        return office_pdf_preview(ctx.data, suffix, timeout=timeout, memory_mb=memory_mb, workdir=ctx.workdir)
    except (IngestError, OSError) as exc:
        ctx.warn(exc.message if isinstance(exc, IngestError) else f"Die PDF-Vorschau ist fehlgeschlagen ({exc}).")
        return None
