#!/usr/bin/env python
"""Ingest benchmark (not a test): OCR against ocrmypdf, born-digital throughput, time to searchable.

Run from the repository root::

    .venv/bin/python bench/ingest.py [--pages 12] [--docs 100] [--servers] [--markdown]

What it measures (see bench/README.md for details):

1. Scanned pages per second through our pipeline (``process_version`` on embedded services, in
   process, all stages) and through ``ocrmypdf`` (its own venv, wall time including process start)
   on the same generated 300 dpi scans of German business letters.
2. Word accuracy of both against the known text (bag-of-words recall).
3. Born-digital PDFs per second end to end over HTTP (upload -> searchable) on a ``dms serve``
   process with embedded defaults; with ``--servers`` also on the scale-out backends.
4. Time to searchable (upload request start -> first search hit), p50 and p95, one at a time.

ocrmypdf is installed on first use into ``~/.cache/kundenakte/bench-venv`` (override the cache
with ``KUNDENAKTE_CACHE``), so the project environment stays untouched. It needs the Debian
packages ``tesseract-ocr`` (+ ``-deu``) and ``ghostscript``.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# This file is called ingest.py: keep bench/ off the path so `import ingest` finds the package; the repo root goes
# on the path for the sibling modules (bench.scans, ...) and for tests.live / tests.servers.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(REPO_ROOT))

from bench.live import WORKER_CONCURRENCY, LiveResult, live_server, measure_live, measure_scaleout  # noqa: E402
from bench.ocr_compare import OcrRun, ensure_ocrmypdf, run_ocrmypdf, run_ours  # noqa: E402
from bench.scans import DPI, make_scans, word_recall  # noqa: E402
from bench.table import (  # noqa: E402
    TARGET_OCR_ACCURACY,
    TARGET_OCR_RATIO,
    Row,
    live_rows,
    print_table,
    verdict,
)

# ----------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=12, help="scanned pages for the OCR comparison (default 12)")
    parser.add_argument("--docs", type=int, default=100, help="born-digital PDFs for the throughput row (default 100)")
    parser.add_argument("--tts-docs", type=int, default=30, help="documents for time to searchable (default 30)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent upload clients (default 4)")
    parser.add_argument("--repeat", type=int, default=1, help="OCR runs per tool; the median is shown (default 1)")
    parser.add_argument("--servers", action="store_true", help="also measure the scale-out backends")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table as well")
    parser.add_argument("--skip-ocr", action="store_true", help="skip the OCR comparison")
    parser.add_argument("--skip-live", action="store_true", help="skip the HTTP measurements")
    args = parser.parse_args(argv)

    rows: list[Row] = []
    rng = random.Random()
    workdir = Path(tempfile.mkdtemp(prefix="kundenakte-bench-"))
    try:
        if not args.skip_ocr:
            rows += ocr_rows(args, workdir)
        if not args.skip_live:
            embedded_dir = workdir / "embedded"
            embedded_dir.mkdir()
            print("born-digital: embedded defaults ...", file=sys.stderr)
            threads = os.environ.get("DMS_WORKERS", "2")
            try:
                with live_server(embedded_dir, {"DMS_WORKERS": threads}) as url:
                    result = measure_live(url, args.docs, args.tts_docs, args.clients, rng)
            except Exception as exc:
                result = LiveResult(error=f"failed: {exc!r}"[:300])
            rows += live_rows(f"embedded, {threads} worker threads", result, args.docs, args.clients, args.tts_docs)
            if args.servers:
                print("born-digital: scale-out servers ...", file=sys.stderr)
                result = measure_scaleout(workdir, args.docs, args.tts_docs, args.clients, rng)
                label = f"scale-out, {WORKER_CONCURRENCY} Celery processes"
                rows += live_rows(label, result, args.docs, args.clients, args.tts_docs, throughput_target=False)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"\nKundenakte ingest benchmark  ({os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M')})\n")
    print_table(rows, markdown=False)
    if args.markdown:
        print()
        print_table(rows, markdown=True)
    return 0


def ocr_rows(args: argparse.Namespace, workdir: Path) -> list[Row]:
    print(f"OCR: generating {args.pages} scanned pages at {DPI} dpi ...", file=sys.stderr)
    scans = make_scans(args.pages)
    exe, version = ensure_ocrmypdf()
    ours_runs: list[OcrRun] = []
    theirs_runs: list[OcrRun] = []
    theirs_error = None if exe else version
    for attempt in range(args.repeat):
        print(f"OCR: run {attempt + 1}/{args.repeat}: ours ...", file=sys.stderr)
        ours_runs.append(run_ours(scans, workdir))
        if exe is not None and theirs_error is None:
            print(f"OCR: run {attempt + 1}/{args.repeat}: {version} ...", file=sys.stderr)
            try:
                theirs_runs.append(run_ocrmypdf(exe, scans, workdir))
            except RuntimeError as exc:
                theirs_error = str(exc)

    def median_run(runs: list[OcrRun]) -> OcrRun:
        return sorted(runs, key=lambda r: r.seconds)[len(runs) // 2]

    pages = scans.pages
    ours = median_run(ours_runs)
    extract = ours.stage_seconds.get("extract_text", 0.0)
    ours_rate = pages / ours.seconds
    ours_acc = word_recall(scans.known_text, ours.text)
    label = f"{pages} p, 300 dpi, {len(scans.degraded)} skewed+noisy"
    rows = [Row(f"Scanned PDF, ours: process_version, all stages ({label})",
                f"{ours_rate:.2f} pages/s ({ours.seconds:.1f} s; extract stage {extract:.1f} s)")]
    if theirs_runs:
        theirs = median_run(theirs_runs)
        theirs_rate = pages / theirs.seconds
        theirs_acc = word_recall(scans.known_text, theirs.text)
        ratio = ours_rate / theirs_rate
        rows += [
            Row(f"Scanned PDF, ocrmypdf {version} --jobs 2, wall incl. process start",
                f"{theirs_rate:.2f} pages/s ({theirs.seconds:.1f} s)"),
            Row("OCR speed ratio ours / ocrmypdf", f"{ratio:.2f}x", f">= {TARGET_OCR_RATIO:.1f}x",
                verdict(ratio >= TARGET_OCR_RATIO)),
        ]
    else:
        theirs_acc = None
        rows += [Row("Scanned PDF, ocrmypdf", f"n/a ({theirs_error})"),
                 Row("OCR speed ratio ours / ocrmypdf", "n/a", f">= {TARGET_OCR_RATIO:.1f}x", "n/a")]
    rows.append(Row("OCR word accuracy, ours (bag-of-words recall)", f"{ours_acc:.1%}",
                    f">= {TARGET_OCR_ACCURACY:.0%}", verdict(ours_acc >= TARGET_OCR_ACCURACY)))
    if theirs_acc is not None:
        rows.append(Row("OCR word accuracy, ocrmypdf (text layer via pypdfium2)", f"{theirs_acc:.1%}", "reference", ""))
    if args.repeat > 1:
        spread = ", ".join(f"{r.seconds:.1f}" for r in ours_runs)
        their_spread = ", ".join(f"{r.seconds:.1f}" for r in theirs_runs)
        rows.append(Row("OCR runs (s): ours | ocrmypdf", f"{spread} | {their_spread}"))
    print(f"OCR: ours {ours.note}; stages: "
          + ", ".join(f"{k} {v:.2f} s" for k, v in ours.stage_seconds.items()), file=sys.stderr)
    return rows


if __name__ == "__main__":
    sys.exit(main())
