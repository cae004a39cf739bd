"""Task names → plain functions. The in-process queue and Celery both dispatch through here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dms.errors import ValidationError
from dms.services import Services


def _ingest_process(services: Services, document_id: str, version: int, force: bool = False) -> dict[str, Any]:
    """Ingest one version. Every delivery counts an attempt (see ingest.pipeline.process_version);
    `force` reprocesses a finished version and then starts counting attempts from zero."""
    from ingest.pipeline import process_version

    ctx = process_version(services, document_id, int(version), force=force)
    return {"document_id": document_id, "version": ctx.version, "status": ctx.status}


TASKS: dict[str, Callable[..., Any]] = {
    "ingest.process": _ingest_process,
}


def run_task(services: Services, name: str, kwargs: dict[str, Any]) -> Any:
    try:
        func = TASKS[name]
    except KeyError as exc:
        raise ValidationError(f"Unbekannte Aufgabe {name!r}.") from exc
    return func(services, **kwargs)
