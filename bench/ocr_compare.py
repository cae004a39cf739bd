"""OCR comparison: our pipeline (process_version, in process) against ocrmypdf (own venv, subprocess)."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.scans import ScanSet, pdf_text

CACHE_DIR = Path(os.environ.get("KUNDENAKTE_CACHE", str(Path.home() / ".cache" / "kundenakte")))
BENCH_VENV = CACHE_DIR / "bench-venv"
OCRMYPDF_SPEC = "ocrmypdf==17.13.0"
OCRMYPDF_ARGS = ["-l", "deu+eng", "--jobs", "2", "--output-type", "pdf", "--optimize", "0", "-q"]


# ----------------------------------------------------------------------------- OCR: ours

@dataclass
class OcrRun:
    seconds: float
    text: str
    stage_seconds: dict[str, float] = field(default_factory=dict)
    note: str = ""


def run_ours(scans: ScanSet, workdir: Path) -> OcrRun:
    """process_version on embedded services (no queue): every stage, timed in process."""
    from dms.config import Settings
    from dms.documents import Upload, receive_document
    from dms.services import build_services
    from ingest import pipeline

    data_dir = workdir / f"ours-{time.monotonic_ns()}"
    services = build_services(Settings.from_env({"DMS_DATA_DIR": str(data_dir)}), with_queue=False)
    stage_seconds: dict[str, float] = {}

    def timed(stage: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(stage)
        def wrapper(*args: Any, **kwargs: Any) -> None:
            start = time.perf_counter()
            try:
                stage(*args, **kwargs)
            finally:
                stage_seconds[stage.__name__] = time.perf_counter() - start

        return wrapper

    original = pipeline.STAGES
    pipeline.STAGES = tuple(timed(s) for s in original)
    try:
        document = receive_document(services, Upload(data=scans.pdf, filename="scan_briefe.pdf"))
        start = time.perf_counter()
        ctx = pipeline.process_version(services, document.id, 1)
        seconds = time.perf_counter() - start
    finally:
        pipeline.STAGES = original
        services.close()
        shutil.rmtree(data_dir, ignore_errors=True)
    note = f"status {ctx.status}" + (f", warnings: {'; '.join(ctx.warnings)[:200]}" if ctx.warnings else "")
    return OcrRun(seconds, ctx.text, stage_seconds, note)


# ----------------------------------------------------------------------------- OCR: ocrmypdf

def ensure_ocrmypdf() -> tuple[Path | None, str]:
    """The ocrmypdf executable of the bench venv (created on first use) and its version, or (None, reason)."""
    missing = [tool for tool in ("tesseract", "gs") if shutil.which(tool) is None]
    if missing:
        return None, f"missing {' and '.join(missing)} (apt-get install -y tesseract-ocr-deu ghostscript)"
    exe = BENCH_VENV / "bin" / "ocrmypdf"
    if not exe.exists():
        print(f"installing {OCRMYPDF_SPEC} into {BENCH_VENV} ...", file=sys.stderr)
        base_python = getattr(sys, "_base_executable", sys.executable)
        try:
            subprocess.run([base_python, "-m", "venv", "--clear", str(BENCH_VENV)], check=True)
            subprocess.run([str(BENCH_VENV / "bin" / "pip"), "install", "-q", OCRMYPDF_SPEC], check=True)
        except subprocess.CalledProcessError as exc:
            return None, f"could not install ocrmypdf: {exc}"
    version = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=False).stdout.strip()
    return exe, version


def run_ocrmypdf(exe: Path, scans: ScanSet, workdir: Path) -> OcrRun:
    src, out = workdir / "scan.pdf", workdir / f"ocrmypdf-{time.monotonic_ns()}.pdf"
    src.write_bytes(scans.pdf)
    start = time.perf_counter()
    done = subprocess.run([str(exe), *OCRMYPDF_ARGS, str(src), str(out)], capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"ocrmypdf exited with {done.returncode}: {done.stderr.strip()[-500:]}")
    text = pdf_text(out.read_bytes())
    out.unlink(missing_ok=True)
    return OcrRun(seconds, text)

