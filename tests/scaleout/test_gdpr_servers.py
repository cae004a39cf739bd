"""GDPR (issue #12) on the real servers: PostgreSQL, MinIO (documents bucket + Object Lock archive),
OpenSearch and a Celery worker on Redis. Erasure deletes the unretained note and restricts the
retained invoice; OpenSearch's `restricted` field and filter hide the invoice from a clerk's search
while admins and auditors still find it; the report still lists it. The same flow on embedded
defaults: tests/test_gdpr.py."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import requests

from tests import test_gdpr as flow
from tests.live import Worker
from tests.server_env import isolated_env

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def stack(servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[flow.Stack]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DMS_")}
    env.update(isolated_env(servers.env(), "gdpr"))
    base = tmp_path_factory.mktemp("gdpr-servers")
    found = flow.start_stack(base, env)
    worker = Worker(found.env, base / "worker.log", concurrency=2).start()
    try:
        yield found
    finally:
        worker.stop()
        found.server.stop()


def test_erasure_and_the_restricted_filter_in_opensearch(stack: flow.Stack) -> None:
    erased = flow.erase_invoice_and_note(stack)
    invoice_id, note_id = erased.invoice["id"], erased.note["id"]
    request = erased.request
    assert (request["outcome"], request["purged"], request["restricted"]) == ("restricted", 1, 1)

    # the index entry itself carries the flag (read from OpenSearch, not through our code)
    url, alias = stack.env["DMS_OPENSEARCH_URL"], stack.env["DMS_OPENSEARCH_INDEX"]
    source = requests.get(f"{url}/{alias}/_doc/{invoice_id}", timeout=30).json()["_source"]
    assert source["restricted"] is True
    assert requests.get(f"{url}/{alias}/_doc/{note_id}", timeout=30).json()["found"] is False

    assert flow.hits(stack, "carl", erased.invoice_word) == []
    assert stack.api("carl").search(erased.invoice_word, customer=erased.customer)["total"] == 0
    assert stack.api("carl").get("/search", params={"q": erased.invoice_word, "facets": "1"}).json()["total"] == 0
    for user in ("anna", "dora"):
        assert flow.hits(stack, user, erased.invoice_word) == [invoice_id]
    assert flow.hits(stack, "anna", erased.note_word) == []
    assert invoice_id not in flow.listed(stack, "carl", customer=erased.customer)
    assert invoice_id in flow.listed(stack, "dora", customer=erased.customer)
    assert stack.api("carl").get(f"/documents/{invoice_id}").status_code == 404

    body = flow.report(stack, "dora", erased.customer)
    assert [(d["id"], d["restricted"]) for d in body["documents"]] == [(invoice_id, True)]
    assert body["customer"]["erasure_state"] == "restricted" and body["customer"]["emails"] == []
