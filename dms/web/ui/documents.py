"""The document page (`/dokumente/<id>`): preview, metadata and its edit form, e-invoice fields,
version history with a new-version form, related documents; for admins legal hold and the trash.

Every change goes through a use case (dms.app), which checks the permission and audits it; the
forms post here and come back to the page with a message (POST → redirect → GET).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask import redirect, request

from dms import validation as v
from dms.app import customers as customers_uc
from dms.app import documents as uc
from dms.app import intake
from dms.app.principal import ADMIN, DOCUMENTS_WRITE, require
from dms.domain import Document, Version
from dms.errors import DmsError
from dms.web.ui import ui_bp
from dms.web.ui.helpers import can, flash_error, flash_ok, format_date, int_param, page, principal, services

IMAGE_TYPES = ("image/png", "image/jpeg")
RELATION_LABELS = {"attachment": "Anhang", "mail": "E-Mail"}
# e-invoice fields (ingest/einvoice/model.py, classifiers/einvoice.py) in the order shown
EINVOICE_ROWS = (
    ("document_type", "Art"), ("invoice_number", "Rechnungsnummer"), ("document_date", "Rechnungsdatum"),
    ("due_date", "Fällig am"), ("seller_name", "Verkäufer"), ("buyer_name", "Käufer"),
    ("buyer_id", "Kundennummer (Käufer)"), ("buyer_reference", "Käuferreferenz"), ("currency", "Währung"),
    ("net_total", "Nettobetrag"), ("tax_total", "Umsatzsteuer"), ("gross_total", "Bruttobetrag"),
    ("due_payable", "Zahlbetrag"), ("einvoice_syntax", "Format"), ("einvoice_profile", "Profil"),
)
AMOUNTS = {"net_total", "tax_total", "gross_total", "due_payable", "unit_price", "line_total"}
DATES = {"document_date", "due_date"}
DOCUMENT_TYPES = {"invoice": "Rechnung", "credit_note": "Gutschrift"}
LINE_COLUMNS = (("line_id", "Pos."), ("name", "Bezeichnung"), ("quantity", "Menge"), ("unit_code", "Einheit"),
                ("unit_price", "Einzelpreis"), ("line_total", "Betrag"))


def preview_of(document: Document, number: int | None = None) -> dict[str, Any]:
    """What the preview pane shows of a version: `type` pdf | image | html (None: no preview) and `src`."""
    version = document.version(number) or document.latest
    kind = None
    if version is not None:
        if version.derivative_key:
            kind = "html" if version.derivative_key.endswith(".html") else "pdf"
        elif version.mime_type == "application/pdf":
            kind = "pdf"
        elif version.mime_type in IMAGE_TYPES:
            kind = "image"
    base = f"/api/v1/documents/{document.id}"
    number = version.number if version else None
    return {"version": version, "type": kind, "src": f"{base}/preview?version={number}",
            "download": f"{base}/content?version={number}&download=1"}


def derivative_label(version: Version) -> str | None:
    """The link text of a version's rendition download, None without one."""
    key = version.derivative_key or ""
    if key.endswith("searchable.pdf"):
        return "Durchsuchbares PDF"
    if key.endswith(".pdf"):
        return "Als PDF"
    if key.endswith(".html"):
        return "Lesefassung (HTML)"
    return None


def german_amount(value: Any) -> str:
    """"1234.5" → "1.234,50" (at least two decimals, more when given); anything unreadable as written."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    exponent = amount.as_tuple().exponent
    if not amount.is_finite() or not isinstance(exponent, int):
        return str(value)
    text = f"{amount:,.{max(2, -exponent)}f}"
    return text.replace(",", "_").replace(".", ",").replace("_", ".")


def _einvoice_value(key: str, value: Any, currency: str) -> str:
    if key in AMOUNTS:
        return f"{german_amount(value)} {currency}".strip()
    if key in DATES:
        return format_date(str(value))
    if key == "document_type":
        return DOCUMENT_TYPES.get(str(value), str(value))
    return str(value)


def einvoice_of(fields: dict[str, Any]) -> dict[str, Any] | None:
    """The e-invoice table (rows of label and text, lines when present), None for other documents."""
    if "einvoice_syntax" not in fields:
        return None
    currency = str(fields.get("currency") or "")
    rows = [(label, _einvoice_value(key, fields[key], currency)) for key, label in EINVOICE_ROWS
            if fields.get(key) not in (None, "")]
    lines = []
    found = fields.get("lines")
    for line in found if isinstance(found, list) else []:
        if isinstance(line, dict):
            lines.append([_einvoice_value(key, line.get(key), currency if key in AMOUNTS else "")
                          if line.get(key) not in (None, "") else "" for key, _label in LINE_COLUMNS])
    return {"rows": rows, "lines": lines, "columns": [label for _key, label in LINE_COLUMNS]}


def editable_fields(fields: dict[str, Any]) -> list[tuple[str, str]]:
    """The fields a person edits as text (key, value): scalars, without the pipeline's reserved ones."""
    return [(key, str(value)) for key, value in fields.items()
            if key not in v.RESERVED_FIELDS and isinstance(value, uc.PLAIN)]


