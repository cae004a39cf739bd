"""Customer statuses over time: the automatic status on the first invoice, and the configuration
check that no status, group or branch still in use has been removed from `[customers]`.

`after_filing` runs where a document ends up filed (the ingest task of the queue, `dms ingest`,
filing by hand): with `[customers] auto_status_on_invoice = "Kunde"`, a filed document of one of
the `invoice_classes` turns a customer in one of the `auto_status_from` statuses (default
Interessent) into that status, audited as `customer.update` by `system` with `via: "invoice"`.
"""

from __future__ import annotations

import logging

from dms import sidecars
from dms.app.audit import record
from dms.app.principal import ADMIN, Principal
from dms.app.services import Services
from dms.customer_config import customer_config
from dms.domain import Customer, DocumentStatus
from dms.errors import DmsError, PreconditionFailed, ValidationError

log = logging.getLogger(__name__)

SYSTEM = Principal("system", frozenset({ADMIN}))  # changes the service makes by itself


def after_filing(services: Services, document_id: str) -> Customer | None:
    """Set the configured status when a filed invoice is the first of a prospect; the changed customer or None.

    Never fails the filing: a problem is logged (the next invoice tries again)."""
    try:
        return _promote(services, document_id)
    except DmsError as exc:
        log.warning("automatic customer status after %s not set: %s", document_id, exc.message)
        return None


def _promote(services: Services, document_id: str) -> Customer | None:
    config = customer_config(services.settings)
    target = config.auto_status_on_invoice
    if not target:
        return None
    document = services.catalog.documents.get(document_id)
    if (document.status != DocumentStatus.FILED or document.customer_number is None
            or document.document_class not in config.invoice_classes):
        return None
    customers = services.catalog.customers
    for _ in range(3):
        before = customers.get(document.customer_number)
        if before.status == target or before.status not in config.auto_status_from:
            return None
        try:
            customer = customers.update(before.number, if_match=[before.etag], statuses=config.statuses,
                                        status=target)
        except PreconditionFailed:
            continue  # changed meanwhile: look again
        sidecars.write_customer(services.store, customer)
        record(services, SYSTEM, "customer.update", "customer", customer.number, fields=["status"],
               old={"status": before.status}, new={"status": target}, via="invoice", document_id=document_id)
        return customer
    return None


def config_problems(services: Services) -> list[str]:
    """What is wrong with `[customers]` for the customers in the catalog (German, one line each): the
    settings themselves, and statuses, groups and branches that customers still have but the lists lack."""
    try:
        config = customer_config(services.settings)
    except ValidationError as exc:
        return [exc.message]
    used = services.catalog.customers.value_counts()
    problems = []
    for what, key, listed in (("Der Status", "status", config.statuses), ("Die Gruppe", "groups", config.groups),
                              ("Die Filiale", "branch", config.branches)):
        for value, count in sorted(used[key].items()):
            if value not in listed:
                setting = {"status": "statuses", "groups": "groups", "branch": "branches"}[key]
                problems.append(
                    f"{what} {value!r} wird noch von {count} Kunde(n) verwendet, fehlt aber in [customers] "
                    f"{setting} ({', '.join(listed)}). Wieder aufnehmen oder die Kunden vorher umstellen."
                )
    return problems
