"""Importing customers from a CSV or XLSX file: check every row, then write all of them or nothing.

Phase one reads the file (dms/app/customer_tables.py), maps its columns (dms/app/customer_columns.py) and
turns each row into the body the customers API takes, validated by the API's own validator
(`dms.customer_input.customer_input`), so an import accepts exactly what the API accepts. It also refuses what only
the whole file shows (a customer number twice, an external number taken) and warns of probable duplicates
(dms.masterdata.duplicates; a warning, not an error). A dry run stops here. Phase two writes every customer in
one catalog transaction (dms/catalog/customer_bulk.py) — on any error nothing is written — then their
sidecars. Numbers are row numbers as a spreadsheet shows them (header = row 1).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from dms import sidecars
from dms.app import customer_checks as checks
from dms.app import customer_columns as cols
from dms.app.audit import changes as audit_changes
from dms.app.audit import current_context, record
from dms.app.customer_tables import TableError, read_table
from dms.app.customer_view import audit_values
from dms.app.principal import CUSTOMERS_WRITE, Principal, require
from dms.app.services import Services
from dms.catalog.customer_aliases import CustomerAliases
from dms.catalog.customer_bulk import AuditEntry, NewCustomer, write_customers
from dms.customer_config import CustomerConfig, customer_config
from dms.domain import Customer
from dms.errors import ValidationError

# Rows of one import; the API answers synchronously (README, *Import and export*).
MAX_ROWS = 10_000
# (phase, done, total): "Prüfen" while rows are checked, "Schreiben" while customers are written.
Progress = Callable[[str, int, int], None]


@dataclass
class RowError:
    row: int
    column: str | None
    code: str
    message: str


@dataclass
class ImportReport:
    rows: int = 0
    valid: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    dry_run: bool = False
    written: bool = False
    numbers: list[str] = field(default_factory=list)  # created or updated, in file order (written imports)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Planned:
    row: int
    values: dict[str, Any]
    before: Customer | None = None  # an update: the customer as read
    changes: dict[str, Any] = field(default_factory=dict)


def import_customers(
    services: Services,
    principal: Principal,
    data: bytes,
    *,
    filename: str = "",
    dry_run: bool = False,
    update: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Check every row of the file; unless `dry_run` and when no row has an error, write them all (or none).
    `update`: a row with the number (or, without a number, the external number) of an existing customer
    changes it (only the filled cells); without it such a row is an error."""
    require(principal, CUSTOMERS_WRITE)
    report = ImportReport(dry_run=dry_run)
    plans = _check(services, data, update, report, progress)
    summary = {"filename": filename[:200], "sha256": hashlib.sha256(data).hexdigest(), "dry_run": dry_run,
               "update": update, "rows": report.rows, "errors": len(report.errors), "warnings": len(report.warnings),
               "created": report.created, "updated": report.updated, "unchanged": report.unchanged}
    if not report.errors and not dry_run:
        _write(services, principal, plans, report, summary, progress)  # audited in its transaction
    else:
        record(services, principal, "customer.import", "customer", None, **summary, written=False)
    return report


def _check(services: Services, data: bytes, update: bool, report: ImportReport,
           progress: Progress | None) -> list[_Planned]:
    try:
        table = read_table(data, services.settings, max_rows=MAX_ROWS)
    except TableError as exc:
        report.errors.append(RowError(1, None, exc.code, exc.message))
        return []
    config = customer_config(services.settings)
    lay = cols.layout(table.header, config.attributes.values())
    report.rows = len(table.rows)
    for header, code, message in lay.problems:
        report.errors.append(RowError(1, header or None, code, message))
    if lay.problems:
        return []
    known = checks.Existing.load(services)
    seen_numbers: dict[str, int] = {}
    seen_external: dict[str, int] = {}
    plans: list[_Planned] = []
    for done, (row, cells) in enumerate(table.rows, start=1):
        problems = _check_row(row, cells, lay, config, known, update, seen_numbers, seen_external, plans)
        report.errors += problems
        if progress is not None:
            progress("Prüfen", done, len(table.rows))
    report.valid = report.rows - len({e.row for e in report.errors if e.row > 1})
    report.warnings = checks.duplicate_warnings(_for_duplicates(plans, known), known, lay)
    report.created = sum(1 for p in plans if p.before is None)
    report.updated = sum(1 for p in plans if p.before is not None and p.changes)
    report.unchanged = sum(1 for p in plans if p.before is not None and not p.changes)
    return plans


def _for_duplicates(plans: list[_Planned], known: checks.Existing) -> list[tuple[int, dict[str, Any]]]:
    """(row, customer as it will be) of every row that creates a customer or changes what identifies one."""
    found: list[tuple[int, dict[str, Any]]] = []
    for plan in plans:
        if plan.before is None:
            found.append((plan.row, plan.values))
        elif set(plan.changes) & checks.IDENTIFYING:
            found.append((plan.row, {**known.view(plan.before), **plan.values, "number": plan.before.number}))
    return found


