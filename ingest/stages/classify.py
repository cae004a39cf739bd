"""Stage: document class, customer and key fields, with the reasons recorded."""

from __future__ import annotations

from classifiers import classify
from classifiers.einvoice import classify_einvoice
from ingest.context import IngestContext
from ingest.ports import IngestServices


def classify_document(ctx: IngestContext, services: IngestServices) -> None:
    catalog = services.catalog

    def customer_exists(number: str) -> bool:
        return catalog.customers.find(number) is not None

    if ctx.einvoice:
        result = classify_einvoice(
            ctx.einvoice,
            customer_exists=customer_exists,
            customers_named=lambda name: [c.number for c in catalog.customers.find_by_name(name)],
            given_class=ctx.given_class,
            given_customer=ctx.given_customer,
        )
    else:
        result = classify(
            ctx.text,
            services.settings,
            customer_exists=customer_exists,
            given_class=ctx.given_class,
            given_customer=ctx.given_customer,
        )
    ctx.document_class = result.document_class
    ctx.customer_number = result.customer_number
    ctx.fields.update(result.fields)
    ctx.fields.update(ctx.given_fields)  # the sender's fields win; classification only adds
    ctx.document_date = ctx.given_date or result.document_date
    ctx.classification = {
        "class": result.document_class,
        "class_source": result.class_source,
        "customer_number": result.customer_number,
        "customer_source": result.customer_source,
        **result.reasons,
    }
    if ctx.given_fields or ctx.given_date:
        ctx.classification["given_metadata"] = {
            "fields": sorted(ctx.given_fields), "document_date": bool(ctx.given_date),
        }
