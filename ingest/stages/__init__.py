"""Pipeline stages. Each takes (ctx, services) and changes ctx (and the backends) or raises IngestError."""
