"""The main email-in path on the real servers (PostgreSQL, MinIO, OpenSearch, Redis) with a
Celery worker: `dms serve` + `dms mail-gateway` + `dms worker` on one isolated environment.
A scanned PDF mailed to `akte+<nr>@…` is filed, OCR'd and found by a word of the scan; the
mail itself is in `02 Korrespondenz`, linked to the scan."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from tests.docgen import scan_pdf
from tests.mail.conftest import MailStack, build_mail, make_mail_stack
from tests.server_env import isolated_env

pytestmark = [pytest.mark.servers, pytest.mark.slow]


@pytest.fixture(scope="module")
def stack(real_servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailStack]:  # noqa: ANN001
    env = isolated_env(real_servers.env(), "mail")
    stack = make_mail_stack(tmp_path_factory.mktemp("mail-scaleout"), env=env, worker=True)
    try:
        yield stack
    finally:
        stack.stop()


def search_until(stack: MailStack, word: str, customer: str, timeout: float = 60) -> dict:
    """OpenSearch refreshes on its own schedule: poll until the word is found (or fail)."""
    deadline = time.monotonic() + timeout
    while True:
        result = stack.api.search(word, customer=customer)
        if result["total"] or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


def test_scanned_pdf_by_mail_is_filed_ocrd_and_found(stack: MailStack) -> None:
    customer = stack.api.create_customer("Scan per Mail GmbH")
    number = customer["number"]
    word = "Quittenbaum"  # a plain word OCR reads reliably; the fresh customer keeps the search unique
    scan = scan_pdf([[f"Kündigung {word}", f"Kundennummer {number}", "Mit freundlichen Grüßen"]])
    subject = f"Scan vom Kopierer {uuid.uuid4().hex[:8]}"
    stack.send(build_mail(subject=subject, to=f"akte+{number}@kanzlei.example",
                          attachments=[("scan_0001.pdf", scan, "application/pdf")]),
               to=[f"akte+{number}@kanzlei.example"])

    record = stack.wait_mail(lambda m: m.get("subject") == subject and m.get("status") == "filed", timeout=180)
    assert record["customer_number"] == number and record["via"] == "smtp"
    docs = {d["id"]: d for d in stack.wait_documents(number, 2, timeout=300)}
    assert len(docs) == 2 and all(d["source"] == "email" for d in docs.values())
    mail_doc = docs[record["mail_document_id"]]
    (scan_id,) = [i for i in docs if i != mail_doc["id"]]
    assert mail_doc["folder"] == "02 Korrespondenz" and mail_doc["status"] == "filed"
    assert docs[scan_id]["status"] in ("filed", "needs_review")

    hits = search_until(stack, word, number)["hits"]
    assert [h["id"] for h in hits] == [scan_id], hits  # the word exists only in the scan's pixels (OCR)
    related = stack.api.get(f"/documents/{mail_doc['id']}").json()["related"]
    assert [(r["id"], r["kind"]) for r in related] == [(scan_id, "attachment")]
    back = stack.api.get(f"/documents/{scan_id}").json()["related"]
    assert [(r["id"], r["kind"], r["folder"]) for r in back] == [(mail_doc["id"], "mail", "02 Korrespondenz")]
