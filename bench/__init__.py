"""Benchmarks (not tests): ``bench/ingest.py`` is the entry point; the modules here hold its parts.

- ``bench.scans``: generated German business letters, scanned-PDF generation and word accuracy.
- ``bench.ocr_compare``: our pipeline against ocrmypdf on the same scans.
- ``bench.live``: born-digital upload -> searchable over HTTP (embedded defaults and scale-out).
- ``bench.table``: result rows, targets and the printed table.
"""
