"""`dms customers import|export|template`: customer tables in and out (CSV or XLSX).

Registered on the `dms customers` group of dms/cli.py by `register(customers)`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from dms.errors import DmsError

FORMATS = ("csv", "xlsx")


def _services():
    from dms.app.services import build_services
    from dms.config import Settings

    return build_services(Settings.from_env(), with_queue=False)


def _fail(exc: DmsError) -> None:
    click.secho(f"Fehler [{exc.code}]: {exc.message}", fg="red", err=True)
    sys.exit(1)


class _Bars:
    """The import's progress (dms.app.customer_import.Progress) as one click progress bar per phase."""

    def __init__(self) -> None:
        self.phase: str | None = None
        self.bar: Any = None
        self.shown = 0

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase != self.phase:
            self.close()
            self.phase, self.shown = phase, 0
            self.bar = click.progressbar(length=total, label=phase, show_pos=True, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.shown)
        self.shown = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _print_report(report: Any) -> None:
    for error in report.errors:
        where = f"Zeile {error.row}" + (f", Spalte „{error.column}“" if error.column else "")
        click.secho(f"{where}: {error.message} [{error.code}]", fg="red", err=True)
    for warning in report.warnings:
        click.secho(f"Zeile {warning['row']}: {warning['message']} [Warnung]", fg="yellow", err=True)
    action = "importiert" if report.written else ("geprüft (Probelauf)" if report.dry_run else "nicht importiert")
    click.echo(
        f"{report.rows} Zeilen {action}: {report.valid} gültig, {len(report.errors)} Fehler, "
        f"{len(report.warnings)} Warnungen; neu {report.created}, geändert {report.updated}, "
        f"unverändert {report.unchanged}"
    )


def register(customers: click.Group) -> None:
    customers.add_command(import_command)
    customers.add_command(export_command)
    customers.add_command(template_command)


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Only check every row; write nothing.")
@click.option("--update", is_flag=True, help="Rows of existing customers (by number) change them.")
def import_command(file: Path, dry_run: bool, update: bool) -> None:
    """Import customers from a CSV or XLSX file: all rows or none (exit 1 on any error)."""
    from dms.app.customer_import import import_customers
    from dms.app.principal import CLI

    bars = _Bars()
    try:
        report = import_customers(_services(), CLI, file.read_bytes(), filename=file.name, dry_run=dry_run,
                                  update=update, progress=bars)
    except DmsError as exc:
        bars.close()
        _fail(exc)
    bars.close()
    _print_report(report)
    sys.exit(1 if report.errors else 0)


@click.command("export")
@click.option("--format", "form", type=click.Choice(FORMATS), default="csv", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="File to write ('-': standard output).")
@click.option("-q", "query", help="Filter by number, name or external number.")
@click.option("--status", help="Only customers with this status.")
@click.option("--tag", help="Only customers with this tag.")
@click.option("--group", help="Only customers in this group.")
@click.option("--branch", help="Only customers of this branch.")
@click.option("--attr", "attributes", multiple=True, metavar="KEY=VALUE",
              help="Only customers whose attribute KEY has VALUE (repeatable).")
def export_command(form: str, output: Path, query: str | None, status: str | None, tag: str | None,
                   group: str | None, branch: str | None, attributes: tuple[str, ...]) -> None:
    """Export the customer list (with the filters) as CSV or XLSX, custom attributes included."""
    from dms.app.customer_export import ExportFilters, export_customers
    from dms.app.principal import CLI

    pairs: dict[str, str] = {}
    for item in attributes:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r}: erwartet KEY=VALUE", param_hint="--attr")
        pairs[key.strip()] = value.strip()
    filters = ExportFilters(query=query, status=status, tag=tag, group=group, branch=branch, attributes=pairs)
    try:
        data, count = export_customers(_services(), CLI, filters, form)
    except DmsError as exc:
        _fail(exc)
    _write(output, data)
    click.echo(f"{count} Kunden exportiert", err=str(output) == "-")


@click.command("template")
@click.option("--format", "form", type=click.Choice(FORMATS), default="csv", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="File to write ('-': standard output).")
def template_command(form: str, output: Path) -> None:
    """An empty import file: the columns (custom attributes included), in XLSX with a sheet of hints."""
    from dms.app.customer_export import template
    from dms.config import Settings

    _write(output, template(Settings.from_env(), form))


def _write(output: Path, data: bytes) -> None:
    if str(output) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        output.write_bytes(data)
