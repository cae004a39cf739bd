"""Optional tier: every real e-invoice of ../shared/corpus/einvoices through the whole ingest pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest

from dms.documents import Upload, receive_document
from ingest.pipeline import process_version

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "einvoices"
SPECIAL = {"fail", "other", "unstructured"}
FILES = sorted(p for p in CORPUS.rglob("*") if p.suffix.lower() in (".pdf", ".xml")) if CORPUS.is_dir() else []

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus/einvoices is absent"),
]


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_corpus_file_through_the_pipeline(services, path: Path) -> None:
    document = receive_document(services, Upload(path.read_bytes(), path.name, source="erp"))
    ctx = process_version(services, document.id, 1)
    stored = services.catalog.get_document(document.id)
    assert "[internal_error]" not in (stored.status_reason or ""), stored.status_reason
    assert services.store.get(stored.versions[0].storage_key) == path.read_bytes()
    if not SPECIAL & set(path.relative_to(CORPUS).parts):
        assert stored.status in ("filed", "needs_review"), stored.status_reason
        assert stored.document_class == "Rechnung"
        for field in ("invoice_number", "gross_total", "document_date"):
            assert stored.fields.get(field), (field, stored.fields)
        assert ctx.einvoice is not None