def _check_row(row: int, cells: list[str], lay: cols.Layout, config: CustomerConfig,
               known: checks.Existing, update: bool, seen_numbers: dict[str, int], seen_external: dict[str, int],
               plans: list[_Planned]) -> list[RowError]:
    errors: list[RowError] = []

    def error(field_name: str, code: str, message: str) -> None:
        errors.append(RowError(row, lay.column(field_name), code, message))

    raw = {f: cells[i].strip() for i, f in lay.fields.items() if i < len(cells)}
    number = raw.get("number") or None
    external = raw.get("external_number") or None
    before = known.by_number.get(number) if number else None
    if before is None and number is None and external and update:
        before = known.by_external.get(checks.fold_number(external))
    if number and number in known.aliases:
        error("number", "customer_exists", f"Die Kundennummer {number} gehörte einem Kunden, der zusammengeführt "
              "wurde; sie wird nicht wieder vergeben.")
        return errors
    if number and number in seen_numbers:
        error("number", "duplicate_number", f"Kundennummer {number} steht schon in Zeile {seen_numbers[number]}.")
    elif number:
        seen_numbers[number] = row
    if before is not None and not update:
        error("number" if number else "external_number", "customer_exists",
              f"Kunde {before.number} existiert bereits; zum Aktualisieren mit „aktualisieren“ (--update) importieren.")
        return errors
    body = cols.row_body(cells, lay, known.view(before) if before else None)
    try:
        values = checks.validate(body, config, before=before)
    except ValidationError as exc:
        for field_name, code, message in checks.field_errors(exc):
            error(cols.field_of_error(field_name), code, message)
        return errors
    if external:
        key = checks.fold_number(external)
        owner = known.by_external.get(key)
        if key in seen_external:
            error("external_number", "duplicate_external_number",
                  f"Externe Nummer {external} steht schon in Zeile {seen_external[key]}.")
        elif owner is not None and (before is None or owner.number != before.number):
            error("external_number", "external_number_taken",
                  f"Externe Nummer {external} gehört schon Kunde {owner.number}.")
        seen_external[key] = row
    if errors:
        return errors
    plan = _Planned(row, values, before)
    if before is not None:
        plan.changes = checks.changes(known.view(before), values)
    plans.append(plan)
    return errors


def _write(services: Services, principal: Principal, plans: list[_Planned], report: ImportReport,
           summary: dict[str, Any], progress: Progress | None) -> None:
    """All customers and their audit entries in one transaction; then their sidecars (the object store is the
    system of record: `dms rebuild-catalog` restores them)."""
    settings = services.settings
    creates = [p for p in plans if p.before is None]
    changes = [p for p in plans if p.before is not None and p.changes]
    warned = {w["row"]: [c.get("number") or f"Zeile {c.get('row')}" for c in w["candidates"]]
              for w in report.warnings}

    def entries(created: list[Customer], updated: list[Customer]) -> list[AuditEntry]:
        out: list[AuditEntry] = []
        for plan, customer in zip(creates, created, strict=True):
            shown = sorted({"name", "kind", "status", *plan.values} - {"force"})
            details: dict[str, Any] = {"new": audit_values(customer, shown), "via": "import", "row": plan.row}
            if plan.row in warned:
                details["probable_duplicate_of"] = warned[plan.row]
            out.append(AuditEntry("customer.create", "customer", customer.number, details))
        for plan, customer in zip(changes, updated, strict=True):
            fields = sorted(plan.changes)
            old_new = audit_changes(audit_values(plan.before, fields), audit_values(customer, fields))
            out.append(AuditEntry("customer.update", "customer", customer.number,
                                  {"fields": fields, "via": "import", "row": plan.row, **old_new}))
        out.append(AuditEntry("customer.import", "customer", None, {**summary, "written": True}))
        return out

    context = current_context()
    reserved = set(CustomerAliases(services.catalog.db).numbers())  # merged customers' numbers stay taken
    created, updated = write_customers(
        services.catalog, [NewCustomer(p.row, p.values) for p in creates], [(p.before, p.changes) for p in changes],
        folders=settings.folder_template, first_number=settings.first_customer_number, reserved=reserved, audit=entries,
        actor=principal.name, context={"ip": context.ip, "user_agent": context.user_agent,
                                       "request_id": context.request_id},
    )
    report.written = True
    written = [*created, *updated]
    for done, customer in enumerate(written, start=1):
        sidecars.write_customer(services.store, customer)
        if progress is not None:
            progress("Schreiben", done, len(written))
    numbers = {p.row: c.number for p, c in zip(creates, created, strict=True)}
    numbers.update({p.row: p.before.number for p in plans if p.before is not None})
    report.numbers = [numbers[p.row] for p in plans]
