"""The customer file (`/kunden/<nr>`): the Aktenplan with counts, the documents of one folder
(sortable; `?partial=1` returns only the table, for the upload script), a preview of
`?dokument=<id>`; and `POST /kunden/<nr>/hochladen`, the upload form without JavaScript."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote, urlencode

from flask import redirect, request

from dms.app import customers as uc
from dms.app import documents as documents_uc
from dms.app import intake
from dms.app.principal import DOCUMENTS_WRITE, require
from dms.domain import Document, Source
from dms.errors import DmsError, NotFound
from dms.web.ui import ui_bp
from dms.web.ui.documents import preview_of
from dms.web.ui.helpers import can, flash_error, flash_ok, page, principal, services, text_param

SORTS = ("datum", "titel")
DIRECTIONS = ("auf", "ab")
DEFAULT_DIRECTION = {"datum": "ab", "titel": "auf"}  # newest first; titles A to Z


def file_url(number: str, **params: str | None) -> str:
    """`/kunden/<nr>` with the given query parameters (None and empty ones left out)."""
    query = urlencode({k: v for k, v in params.items() if v})
    return f"/kunden/{quote(number, safe='')}" + (f"?{query}" if query else "")


@dataclass(frozen=True)
class View:
    """What the file shows: folder, sort order, direction (the state every link keeps)."""

    number: str
    folder: str
    sort: str
    direction: str

    def params(self, **changes: str | None) -> dict[str, str | None]:
        return {"ordner": self.folder, "sortierung": self.sort, "richtung": self.direction, **changes}

    def url(self, **changes: str | None) -> str:
        return file_url(self.number, **self.params(**changes))

    def sort_url(self, sort: str) -> str:
        """The link of a column header: the other direction when it is the current sort."""
        flipped = "auf" if self.direction == "ab" else "ab"
        direction = flipped if sort == self.sort else DEFAULT_DIRECTION[sort]
        return self.url(sortierung=sort, richtung=direction)

    def aria_sort(self, sort: str) -> str:
        if sort != self.sort:
            return "none"
        return "ascending" if self.direction == "auf" else "descending"


def _day(document: Document) -> date:
    if document.document_date is not None:
        return document.document_date
    return document.created_at.date() if document.created_at else date.min


def _by_title(document: Document) -> tuple[Any, ...]:
    return document.title.casefold(), _day(document)


def _by_date(document: Document) -> tuple[Any, ...]:
    return _day(document), document.seq or 0  # the same day: in the order received


def sort_documents(documents: list[Document], sort: str, direction: str) -> list[Document]:
    return sorted(documents, key=_by_title if sort == "titel" else _by_date, reverse=direction == "ab")


def _view(number: str, folders: dict[str, list[Document]]) -> View:
    chosen = text_param("ordner")
    if chosen not in folders:  # default: the first folder with documents, else the first folder
        chosen = next((name for name, docs in folders.items() if docs), next(iter(folders), ""))
    sort = request.args.get("sortierung", "datum")
    sort = sort if sort in SORTS else "datum"
    direction = request.args.get("richtung", DEFAULT_DIRECTION[sort])
    return View(number, chosen, sort, direction if direction in DIRECTIONS else DEFAULT_DIRECTION[sort])


def _selected(number: str) -> tuple[Document | None, dict[str, Any] | None, str | None]:
    """The document of `?dokument=<id>` when it is in this file: (document, preview, message)."""
    document_id = text_param("dokument", max_length=64)
    if not document_id:
        return None, None, None
    try:
        document, _events = documents_uc.get_document(services(), principal(), document_id)
    except NotFound:
        return None, None, "Dieses Dokument gibt es nicht (mehr)."
    if document.customer_number != number:
        return None, None, "Dieses Dokument gehört nicht zu dieser Akte."
    return document, preview_of(document), None


@ui_bp.get("/kunden/<number>")
def customer_file(number: str):
    file = uc.customer_file(services(), principal(), number)
    view = _view(file.customer.number, file.folders)
    writable = can(DOCUMENTS_WRITE)
    droppable = set(file.customer.folders)  # an upload names a folder of the customer's Aktenplan
    partial = bool(request.args.get("partial"))
    selected, preview, message = (None, None, None) if partial else _selected(file.customer.number)
    selected_id = text_param("dokument", max_length=64) or None
    context: dict[str, Any] = {
        "customer": file.customer,
        "view": view,
        "writable": writable,
        "droppable": droppable,
        "documents": sort_documents(file.folders.get(view.folder, []), view.sort, view.direction),
        "folders": [{"name": name, "count": len(docs), "url": view.url(ordner=name, dokument=None)}
                    for name, docs in file.folders.items()],
        "selected": selected,
        "preview": preview,
        "selected_message": message,
        "selected_id": selected_id,
        "partial_url": view.url(partial="1", dokument=selected_id),
    }
    if partial:
        return page("ui/_doc_partial.html", **context)
    return page("ui/file.html", **context)


@ui_bp.post("/kunden/<number>/hochladen")
def customer_upload(number: str):
    """Files of the upload form (without JavaScript; the script posts to the API instead)."""
    require(principal(), DOCUMENTS_WRITE)
    folder = (request.form.get("folder") or "").strip() or None
    files = [f for f in request.files.getlist("file") if f.filename]
    target = file_url(number, ordner=folder)
    if not files:
        flash_error("Bitte mindestens eine Datei auswählen.")
        return redirect(target, code=303)
    stored, failed = 0, []
    for file in files:
        upload = intake.Upload(data=file.read(), filename=file.filename or "unbenannt", customer_number=number,
                               folder=folder, source=Source.UPLOAD)
        try:
            intake.receive(services(), principal(), upload)
            stored += 1
        except DmsError as exc:
            failed.append(f"{file.filename}: {exc.message}")
    if stored:
        flash_ok(f"{stored} {'Datei' if stored == 1 else 'Dateien'} hochgeladen; die Verarbeitung läuft.")
    for message in failed:
        flash_error(message)
    return redirect(target, code=303)
