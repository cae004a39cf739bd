"""Hostile searches (issue #9): huge queries, thousands of prefix terms, queries that run too
long on a filled index, and more searches at once than the service has threads, while
`/health` must keep answering. Through HTTP against the real service on both stacks."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from urllib.parse import quote

import pytest
import requests

from dms.search import EmbeddedSearchIndex, IndexEntry
from tests.hostile.conftest import HostileStack

ENTRIES = {"embedded": 2000, "server": 800}  # OpenSearch indexes n-gram subfields: slower to fill
WORDS_PER_ENTRY = 200
# The heaviest query the limits allow: 5 two-letter prefixes, each expanding to thousands of
# words of the filled index, together matching nearly every entry.
HEAVY_QUERY = "re* ch* ma* an* ge*"
SYLLABLES = ["re", "ch", "nung", "lie", "fer", "ma", "hn", "an", "ge", "bot", "ver", "trag", "kun", "de",
             "zi", "tro", "nen", "fal", "ter", "stra", "sse", "be", "geld", "kon", "to", "aus", "zug"]


def vocabulary() -> list[str]:
    rng = random.Random(9)
    return sorted({"".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 5))) for _ in range(6000)})


def entries(count: int) -> Iterator[IndexEntry]:
    rng = random.Random(7)
    vocab = vocabulary()
    for i in range(count):
        yield IndexEntry(
            id=f"fill-{i:05d}", customer_number=str(10001 + i % 40), title=" ".join(rng.choices(vocab, k=6)),
            document_class="Rechnung", folder="04 Rechnungen", text=" ".join(rng.choices(vocab, k=WORDS_PER_ENTRY)),
            tags=[f"t{i % 7}"],
        )


def fill(stack: HostileStack) -> None:
    """A few thousand entries straight through the index API of the stack's backend."""
    if stack.kind == "embedded":
        EmbeddedSearchIndex(stack.server.data_dir / "search.db").bulk_index(entries(ENTRIES[stack.kind]))
    else:
        from dms.search.opensearch import OpenSearchIndex

        index = OpenSearchIndex(stack.env["DMS_OPENSEARCH_URL"], stack.env["DMS_OPENSEARCH_INDEX"])
        index.bulk_index(entries(ENTRIES[stack.kind]))


@pytest.fixture(scope="module", params=["embedded", "server"])
def filled_stacks(
    request: pytest.FixtureRequest, module_stacks: Callable[..., HostileStack]
) -> dict[str, HostileStack]:
    """Two fresh web processes on one filled index: `normal` (default limits) and `slow` (a
    query time limit of 20 ms, so every heavy query runs over it)."""
    kind = request.param
    started = time.monotonic()
    normal = module_stacks(kind)
    filling = time.monotonic()
    fill(normal)
    filled = time.monotonic()
    if kind == "server":
        shared = {"DMS_OPENSEARCH_INDEX": normal.env["DMS_OPENSEARCH_INDEX"]}
    else:
        shared = {"DMS_DATA_DIR": str(normal.server.data_dir)}  # the embedded index is a file in there
    slow = module_stacks(kind, config_toml="[search]\ntimeout_seconds = 0.02\n", env=shared)
    print(f"\n[{kind}] {ENTRIES[kind]} entries indexed in {filled - filling:.1f}s; two stacks and the index "
          f"ready in {time.monotonic() - started:.1f}s")
    return {"normal": normal, "slow": slow}


def search(stack: HostileStack, session: requests.Session | None = None, **params: str) -> requests.Response:
    return (session or stack.api.http).get(stack.api.base + "/search", params=params, timeout=60)


def error(response: requests.Response) -> dict:
    return response.json()["error"]


# -- query limits: refused before any work, with the limit in the message


def test_a_100_kb_query_is_refused_at_once(hostile_stack: HostileStack) -> None:
    query = "rechnung* " * 10_000  # 100 KB, ten thousand prefix terms
    started = time.monotonic()
    response = search(hostile_stack, q=query)
    elapsed = time.monotonic() - started
    assert response.status_code == 400, response.text[:300]
    assert error(response)["code"] == "query_too_long"
    assert error(response)["message"] == "Die Suchanfrage hat 100000 Zeichen; erlaubt sind höchstens 500."
    assert error(response)["limit"] == 500
    assert len(response.content) < 1000, "the refusal does not echo the query"
    assert elapsed < 1, f"refused after {elapsed:.2f}s"
    assert hostile_stack.alive()


def test_prefix_terms_are_limited(hostile_stack: HostileStack) -> None:
    thousands = search(hostile_stack, q=" ".join(f"ab{i}*" for i in range(3000)))
    assert thousands.status_code == 400 and error(thousands)["code"] == "query_too_long"
    six = search(hostile_stack, q="ab* cd* ef* gh* ij* kl*")
    assert six.status_code == 400, six.text
    assert error(six)["code"] == "too_many_prefix_terms"
    assert "6 Begriffe mit Platzhalter" in error(six)["message"] and "höchstens 5" in error(six)["message"]
    short = search(hostile_stack, q="Rechnung r*")
    assert short.status_code == 400 and error(short)["code"] == "prefix_too_short"
    assert "mindestens 2 Buchstaben" in error(short)["message"]
    assert search(hostile_stack, q="*").status_code == 400
    assert search(hostile_stack, q="ab* cd* ef* gh* ij*").status_code == 200


