"""Opaque object keys and the JSON sidecars that make the store the system of record.

Keys carry ids only, never customer names:
  customers/<customer id>.json          customer sidecar (number, name, kind, status, tags, folders)
  documents/<doc id>/document.json      document sidecar (filing, status, fields), rewritten on change
  documents/<doc id>/v<N>/original      the bytes as received
  documents/<doc id>/v<N>/meta.json     version sidecar (sha256, size, MIME type, filename, …)
  documents/<doc id>/v<N>/text.txt      extracted text (so a reindex needs no OCR)
  documents/<doc id>/v<N>/searchable.pdf  searchable PDF derivative of a scan
"""

from __future__ import annotations

import json
from typing import Any


def customer_key(customer_id: str) -> str:
    return f"customers/{customer_id}.json"


def document_key(document_id: str) -> str:
    return f"documents/{document_id}/document.json"


def version_prefix(document_id: str, number: int) -> str:
    return f"documents/{document_id}/v{number}"


def original_key(document_id: str, number: int) -> str:
    return f"{version_prefix(document_id, number)}/original"


def version_meta_key(document_id: str, number: int) -> str:
    return f"{version_prefix(document_id, number)}/meta.json"


def text_key(document_id: str, number: int) -> str:
    return f"{version_prefix(document_id, number)}/text.txt"


def derivative_key(document_id: str, number: int, name: str) -> str:
    return f"{version_prefix(document_id, number)}/{name}"


def dump(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8")


def load(raw: bytes) -> dict[str, Any]:
    return json.loads(raw.decode("utf-8"))
