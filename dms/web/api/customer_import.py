"""Customer tables over HTTP: `POST /customers/import`, `GET /customers/import/template`, `GET /customers/export`.

The use cases are dms/app/customer_import.py and dms/app/customer_export.py; the import answers synchronously
(at most `customer_import.MAX_ROWS` rows) with its report, also when rows have errors (then nothing was
written: `written` is false).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from flask import Response, jsonify, request
from pydantic import BaseModel, Field

from dms.app import customer_export, customer_import
from dms.app.customer_tables import MEDIA_TYPES, XLSX
from dms.app.principal import CUSTOMERS_READ, CUSTOMERS_WRITE
from dms.errors import ValidationError
from dms.web.api import api_bp, services
from dms.web.auth import require
from dms.web.openapi import Reply, operation
from dms.web.openapi import customer_models as cm
from dms.web.openapi.models import Flag
from dms.web.openapi.models import Response as ResponseModel
from dms.web.params import bool_arg, choice_arg, str_arg

FORMATS = ["csv", "xlsx"]
ATTRIBUTE_PARAM = "attr."
TABLE_TYPES = (MEDIA_TYPES["csv"].split(";")[0], MEDIA_TYPES[XLSX])


class ImportQuery(BaseModel):
    dry_run: Flag = Field(False, description="Only check every row; write nothing.")
    update: Flag = Field(False, description="A row with the number (without one: the external number) of an "
                         "existing customer changes it (only its filled cells); without `update` such a row is an "
                         "error.")


class ImportForm(BaseModel):
    """multipart/form-data: the file. `dry_run` and `update` may also be sent as form fields."""

    file: bytes = Field(description="CSV (UTF-8 with or without BOM, UTF-16 or Windows-1252; `;`, `,` or tab) or "
                        "XLSX (first sheet, or the sheet `Kunden`); the first row holds the column headers.")


class ImportRowError(ResponseModel):
    row: int = Field(ge=1, description="Row as a spreadsheet shows it (the header is row 1).")
    column: str | None = Field(description="The column's header as the file spells it; null: the whole row/file.")
    code: str
    message: str


class DuplicateCandidate(ResponseModel):
    number: str | None = Field(None, description="An existing customer ...")
    row: int | None = Field(None, description="... or an earlier row of the file.")
    name: str | None = None
    reason: str
    score: float | None = None


class ImportWarning(ResponseModel):
    row: int
    column: str | None
    code: str = Field(description="`probable_duplicate`.")
    message: str
    candidates: list[DuplicateCandidate]


class ImportReport(ResponseModel):
    rows: int = Field(description="Rows with content below the header.")
    valid: int = Field(description="Rows without an error.")
    errors: list[ImportRowError] = Field(description="Any error: nothing was written.")
    warnings: list[ImportWarning] = Field(description="Probable duplicates (imported all the same).")
    created: int = Field(description="New customers (planned in a dry run or a refused import).")
    updated: int
    unchanged: int
    dry_run: bool
    written: bool = Field(description="Whether the customers were written (all of them, in one transaction).")
    numbers: list[str] = Field(description="A written import: the customer number of each row, in file order.")


class TemplateQuery(BaseModel):
    format: Literal["csv", "xlsx"] = Field("csv", description="XLSX adds a sheet of hints per column.")


class ExportQuery(BaseModel):
    """The filters of `GET /customers` (attribute filters as `attr.<key>=value`, not listed here)."""

    format: Literal["csv", "xlsx"] = "csv"
    q: str | None = Field(None, max_length=200, description="Number, name or external number (substring).")
    status: cm.Status | None = None
    tag: str | None = Field(None, max_length=64, description="Customers with this tag (case-insensitive).")
    group: cm.Group | None = None
    branch: cm.Branch | None = None


def _flag(name: str) -> bool:
    if name in request.form:
        raw = request.form[name].strip().lower()
        if raw in ("1", "true", "ja", "yes"):
            return True
        if raw in ("", "0", "false", "nein", "no"):
            return False
        raise ValidationError(f"{name} muss 1 oder 0 sein.", field=name)
    return bool_arg(name)


@api_bp.post("/customers/import")
@operation("Import customers from a CSV or XLSX file (all rows or none)", permission=CUSTOMERS_WRITE,
           query=ImportQuery, form=ImportForm, reply=ImportReport, tag="customers",
           description="Checks every row with the rules of `POST /customers` (errors name row and column) and warns "
           "of probable duplicates; unless `dry_run`, and only when no row has an error, writes all customers in one "
           "transaction, with their audit entries. Answered synchronously; at most 10,000 rows per file (more: an "
           "error in the report; split the file or use `dms customers import`).")
def import_customers():
    principal = require(CUSTOMERS_WRITE)
    file = request.files.get("file")
    if file is None:
        raise ValidationError("Es fehlt die Datei (Formularfeld 'file').", field="file")
    report = customer_import.import_customers(
        services(), principal, file.read(), filename=file.filename or "", dry_run=_flag("dry_run"),
        update=_flag("update"),
    )
    return jsonify(report.to_dict())


def _download(data: bytes, form: str, stem: str) -> Response:
    response = Response(data, mimetype=MEDIA_TYPES[form].split(";")[0])
    if form == "csv":
        response.headers["Content-Type"] = MEDIA_TYPES[form]
    response.headers["Content-Disposition"] = f'attachment; filename="{stem}.{form}"'
    return response


@api_bp.get("/customers/import/template")
@operation("The import template: the columns, custom attributes included", permission=CUSTOMERS_READ,
           query=TemplateQuery, tag="customers",
           reply=Reply(description="An empty table (header row only); XLSX with a sheet of hints",
                       media_types=TABLE_TYPES))
def import_template():
    require(CUSTOMERS_READ)
    form = choice_arg("format", FORMATS) or "csv"
    return _download(customer_export.template(services().settings, form), form, "kunden-importvorlage")


def _attribute_filters() -> dict[str, str]:
    """`attr.<key>=value` parameters, read as `GET /customers` reads them (empty values are ignored)."""
    filters: dict[str, str] = {}
    for name in request.args:
        if name.startswith(ATTRIBUTE_PARAM):
            value = str_arg(name, max_length=200)
            if value is not None:
                filters[name[len(ATTRIBUTE_PARAM):]] = value
    return filters


@api_bp.get("/customers/export")
@operation("Export the customer list as CSV or XLSX", permission=CUSTOMERS_READ, query=ExportQuery, tag="customers",
           reply=Reply(description="The customers that match the filters, with the import's columns and one column "
                       "`Attribut:<key>` per custom attribute; bank accounts masked without `customers:bank`",
                       media_types=TABLE_TYPES),
           description="Takes the filters of `GET /customers` (also `attr.<key>=value`). The export is audited "
           "(`customer.export`, with the filters and the count).")
def export_customers():
    principal = require(CUSTOMERS_READ)
    form = choice_arg("format", FORMATS) or "csv"
    filters = customer_export.ExportFilters(
        query=str_arg("q"), status=str_arg("status", max_length=64), tag=str_arg("tag", max_length=64),
        group=str_arg("group", max_length=64), branch=str_arg("branch", max_length=64),
        attributes=_attribute_filters(),
    )
    data, _count = customer_export.export_customers(services(), principal, filters, form)
    return _download(data, form, f"kunden-{date.today().isoformat()}")
