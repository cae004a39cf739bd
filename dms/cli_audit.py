"""Command line for the audit trail: `dms audit verify`, `dms audit seal`, `dms audit list` (registered by
`register`)."""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import TYPE_CHECKING

import click

from dms.errors import DmsError

if TYPE_CHECKING:
    from dms.app.audit_seal_check import SealReport


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
    """The audit trail: check its hash chain against the seals, seal it, list entries."""


@audit.command("verify")
def audit_verify() -> None:
    """Walk the hash chain and compare it with the sealed copies in the archive; exit 1 naming what
    was altered, inserted or removed (or a seal object that is changed, missing or unlocked), else 0."""
    from dms.app import audit as uc
    from dms.app.audit_seal import verify_seals
    from dms.app.principal import CLI

    try:
        services = _services()
        try:
            report = uc.verify(services, CLI)
            sealed = verify_seals(services, CLI)
        finally:
            services.close()
    except DmsError as exc:
        _fail(exc)
    if not report.ok:
        click.secho(f"Audit-Kette verletzt: {report.problem}", fg="red", err=True)
        click.echo(f"{report.checked} Einträge davor sind intakt.", err=True)
    elif report.last_id is None:
        click.echo("Audit-Kette intakt: 0 Einträge.")
    else:
        click.echo(f"Audit-Kette intakt: {report.checked} Einträge (letzter: {report.last_id}, "
                   f"Hash {report.last_hash}).")
    _echo_seals(sealed)
    if not report.ok or not sealed.ok:
        sys.exit(1)


def _echo_seals(sealed: SealReport) -> None:
    if not sealed.archive:
        click.echo("Kein Archiv konfiguriert: kein Abgleich mit Siegeln.")
        return
    if not sealed.ok:
        click.secho(f"Abgleich mit den versiegelten Kopien: {len(sealed.findings)} Befund(e).", fg="red", err=True)
        for finding in sealed.findings:
            click.echo(f"  {finding}", err=True)
        return
    if sealed.last_seq is None:
        click.echo(f"Noch kein Siegel im Archiv ({sealed.unsealed} Einträge unversiegelt; `dms audit seal`).")
        return
    click.echo(f"Siegel intakt: {sealed.seals} Siegel, {sealed.entries} versiegelte Einträge bis Eintrag "
               f"{sealed.last_seq} stimmen mit dem Katalog überein; {sealed.unsealed} Einträge seither unversiegelt.")


@audit.command("seal")
def audit_seal() -> None:
    """Write the entries since the last seal with the chain head to the WORM archive (idempotent)."""
    from dms.app.audit_seal import seal
    from dms.app.principal import CLI

    try:
        services = _services()
        try:
            written = seal(services, CLI)
            last = services.catalog.seals.last()
        finally:
            services.close()
    except DmsError as exc:
        _fail(exc)
    if not written:
        since = f" (letztes Siegel: Einträge {last.first_seq}–{last.last_seq})" if last else ""
        click.echo(f"Nichts zu versiegeln{since}.")
        return
    for new in written:
        click.echo(f"Versiegelt: Einträge {new.first_seq}–{new.last_seq} ({new.count}) → {new.key} "
                   f"(Version {new.version_id}), Kettenkopf {new.head_hash}, gesperrt bis "
                   f"{new.retain_until.isoformat()}.")


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
