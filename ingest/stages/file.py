"""Stage: put the document into the customer file (or the inbox) and decide its status."""

from __future__ import annotations

from dms.domain import DocumentStatus
from ingest.context import IngestContext
from ingest.ports import IngestServices


def file_document(ctx: IngestContext, services: IngestServices) -> None:
    settings = services.settings
    inbox = settings.inbox_folder
    reasons: list[str] = []
    if not ctx.customer_number:
        unknown = ctx.classification.get("unknown_customer_numbers")
        reasons.append(
            f"Kundennummer {', '.join(unknown)} ist unbekannt." if unknown else "Kein Kunde erkannt."
        )
        if ctx.given_review_note:
            reasons.append(ctx.given_review_note)
    class_source = ctx.classification.get("class_source")
    if ctx.given_folder:
        ctx.folder = ctx.given_folder
    elif class_source == "fallback":
        ctx.folder = inbox
        reasons.append("Dokumentklasse nicht erkannt.")
    else:
        ctx.folder = settings.folder_for_class(ctx.document_class or settings.fallback_class)
    if not ctx.customer_number:
        ctx.folder = inbox
    ctx.title = ctx.given_title or ctx.title
    if not ctx.given_title and ctx.version == 1 and ctx.fields.get("invoice_number"):
        ctx.title = f"{ctx.document_class or 'Rechnung'} {ctx.fields['invoice_number']}"
    # assignment problems first (they decide the folder), then what was not read (budgets)
    parts = [" ".join(reasons) + " Bitte prüfen und zuordnen."] if reasons else []
    if ctx.review_reasons:
        parts.append(" ".join(ctx.review_reasons) + ("" if reasons else " Bitte prüfen."))
    ctx.status = DocumentStatus.NEEDS_REVIEW if parts else DocumentStatus.FILED
    ctx.status_reason = " ".join(parts) if parts else None
    if not ctx.is_latest:
        return  # an older version finishing late must not overwrite the filing of a newer one
    fields = dict(ctx.fields)
    if ctx.warnings:
        fields["warnings"] = list(ctx.warnings)
    services.catalog.documents.update(
        ctx.document_id,
        customer_number=ctx.customer_number,
        folder=ctx.folder,
        document_class=ctx.document_class,
        title=ctx.title or ctx.filename,
        fields=fields,
        classification={**ctx.classification, **({"given": ctx.given} if ctx.given else {})},
        document_date=ctx.document_date,
    )
    # the document sidecar is written once the final status is set (pipeline runner)