def fields_from_form() -> dict[str, str]:
    """The key/value rows of the edit form; a row with an empty key or value is left out (that field is
    removed). Structured fields are not in the form: `update_fields` keeps them."""
    result: dict[str, str] = {}
    names, values = request.form.getlist("feld_name"), request.form.getlist("feld_wert")
    for name, text in zip(names, values, strict=False):
        if name.strip() and text.strip():
            result[name.strip()] = text.strip()
    return result


def _back(document_id: str, **anchor: str) -> Any:
    target = f"/dokumente/{document_id}" + (f"#{anchor['to']}" if anchor.get("to") else "")
    return redirect(target, code=303)


@ui_bp.get("/dokumente/<document_id>")
def document_page(document_id: str):
    document, events = uc.get_document(services(), principal(), document_id)
    customer = None
    if document.customer_number:
        customer = customers_uc.get_customer(services(), principal(), document.customer_number)
    settings = services().settings
    folders = list(customer.folders) if customer else [*settings.folder_template]
    if settings.inbox_folder not in folders:
        folders.append(settings.inbox_folder)
    if document.folder and document.folder not in folders:
        folders.insert(0, document.folder)
    number = int_param("version", 0, minimum=0, maximum=1_000_000) or None
    versions = sorted(document.versions, key=lambda item: item.number, reverse=True)
    return page(
        "ui/document.html",
        doc=document, customer=customer, events=events,
        preview=preview_of(document, number),
        versions=versions, latest=document.latest, derivative_label=derivative_label,
        related=uc.related_documents(services(), principal(), document_id), relation_labels=RELATION_LABELS,
        einvoice=einvoice_of(document.fields),
        fields=editable_fields(document.fields),
        structured=[k for k, value in document.fields.items()
                    if k not in v.RESERVED_FIELDS and not isinstance(value, uc.PLAIN)],
        warnings=document.fields.get("warnings") or [],
        classes=list(settings.document_classes), folders=folders,
        writable=can(DOCUMENTS_WRITE), admin=can(ADMIN),
    )


@ui_bp.post("/dokumente/<document_id>/bearbeiten")
def document_edit(document_id: str):
    """Title, class, folder (a move), tags and fields; each change audited by its use case."""
    require(principal(), DOCUMENTS_WRITE)
    form = request.form
    body = {"title": form.get("title", ""), "document_class": form.get("document_class") or None,
            "folder": form.get("folder") or None, "tags": form.get("tags", "")}
    try:
        _document, changed = uc.edit_document(services(), principal(), document_id, body, fields_from_form())
    except DmsError as exc:
        flash_error(f"Nicht gespeichert: {exc.message}")
        return _back(document_id, to="metadaten")
    flash_ok("Änderungen gespeichert." if changed else "Keine Änderungen.")
    return _back(document_id)


@ui_bp.post("/dokumente/<document_id>/version")
def document_version(document_id: str):
    """A new version from the form (the script posts drops to the API instead)."""
    require(principal(), DOCUMENTS_WRITE)
    file = request.files.get("file")
    if file is None or not file.filename:
        flash_error("Bitte eine Datei für die neue Version auswählen.")
        return _back(document_id, to="versionen")
    try:
        comment = v.text_field(request.form.get("comment"), "Kommentar", max_length=v.MAX_COMMENT, multiline=True)
        upload = intake.Upload(data=file.read(), filename=file.filename, comment=comment)
        _document, version = intake.add_version(services(), principal(), document_id, upload)
    except DmsError as exc:
        flash_error(exc.message)
        return _back(document_id, to="versionen")
    flash_ok(f"Version {version.number} wurde hochgeladen; die Verarbeitung läuft.")
    return _back(document_id, to="versionen")


@ui_bp.post("/dokumente/<document_id>/legal-hold")
def document_hold(document_id: str):
    from dms.app import retention  # loads the archive stage: only when used

    require(principal(), ADMIN)
    on = request.form.get("aktion") == "setzen"
    try:
        retention.set_legal_hold(services(), principal(), document_id=document_id, on=on,
                                 reason=request.form.get("grund"))
    except DmsError as exc:
        flash_error(exc.message)
        return _back(document_id, to="verwaltung")
    flash_ok("Legal Hold gesetzt." if on else "Legal Hold aufgehoben.")
    return _back(document_id)


@ui_bp.post("/dokumente/<document_id>/loeschen")
def document_delete(document_id: str):
    from dms.app import deletion

    require(principal(), ADMIN)
    try:
        outcome = deletion.delete_document(services(), principal(), document_id)
    except DmsError as exc:
        flash_error(exc.message)
        return _back(document_id, to="verwaltung")
    flash_ok(f"Das Dokument liegt im Papierkorb; endgültig gelöscht ab {format_date(outcome['purge_after'])}.")
    return _back(document_id)


@ui_bp.post("/dokumente/<document_id>/wiederherstellen")
def document_restore(document_id: str):
    from dms.app import deletion

    require(principal(), ADMIN)
    try:
        deletion.restore_document(services(), principal(), document_id)
    except DmsError as exc:
        flash_error(exc.message)
        return _back(document_id, to="verwaltung")
    flash_ok("Das Dokument ist wiederhergestellt.")
    return _back(document_id)
