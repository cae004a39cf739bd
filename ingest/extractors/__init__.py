"""Text extractors, chosen by a registry keyed on the detected MIME type."""

from ingest.extractors.registry import extractor_for, supported_types

__all__ = ["extractor_for", "supported_types"]
