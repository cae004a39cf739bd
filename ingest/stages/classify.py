"""Stage: document class, customer and key fields, with the reasons recorded."""

from __future__ import annotations

from classifiers import classify
from dms.services import Services
from ingest.context import IngestContext


def classify_document(ctx: IngestContext, services: Services) -> None:
    catalog = services.catalog
    result = classify(
        ctx.text,
        services.settings,
        customer_exists=lambda number: catalog.find_customer(number) is not None,
        given_class=ctx.given_class,
        given_customer=ctx.given_customer,
    )
    ctx.document_class = result.document_class
    ctx.customer_number = result.customer_number
    ctx.fields.update(result.fields)
    ctx.document_date = result.document_date
    ctx.classification = {
        "class": result.document_class,
        "class_source": result.class_source,
        "customer_number": result.customer_number,
        "customer_source": result.customer_source,
        **result.reasons,
    }
