"""Command line for the audit trail: `dms audit verify`, `dms audit list` (registered by `register`)."""

from __future__ import annotations

import json
import sys
from datetime import date

import click

from dms.errors import DmsError


def register(main: click.Group) -> None:
    """Add the `audit` group to the main command group."""
    main.add_command(audit)


def _services():
    from dms.app.services import build_services
    from dms.config import Settings

    return build_services(Settings.from_env(), with_queue=False)


def _fail(exc: DmsError) -> None:
    click.secho(f"Fehler [{exc.code}]: {exc.message}", fg="red", err=True)
    sys.exit(2)


@click.group()
def audit() -> None:
    """The audit trail: check its hash chain, list entries."""


@audit.command("verify")
def audit_verify() -> None:
    """Walk the hash chain; exit 1 naming the first altered, inserted or removed entry, else 0."""
    from dms.app import audit as uc
    from dms.app.principal import CLI

    try:
        services = _services()
        try:
            report = uc.verify(services, CLI)
        finally:
            services.close()
    except DmsError as exc:
        _fail(exc)
    if not report.ok:
        click.secho(f"Audit-Kette verletzt: {report.problem}", fg="red", err=True)
        click.echo(f"{report.checked} Einträge davor sind intakt.", err=True)
        sys.exit(1)
    if report.last_id is None:
        click.echo("Audit-Kette intakt: 0 Einträge.")
        return
    click.echo(f"Audit-Kette intakt: {report.checked} Einträge (letzter: {report.last_id}, Hash {report.last_hash}).")


@audit.command("list")
@click.option("--customer", help="Only entries about this customer number.")
@click.option("--document", help="Only entries about this document id.")
@click.option("--actor", help="Only this actor (user name, token:<name>, cli).")
@click.option("--action", help="Only this action (e.g. document.download).")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), help="From this day (UTC).")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), help="Up to this day (UTC).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def audit_list(customer: str | None, document: str | None, actor: str | None, action: str | None,
               date_from, date_to, limit: int, as_json: bool) -> None:
    """Entries, newest first."""
    from dms.app import audit as uc
    from dms.app.principal import CLI
    from dms.catalog.audit import AuditFilter

    def day(value) -> date | None:
        return value.date() if value is not None else None

    where = AuditFilter(customer_number=customer, document_id=document, actor=actor, action=action,
                        date_from=day(date_from), date_to=day(date_to))
    try:
        services = _services()
        try:
            entries, _next = uc.entries(services, CLI, where, limit=limit)
        finally:
            services.close()
    except DmsError as exc:
        _fail(exc)
    for entry in entries:
        if as_json:
            click.echo(json.dumps(entry, ensure_ascii=False, sort_keys=True))
            continue
        target = " ".join(part for part in (
            entry["object_type"], entry["object_id"] or "",
            f"Kunde {entry['customer_number']}" if entry["customer_number"] else "",
            f"v{entry['version']}" if entry["version"] is not None else "",
        ) if part)
        origin = entry["ip"] or entry["user_agent"] or "-"
        click.echo(f"{entry['id']:>7}  {entry['at'][:19]}Z  {entry['actor']:<20} {entry['action']:<18} {target}  "
                   f"[{origin}]")
