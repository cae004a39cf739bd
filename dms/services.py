"""Builds the backends from the settings. Callers get interfaces and never know which one."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from dms.catalog import Catalog
from dms.config import Settings
from dms.queue import InProcessQueue, TaskQueue
from dms.search import EmbeddedSearchIndex, SearchIndex
from dms.storage import LocalObjectStore, ObjectStore


@dataclass
class Services:
    settings: Settings
    store: ObjectStore
    catalog: Catalog
    index: SearchIndex
    queue: TaskQueue | None = None
    # Serialises "is this a duplicate?" + "store it" within one process.
    receive_lock: threading.Lock = field(default_factory=threading.Lock)

    def backends(self) -> dict[str, Any]:
        return {"store": self.store, "catalog": self.catalog, "index": self.index, "queue": self.queue}

    def describe(self) -> dict[str, str]:
        """Which implementation each backend uses and where it points (no secrets)."""
        s = self.settings
        catalog_url = self.catalog.engine.url.render_as_string(hide_password=True)
        return {
            "store": f"S3 {s.s3_endpoint} bucket {s.s3_bucket}" if s.s3_endpoint else f"local {s.data_dir / 'objects'}",
            "catalog": catalog_url,
            "index": f"OpenSearch {s.opensearch_url} alias {s.opensearch_index}"
            if s.opensearch_url
            else f"embedded {s.data_dir / 'search.db'}",
            "queue": "Celery on Redis" if s.redis_url else f"in-process ({s.workers} threads)",
        }

    def close(self) -> None:
        if self.queue is not None:
            self.queue.shutdown()
        self.catalog.close()


def open_store(settings: Settings) -> ObjectStore:
    return LocalObjectStore(settings.data_dir / "objects")


def open_catalog(settings: Settings) -> Catalog:
    url = settings.database_url or f"sqlite:///{(settings.data_dir / 'catalog.db').resolve()}"
    catalog = Catalog(url)
    catalog.create_schema()
    return catalog


def open_index(settings: Settings) -> SearchIndex:
    return EmbeddedSearchIndex(settings.data_dir / "search.db")


def open_queue(settings: Settings, services: Services) -> TaskQueue:
    from dms.tasks import run_task

    return InProcessQueue(lambda name, kwargs: run_task(services, name, kwargs), workers=settings.workers)


def build_services(settings: Settings, *, with_queue: bool = True) -> Services:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    services = Services(
        settings=settings,
        store=open_store(settings),
        catalog=open_catalog(settings),
        index=open_index(settings),
    )
    if with_queue:
        services.queue = open_queue(settings, services)
    return services