def test_terms_are_limited(hostile_stack: HostileStack) -> None:
    words = search(hostile_stack, q=" ".join(f"wort{i}" for i in range(40)))
    assert words.status_code == 400 and error(words)["code"] == "too_many_terms"
    assert "40 Suchbegriffe" in error(words)["message"] and "höchstens 32" in error(words)["message"]
    phrase = search(hostile_stack, q='"' + " ".join(f"w{i}" for i in range(40)) + '"')
    assert phrase.status_code == 400 and error(phrase)["code"] == "too_many_terms"
    assert search(hostile_stack, q=" ".join(f"wort{i}" for i in range(32))).status_code == 200


def test_paging_and_filter_parameters_are_checked(hostile_stack: HostileStack) -> None:
    for params, field in [
        ({"offset": "10001"}, "offset"), ({"offset": "-1"}, "offset"), ({"offset": "9" * 30}, "offset"),
        ({"limit": "0"}, "limit"), ({"limit": "201"}, "limit"), ({"limit": "1e9"}, "limit"),
        ({"from": "2026-13-01"}, "from"), ({"facets": "vielleicht"}, "facets"), ({"customer": "1" * 5000}, "customer"),
    ]:
        response = search(hostile_stack, q="Rechnung", **params)
        assert response.status_code == 400, (params, response.text[:200])
        assert error(response)["field"] == field
    last_page = search(hostile_stack, q="", offset="10000", limit="200")
    assert last_page.status_code == 200 and last_page.json()["hits"] == []


# -- time limit and concurrency, on a filled index


def test_a_query_over_the_time_limit_is_stopped(filled_stacks: dict[str, HostileStack]) -> None:
    slow = filled_stacks["slow"]
    started = time.monotonic()
    response = search(slow, q=HEAVY_QUERY, limit="200", facets="1")
    elapsed = time.monotonic() - started
    assert response.status_code == 503, f"{response.text[:300]}\n{slow.server.log()}"
    assert error(response)["code"] == "search_timeout"
    assert "länger als 0,02 s gedauert und wurde abgebrochen" in error(response)["message"]
    assert elapsed < 3, f"stopped after {elapsed:.2f}s"
    print(f"\n[{slow.kind}] over the time limit: 503 after {elapsed:.2f}s")
    # the same query within the default limit (10 s) answers
    started = time.monotonic()
    normal = search(filled_stacks["normal"], q=HEAVY_QUERY, limit="200", facets="1")
    assert normal.status_code == 200, normal.text[:300]
    print(f"[{slow.kind}] heavy query within the limit: {time.monotonic() - started:.2f}s")
    assert slow.alive()


def test_health_answers_while_every_search_slot_is_busy(filled_stacks: dict[str, HostileStack]) -> None:
    stack = filled_stacks["normal"]
    q = HEAVY_QUERY
    statuses: Counter[str] = Counter()
    retry_after: set[str] = set()
    health_times: list[float] = []
    health_codes: list[int] = []
    stop = threading.Event()
    lock = threading.Lock()
    url = stack.api.base + "/search?q=" + quote(q) + "&limit=200&facets=1"

    def searcher() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                response = session.get(url, timeout=60)
                code = "200" if response.ok else f"{response.status_code} {response.json()['error']['code']}"
                with lock:
                    statuses[code] += 1
                    if code == "503 busy":
                        retry_after.add(response.headers.get("Retry-After", ""))

    def health() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                started = time.monotonic()
                response = session.get(stack.api.base + "/health", timeout=60)
                health_times.append(time.monotonic() - started)
                health_codes.append(response.status_code)
                stop.wait(0.1)

    threads = [threading.Thread(target=searcher) for _ in range(8)] + [threading.Thread(target=health)]
    with stack.memory() as memory:
        for thread in threads:
            thread.start()
        time.sleep(6)
        stop.set()
        for thread in threads:
            thread.join(90)
    print(f"\n[{stack.kind}] searches: {dict(statuses)}; health: {len(health_times)} answers, slowest "
          f"{max(health_times):.3f}s; peak RSS {memory.peak_mb:.0f} MB")
    assert set(health_codes) == {200}
    assert max(health_times) < 1.0, f"health took {max(health_times):.2f}s"
    assert statuses["503 busy"] >= 1, statuses
    assert statuses["200"] >= 4, statuses
    assert set(statuses) <= {"200", "503 busy", "503 search_timeout"}, statuses
    assert retry_after == {"1"}
    assert stack.alive()
    assert search(stack, q=q).status_code == 200
