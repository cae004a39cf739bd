"""Stage: read the stored original back (the original was stored when it was received)."""

from __future__ import annotations

import hashlib

from dms.errors import IngestError
from ingest.context import IngestContext
from ingest.ports import IngestServices


def load_original(ctx: IngestContext, services: IngestServices) -> None:
    ctx.data = services.store.get(ctx.storage_key)
    digest = hashlib.sha256(ctx.data).hexdigest()
    if ctx.sha256 and digest != ctx.sha256:
        raise IngestError(
            f"Die gespeicherte Datei weicht von der empfangenen ab (sha256 {digest[:12]}…).", code="checksum_mismatch"
        )
    ctx.sha256, ctx.size = digest, len(ctx.data)
