"""Builds the backends from the settings. Callers get interfaces and never know which one.

`Services` is what every use case (dms.app) and every ingest stage (as `ingest.ports.IngestServices`)
works with.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from dms.catalog import Catalog
from dms.config import Settings
from dms.queue import InProcessQueue, TaskQueue
from dms.search import EmbeddedSearchIndex, SearchIndex, SearchLimits
from dms.storage import ArchiveStore, LocalArchiveStore, LocalObjectStore, ObjectStore
from dms.webhooks.config import endpoints as webhook_endpoints


@dataclass
class Services:
    settings: Settings
    store: ObjectStore
    catalog: Catalog
    index: SearchIndex
    queue: TaskQueue | None = None
    archive: ArchiveStore | None = None
    # Serialises "is this a duplicate?" + "store it" within one process.
    receive_lock: threading.Lock = field(default_factory=threading.Lock)

    def backends(self) -> dict[str, Any]:
        backends = {"store": self.store, "catalog": self.catalog, "index": self.index, "queue": self.queue}
        if self.archive is not None:
            backends["archive"] = self.archive
        return backends

    def close(self) -> None:
        if self.queue is not None:
            self.queue.shutdown()
        self.catalog.close()


def open_store(settings: Settings) -> ObjectStore:
    if settings.s3_endpoint:
        from dms.storage.s3 import S3ObjectStore

        store = S3ObjectStore(
            settings.s3_endpoint, settings.s3_access_key or "", settings.s3_secret_key or "",
            settings.s3_bucket, settings.s3_region,
        )
        store.ensure_bucket()
        return store
    return LocalObjectStore(settings.data_dir / "objects")


def open_archive(settings: Settings) -> ArchiveStore:
    """The WORM archive: an S3 Object Lock bucket on scale-out (tamper-proof); on embedded defaults
    `LocalArchiveStore(data_dir / "archive")`, which enforces the same rules in software only."""
    if not settings.s3_endpoint:
        return LocalArchiveStore(settings.data_dir / "archive")
    from dms.storage.s3 import S3ArchiveStore

    archive = S3ArchiveStore(
        settings.s3_endpoint, settings.s3_access_key or "", settings.s3_secret_key or "",
        settings.s3_archive_bucket, settings.s3_region,
    )
    archive.ensure_bucket()
    return archive


def catalog_url(settings: Settings) -> str:
    return settings.database_url or f"sqlite:///{(settings.data_dir / 'catalog.db').resolve()}"


def open_catalog(settings: Settings) -> Catalog:
    from dms.catalog import migrate

    url = catalog_url(settings)
    migrate.upgrade(url)
    return Catalog(url)


def open_index(settings: Settings) -> SearchIndex:
    if settings.opensearch_url:
        from dms.search.opensearch import OpenSearchIndex

        index = OpenSearchIndex(
            settings.opensearch_url, settings.opensearch_index, limits=SearchLimits.from_settings(settings)
        )
        index.ensure_index()
        return index
    return EmbeddedSearchIndex(settings.data_dir / "search.db", limits=SearchLimits.from_settings(settings))


def open_queue(settings: Settings, services: Services) -> TaskQueue:
    if settings.redis_url:
        from dms.queue.celery_app import make_celery
        from dms.queue.celery_queue import CeleryQueue

        return CeleryQueue(make_celery(settings))
    from dms.app.tasks import run_task

    return InProcessQueue(lambda name, kwargs: run_task(services, name, kwargs), workers=settings.workers)


def build_services(settings: Settings, *, with_queue: bool = True) -> Services:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # final statuses queue a webhook event per subscribed endpoint (dms/webhooks); checked first
    targets = [e.target for e in webhook_endpoints(settings)]
    services = Services(
        settings=settings,
        store=open_store(settings),
        catalog=open_catalog(settings),
        index=open_index(settings),
        archive=open_archive(settings),
    )
    services.catalog.outbox.set_targets(targets)
    if with_queue:
        services.queue = open_queue(settings, services)
    return services
