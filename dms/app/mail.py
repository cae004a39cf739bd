"""Use cases on received mail: what arrived and where it went (`documents:read`), and the
quarantine (`admin`): its list and the raw message of one, whose every download is audited.

The records are written by the mail gateway (mail_gateway/filing.py, mail_gateway/quarantine.py);
releasing and deleting quarantined mail are use cases of mail_gateway.quarantine.
"""

from __future__ import annotations

from typing import Any

from dms.app.audit import record
from dms.app.principal import ADMIN, DOCUMENTS_READ, Principal, require
from dms.app.services import Services
from dms.catalog.mail import QUARANTINED, STATUSES, MailRecord
from dms.errors import NotFound, ValidationError
from dms.validation import quote


def message_view(mail: MailRecord) -> dict[str, Any]:
    """A mail record as shown: without the object store key, with whether the raw message is kept."""
    data = mail.to_dict()
    data["raw_available"] = bool(data.pop("raw_key"))
    return data


def _page(services: Services, limit: int, offset: int, **where: Any) -> dict[str, Any]:
    mail = services.catalog.mail
    messages = [message_view(m) for m in mail.list(limit=limit, offset=offset, **where)]
    return {"total": mail.count(**where), "limit": limit, "offset": offset, "messages": messages}


def list_messages(
    services: Services,
    principal: Principal,
    *,
    status: str | None = None,
    customer_number: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """Received mail, newest first: {total, limit, offset, messages}."""
    require(principal, DOCUMENTS_READ)
    if status is not None and status not in STATUSES:
        raise ValidationError(f"Unbekannter Status {quote(status)!r}.", field="status")
    return _page(services, limit, offset, status=status, customer_number=customer_number)


def get_message(services: Services, principal: Principal, mail_id: str) -> dict[str, Any]:
    """One received mail with where it went (or why it is in the quarantine)."""
    require(principal, DOCUMENTS_READ)
    mail = services.catalog.mail.get(mail_id)
    record(services, principal, "mail.read", "mail", mail_id, customer_number=mail.customer_number)
    return message_view(mail)


def list_quarantine(services: Services, principal: Principal, *, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """Quarantined mail, newest first, with the reason: {total, limit, offset, messages}."""
    require(principal, ADMIN)
    return _page(services, limit, offset, status=QUARANTINED)


def quarantined_raw(services: Services, principal: Principal, mail_id: str) -> bytes:
    """A quarantined message byte for byte (it may carry malware: every download is audited)."""
    require(principal, ADMIN)
    mail = services.catalog.mail.get(mail_id)
    if not mail.raw_key:
        raise NotFound(f"Die Nachricht {mail_id} liegt nicht (mehr) in der Quarantäne.", code="not_quarantined")
    data = services.store.get(mail.raw_key)
    record(services, principal, "mail.quarantine_download", "mail", mail_id, size=len(data), code=mail.code)
    return data
