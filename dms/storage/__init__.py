"""Object store backends: local folders (embedded) or S3 (scale-out)."""

from dms.storage.base import ArchiveStore, ObjectStore, StoredObject
from dms.storage.local import LocalObjectStore

__all__ = ["ArchiveStore", "LocalObjectStore", "ObjectStore", "StoredObject"]
