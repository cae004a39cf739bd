"""One audit entry per use case: actor name, action, object and details."""

from __future__ import annotations

from typing import Any

from dms.app.principal import Principal
from dms.app.services import Services


def record(
    services: Services, principal: Principal, action: str, object_type: str, object_id: str | None, **details: Any
) -> None:
    services.catalog.audit.record(principal.name, action, object_type, object_id, **details)
