"""OpenAPI 3.1 for the JSON API: `@operation` on each view, the document built from the URL map.

Served at /api/v1/openapi.json (dms/web/api/system.py) and rendered at /api/docs (dms/web/docs.py).
"""

from dms.web.openapi.registry import AUTHENTICATED, PUBLIC, Header, Operation, Reply, operation, operation_of

__all__ = ["AUTHENTICATED", "PUBLIC", "Header", "Operation", "Reply", "operation", "operation_of"]
