"""GDPR Art. 15 report time for a customer with many documents, on embedded defaults.

Not a test (pytest does not collect it); prints one table. The issue's target: the report of a
customer with 1,000 documents in under 10 s. The documents are written straight into the catalog
(filed Rechnungen with a version each, as ingest leaves them; ingest speed is bench/ingest.py's
business), each with reads and downloads in the audit trail, plus received mail; then the report
is fetched through the HTTP API (Flask test client, `DMS_AUTH_MODE=local`) as JSON and as PDF.

    .venv/bin/python bench/gdpr.py [--docs 1000] [--accesses 3] [--mails 50] [--repeat 3] [--markdown]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(REPO_ROOT))

from bench.table import Row, print_table, verdict  # noqa: E402

TARGET_SECONDS = 10.0


def populate(services, number: str, docs: int, accesses: int, mails: int) -> None:  # noqa: ANN001
    """`docs` filed invoices of customer `number`, `accesses` audit entries each, `mails` mail records."""
    from dms.catalog.engine import utcnow
    from dms.domain import Document, DocumentStatus, Source, Version

    catalog = services.catalog
    for i in range(docs):
        document_id = str(uuid.uuid4())
        now = utcnow()
        version = Version(number=1, sha256=uuid.uuid4().hex * 2, size=20_000 + i, mime_type="application/pdf",
                          filename=f"rechnung-{i:04d}.pdf", created_at=now, created_by="bench",
                          storage_key=f"documents/{document_id}/v1/original")
        catalog.documents.create(Document(
            id=document_id, customer_number=number, folder="Rechnungen", document_class="Rechnung",
            title=f"Rechnung RE-2026-{i:04d}", source=Source.API, status=DocumentStatus.FILED,
            document_date=date(2026, 1, 1) + timedelta(days=i % 330), fields={"invoice_number": f"RE-2026-{i:04d}"},
        ), version)
        for k in range(accesses):
            catalog.audit.record("sachbearbeiter", ("document.read", "document.download")[k % 2], "document",
                                 document_id, ip="10.0.0.7", user_agent="bench")
    for i in range(mails):
        catalog.mail.claim(f"bench-{number}-{i}", sender=f"kunde{i}@example.org", recipients=["rechnung@example.org"],
                           subject=f"Rechnung {i}", customer_number=number, status="filed")


def measure(client, number: str, form: str, repeat: int) -> tuple[float, int]:  # noqa: ANN001
    """Median seconds of `repeat` report requests, and the size of the last answer."""
    times, size = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(f"/api/v1/customers/{number}/gdpr-report", query_string={"format": form})
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.data[:500]
        size = len(response.data)
    return statistics.median(times), size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=1000, help="documents of the customer (default 1000)")
    parser.add_argument("--accesses", type=int, default=3, help="audit entries per document (default 3)")
    parser.add_argument("--mails", type=int, default=50, help="received mails of the customer (default 50)")
    parser.add_argument("--repeat", type=int, default=3, help="requests per format; the median is shown (default 3)")
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    args = parser.parse_args(argv)

    from dms.config import Settings
    from dms.web import create_app

    base = Path(tempfile.mkdtemp(prefix="kundenakte-bench-gdpr-"))
    try:
        app = create_app(Settings.from_env({"DMS_DATA_DIR": str(base / "data"), "DMS_AUTH_MODE": "local"}))
        services = app.extensions["dms"]
        number = services.catalog.customers.create("Bench Datenschutz GmbH", folders=services.settings.folder_template,
                                                   emails=["info@bench.example"]).number
        started = time.perf_counter()
        populate(services, number, args.docs, args.accesses, args.mails)
        setup = time.perf_counter() - started
        client = app.test_client()
        json_s, json_size = measure(client, number, "json", args.repeat)
        pdf_s, pdf_size = measure(client, number, "pdf", args.repeat)
        entries = args.docs * args.accesses
        target = f"< {TARGET_SECONDS:.0f} s"
        rows = [
            Row("Customer", f"{args.docs} documents, {entries} document audit entries, {args.mails} mails"),
            Row("Setup (catalog + audit writes)", f"{setup:.1f} s"),
            Row("Report JSON (HTTP, median)", f"{json_s:.2f} s ({json_size / 1e6:.1f} MB)", target,
                verdict(json_s < TARGET_SECONDS)),
            Row("Report PDF (HTTP, median)", f"{pdf_s:.2f} s ({pdf_size / 1e6:.1f} MB)", target,
                verdict(pdf_s < TARGET_SECONDS)),
        ]
        print_table(rows, args.markdown)
        services.close()
        return 0 if json_s < TARGET_SECONDS and pdf_s < TARGET_SECONDS else 1
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
