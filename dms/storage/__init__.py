"""Object store backends: local folders (embedded) or S3 (scale-out); WORM archive stores likewise."""

from dms.storage.base import ArchiveLock, ArchiveStore, ObjectStore, StoredObject
from dms.storage.local import LocalObjectStore
from dms.storage.local_archive import LocalArchiveStore

__all__ = ["ArchiveLock", "ArchiveStore", "LocalArchiveStore", "LocalObjectStore", "ObjectStore", "StoredObject"]
