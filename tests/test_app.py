"""Use cases check the permission first and write the audit entry themselves (every entry point alike)."""

from __future__ import annotations

import pytest

from dms.app import customers, documents, intake
from dms.app.principal import CLI, DOCUMENTS_READ, Principal
from dms.app.services import Services
from dms.errors import Forbidden
from tests.docgen import make_pdf

READER = Principal("leser", frozenset({DOCUMENTS_READ}))


def test_a_use_case_refuses_a_principal_without_the_permission(services: Services) -> None:
    with pytest.raises(Forbidden):
        customers.create_customer(services, READER, {"name": "Nicht erlaubt GmbH"})
    with pytest.raises(Forbidden):
        intake.receive_document(services, READER, intake.Upload(make_pdf(["x"]), "x.pdf"))
    assert services.catalog.customers.query() == []


def test_use_cases_audit_with_the_principal_name(services: Services) -> None:
    customer = customers.create_customer(services, CLI, {"name": "Audit GmbH"})
    document = intake.receive_document(
        services, CLI, intake.Upload(make_pdf(["Rechnung"]), "r.pdf", customer_number=customer.number)
    )
    documents.read_content(services, CLI, document.id)
    assert [(e["actor"], e["action"]) for e in services.catalog.audit.entries("customer", customer.number)] == [
        ("cli", "customer.create")
    ]
    assert [(e["action"], e["version"], e["customer_number"])
            for e in services.catalog.audit.entries("document", document.id)] == [
        ("document.upload", 1, customer.number),
        ("document.download", 1, customer.number),
    ]
    assert document.latest is not None and document.latest.created_by == "cli"
