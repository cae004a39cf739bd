"""The start page `/`: the search box, this user's recently opened customer files, the Posteingang
count, the documents that failed and the user's due follow-ups (Wiedervorlagen)."""

from __future__ import annotations

from dataclasses import dataclass

from dms.app import documents as uc
from dms.app.branches import sees_customer
from dms.app.principal import CUSTOMERS_READ
from dms.catalog.audit import AuditFilter
from dms.domain import Customer, DocumentStatus
from dms.web.ui import ui_bp
from dms.web.ui.customer_tabs import due_followups
from dms.web.ui.helpers import can, page, principal, services

FAILED_SHOWN = 10
INBOX_COUNT_CAP = 999  # the start page counts up to this many ("999+" beyond)
RECENT_SCAN = 500  # own `file.read` entries looked at for the recently opened files


@dataclass(frozen=True)
class InboxCount:
    count: int
    more: bool

    @property
    def text(self) -> str:
        return f"{self.count}+" if self.more else str(self.count)


def recent_files(limit: int) -> list[Customer]:
    """The customer files this user opened last (their own `file.read` entries of the audit trail),
    newest first, each once; files of customers that no longer exist are left out."""
    if limit < 1 or not can(CUSTOMERS_READ):
        return []
    entries = services().catalog.audit.page(AuditFilter(actor=principal().name, action="file.read"), limit=RECENT_SCAN)
    numbers: list[str] = []
    for entry in entries:
        number = entry.get("object_id") or entry.get("customer_number")
        if number and number not in numbers:
            numbers.append(str(number))
    found = []
    for number in numbers:
        customer = services().catalog.customers.find(number)
        if (customer is not None and customer.erasure_state != "erased"
                and sees_customer(services(), principal(), customer)):
            found.append(customer)
        if len(found) >= limit:
            break
    return found


def inbox_count() -> InboxCount:
    listed = uc.list_documents(services(), principal(), status=DocumentStatus.NEEDS_REVIEW.value,
                               limit=INBOX_COUNT_CAP)
    return InboxCount(len(listed.documents), listed.has_more)


@ui_bp.get("/")
def home():
    limit = int(services().settings.web.get("recent_files", 8))
    failed = uc.list_documents(services(), principal(), status=DocumentStatus.FAILED.value, limit=FAILED_SHOWN)
    return page("ui/home.html", recent=recent_files(limit), inbox=inbox_count(), failed=failed.documents,
                followups=due_followups())
