"""Catalog and search index rebuilt from the object store alone, on both backend sets.

server: documents in MinIO, rebuilt into a fresh PostgreSQL database and an OpenSearch index.
"""

from __future__ import annotations

from pathlib import Path

from dms.catalog import Catalog
from dms.config import Settings
from dms.search import SearchQuery
from dms.services import Services
from tests.test_rebuild import QUERIES, fill, rebuild_and_compare, snapshot


def test_rebuild_from_the_store_alone(store, catalog, index, tmp_path: Path) -> None:
    settings = Settings.from_env({"DMS_DATA_DIR": str(tmp_path / "data")})
    scratch = Catalog(f"sqlite:///{tmp_path / 'scratch.db'}")
    scratch.create_schema()
    source = Services(settings, store=store, catalog=scratch, index=index)
    document_ids = fill(source)
    before = snapshot(source, document_ids)
    scratch.close()
    for document_id in document_ids:  # the index is lost together with the catalog
        index.delete(document_id)
    assert not any(index.search(SearchQuery(text=q)).hits for q in QUERIES)

    counts = rebuild_and_compare(before, store, settings, catalog, index)
    assert counts == {"customers": 2, "documents": 5, "versions": 6, "skipped": 0, "notes": 0}
