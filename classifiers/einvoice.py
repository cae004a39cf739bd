"""Filing e-invoices: always class Rechnung; the customer is the buyer, by number or by name."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from classifiers import Classification

INVOICE_CLASS = "Rechnung"
# e-invoice field → our document field name where they differ
FIELD_NAMES = {"issue_date": "document_date"}


def classify_einvoice(
    einvoice: dict[str, Any],
    *,
    customer_exists: Callable[[str], bool],
    customers_named: Callable[[str], list[str]],
    given_class: str | None = None,
    given_customer: str | None = None,
) -> Classification:
    reasons: dict[str, Any] = {"einvoice": {"syntax": einvoice.get("syntax"), "origin": einvoice.get("origin")}}
    customer, source = given_customer, ("given" if given_customer else None)
    if customer is None:
        buyer_id, buyer_name = einvoice.get("buyer_id"), einvoice.get("buyer_name")
        if buyer_id and customer_exists(buyer_id):
            customer, source = buyer_id, "einvoice"
            reasons["customer_rule"] = "einvoice:buyer_id"
        elif buyer_name and len(named := customers_named(buyer_name)) == 1:
            customer, source = named[0], "einvoice"
            reasons["customer_rule"] = "einvoice:buyer_name"
        elif buyer_id:
            reasons["unknown_customer_numbers"] = [buyer_id]
    fields = {FIELD_NAMES.get(k, k): str(v) for k, v in einvoice.items() if k not in ("syntax", "profile", "origin")}
    fields["einvoice_syntax"] = str(einvoice.get("syntax"))
    if einvoice.get("profile"):
        fields["einvoice_profile"] = str(einvoice["profile"])
    issued = fields.get("document_date")
    return Classification(
        document_class=given_class or INVOICE_CLASS,
        class_source="given" if given_class else "einvoice",
        customer_number=customer,
        customer_source=source,
        fields=fields,
        document_date=date.fromisoformat(issued) if issued else None,
        reasons=reasons,
    )
