"""Command line for the WORM archive (issue #12), registered by `register`:

`dms archive hold|release (--document ID | --customer NR) --reason R`, `dms archive verify
[--customer N]` (exit 1 on any finding), `dms archive show ID`, `dms archive catch-up [--reconcile]`.
Errors exit 2.
"""

from __future__ import annotations

import json
import sys

import click

from dms.errors import DmsError


def register(main: click.Group) -> None:
    """Add the `archive` group to the main command group."""
    main.add_command(archive)


def _services():
    from dms.app.services import build_services
    from dms.config import Settings

    return build_services(Settings.from_env(), with_queue=False)


def _fail(exc: DmsError) -> None:
    click.secho(f"Fehler [{exc.code}]: {exc.message}", fg="red", err=True)
    sys.exit(2)


@click.group()
def archive() -> None:
    """The revision-safe archive: legal holds, verification, catching up."""


def _hold(on: bool, document: str | None, customer: str | None, reason: str) -> None:
    from dms.app import retention
    from dms.app.principal import CLI

    if (document is None) == (customer is None):
        raise click.UsageError("Genau eines von --document und --customer angeben.")
    try:
        services = _services()
        try:
            result = retention.set_legal_hold(services, CLI, document_id=document, customer_number=customer,
                                              on=on, reason=reason)
        finally:
            services.close()
    except DmsError as exc:
        _fail(exc)
    what = "Dokument" if result.target == "document" else "Kunde"
    state = "gesetzt" if on else "aufgehoben"
    click.echo(f"Legal Hold {state}: {what} {result.id} ({result.objects} archivierte Objekte in "
               f"{result.documents} Dokumenten). Grund: {result.reason}")


@archive.command("hold")
@click.option("--document", help="Document id.")
@click.option("--customer", help="Customer number (covers all its documents).")
@click.option("--reason", required=True, help="Why (recorded in the audit trail).")
def hold(document: str | None, customer: str | None, reason: str) -> None:
    """Set a legal hold on a document or a customer (S3 legal hold on every archived version)."""
    _hold(True, document, customer, reason)


@archive.command("release")
@click.option("--document", help="Document id.")
@click.option("--customer", help="Customer number.")
@click.option("--reason", required=True, help="Why (recorded in the audit trail).")
def release(document: str | None, customer: str | None, reason: str) -> None:
    """Release a legal hold (versions stay held while another hold covers them)."""
    _hold(False, document, customer, reason)


@archive.command("verify")
@click.option("--customer", help="Only this customer's documents.")
@click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
def verify(customer: str | None, as_json: bool) -> None:
    """Re-read archived versions: sha256 against catalog and sidecars, missing objects, short locks.
    Exit 1 on any finding."""
    from dms.app.archive_verify import verify as run
    from dms.app.principal import CLI

    try:
        services = _services()
        try:
            report = run(services, CLI, customer_number=customer)
        finally:
            services.close()
    except DmsError as exc:
        _fail(exc)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=1))
    else:
        for finding in report.findings:
            click.secho(finding.line(), fg="red")
        click.echo(report.summary())
    sys.exit(0 if report.ok else 1)


@archive.command("show")
@click.argument("document_id")
def show(document_id: str) -> None:
    """The archived objects of a document: key, S3 version id, retained until, legal hold."""
    try:
        services = _services()
        try:
            services.catalog.documents.get(document_id)
            rows = services.catalog.archive.for_document(document_id)
        finally:
            services.close()
    except DmsError as exc:
        _fail(exc)
    if not rows:
        click.echo("Nicht archiviert.")
    for row in rows:
        until = row.retain_until.isoformat() if row.retain_until else "-"
        if not row.stored:
            click.echo(f"v{row.version} nicht archiviert: Aufbewahrung endete bereits am {until}")
            continue
        held = "  Legal Hold" if row.legal_hold else ""
        click.echo(f"v{row.version} {row.kind:<10} {row.key}  {row.version_id}  bis {until} ({row.mode}){held}")


@archive.command("catch-up")
@click.option("--reconcile", is_flag=True, help="Also re-check every archived document against the policies.")
def catch_up(reconcile: bool) -> None:
    """Archive filed versions that are not archived yet (what the worker does at start and every 15 min)."""
    from dms.app.retention import catch_up as run

    try:
        services = _services()
        try:
            result = run(services, reconcile_all=reconcile)
        finally:
            services.close()
    except DmsError as exc:
        _fail(exc)
    click.echo(f"{result.documents} Dokumente geprüft, {result.archived} Objekte archiviert, "
               f"{result.extended} Sperren verlängert, {len(result.failed)} fehlgeschlagen.")
    sys.exit(1 if result.failed else 0)
