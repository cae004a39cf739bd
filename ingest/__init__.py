"""The ingest pipeline: small stage functions over one IngestContext, run in order."""
