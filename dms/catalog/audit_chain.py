"""The hash chain of the audit log: the canonical form of an entry and its sha256.

Canonical form (format 1) of an entry: a JSON object with exactly these keys

    v, id, at, actor, action, object_type, object_id, customer_number, document_id, version,
    ip, user_agent, request_id, details, prev_hash

serialised with sorted keys, separators "," and ":" (no whitespace), non-ASCII characters as
they are (ensure_ascii=False) and encoded as UTF-8. `v` is 1; `at` is the time in UTC as
`YYYY-MM-DDTHH:MM:SS.ffffffZ` (a naive time, as SQLite returns it, is UTC); absent values are
`null`; `details` is the stored JSON value. `hash` = lower-case hex sha256 of those bytes.
`prev_hash` is the `hash` of the entry before (by id) or, for the first entry, GENESIS.

Nothing here touches a database: the writer (dms/catalog/audit.py), `dms audit verify` and
migration 0004 (which chains the rows written before it) share these functions.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

FORMAT = 1
GENESIS = "0" * 64
FIELDS = (
    "id", "at", "actor", "action", "object_type", "object_id", "customer_number", "document_id",
    "version", "ip", "user_agent", "request_id", "details", "prev_hash",
)


def canonical_time(at: datetime) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def normalise_details(details: dict[str, Any]) -> dict[str, Any]:
    """Details as they come back from the JSON column (string keys; dates etc. as text)."""
    return json.loads(json.dumps(details, default=str))


def canonical(entry: dict[str, Any]) -> bytes:
    """The canonical bytes of an entry (a mapping with every name in FIELDS)."""
    content: dict[str, Any] = {name: entry[name] for name in FIELDS}
    content["v"] = FORMAT
    content["at"] = canonical_time(entry["at"])
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_hash(entry: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(entry)).hexdigest()
