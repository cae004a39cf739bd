"""Command line for deleting (issue #12): `dms retention sweep|purge-trash|approve|reject|runs|show|
delete|restore|trash|record` (registered by `register`).

The CLI acts as the local administrator `cli`. It cannot authenticate a person, so approving a
run names the approving admin with `--user NAME` (an active user with role admin, not the one who
started the run); with `DMS_AUTH_MODE=users` the API's approval (`POST /api/v1/retention/runs/<id>/approve`)
is the one bound to a login.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from dms.errors import DmsError


def register(main: click.Group) -> None:
    """Add the `retention` group to the main command group."""
    main.add_command(retention)


def _services():
    from dms.app.services import build_services
    from dms.config import Settings

    return build_services(Settings.from_env(), with_queue=False)


def _fail(exc: DmsError) -> None:
    click.secho(f"Fehler [{exc.code}]: {exc.message}", fg="red", err=True)
    for key in ("deletable_from_text", "deletable_from"):
        if key in exc.details:
            click.echo(f"{key}: {exc.details[key]}", err=True)
    sys.exit(1)


def _run(action: Any) -> Any:
    """Call `action(services)` with the services of this command; a DmsError exits 1 with its message."""
    try:
        services = _services()
        try:
            return action(services)
        finally:
            services.close()
    except DmsError as exc:
        _fail(exc)


def _show(run: Any, as_json: bool, *, items: bool = True) -> None:
    if as_json:
        click.echo(json.dumps(run.to_dict(), ensure_ascii=False, sort_keys=True))
        return
    approved = f", freigegeben von {run.approved_by}" if run.approved_by else ""
    click.echo(f"Lauf {run.id} ({run.kind}): {run.status} – {len(run.planned)} geplant, {run.deleted} gelöscht, "
               f"{run.skipped} übersprungen, {run.failed} fehlgeschlagen (von {run.created_by}{approved})")
    if not items:
        return
    done = {item["document_id"]: item for item in run.items}
    for planned in run.planned:
        item = done.get(planned["document_id"], {})
        state = item.get("status", "geplant")
        extra = item.get("record_key") or item.get("reason") or ""
        click.echo(f"  {planned['document_id']}  {planned.get('customer_number') or '-'}  {planned.get('class') or '-'}"
                   f"  {state}  {extra}")


@click.group()
def retention() -> None:
    """Deleting: retention sweep, approval, trash."""


@retention.command("sweep")
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@click.option("--user", "user", help="The admin starting the run (recorded; cannot approve it).")
@click.option("--json", "as_json", is_flag=True, help="The run as JSON.")
def sweep_command(dry_run: bool, user: str | None, as_json: bool) -> None:
    """Delete every trace of documents whose retention expired and that no legal hold keeps."""
    from dms.app.deletion_runs import sweep
    from dms.app.principal import CLI

    run = _run(lambda s: sweep(s, CLI, dry_run=dry_run, trigger="cli", created_by=user))
    _show(run, as_json)
    if run.status == "awaiting_approval" and not as_json:
        click.echo(f"Wartet auf Freigabe durch einen zweiten Administrator: dms retention approve {run.id} --user NAME")
    sys.exit(1 if run.status == "failed" else 0)


@retention.command("purge-trash")
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@click.option("--json", "as_json", is_flag=True)
def purge_trash_command(dry_run: bool, as_json: bool) -> None:
    """Delete for good what has been in the trash for [deletion] trash_days."""
    from dms.app.deletion_runs import purge_trash
    from dms.app.principal import CLI

    run = _run(lambda s: purge_trash(s, CLI, dry_run=dry_run, trigger="cli"))
    _show(run, as_json)
    sys.exit(1 if run.status == "failed" else 0)


@retention.command("approve")
@click.argument("run_id")
@click.option("--user", "user", required=True, help="The approving admin (an active user with role admin).")
@click.option("--json", "as_json", is_flag=True)
def approve_command(run_id: str, user: str, as_json: bool) -> None:
    """Approve a run awaiting approval (a second admin); it deletes at once."""
    from dms.app.deletion_runs import approve
    from dms.app.principal import CLI

    run = _run(lambda s: approve(s, CLI, run_id, as_user=user))
    _show(run, as_json)
    sys.exit(1 if run.status == "failed" else 0)


@retention.command("reject")
@click.argument("run_id")
@click.option("--user", "user", help="Who rejects it (recorded).")
def reject_command(run_id: str, user: str | None) -> None:
    """Drop a run awaiting approval; nothing is deleted."""
    from dms.app.deletion_runs import reject
    from dms.app.principal import CLI

    _show(_run(lambda s: reject(s, CLI, run_id, as_user=user)), False, items=False)


@retention.command("runs")
@click.option("--status", help="Only runs in this status (e.g. awaiting_approval).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 500))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def runs_command(status: str | None, limit: int, as_json: bool) -> None:
    """Deletion runs, newest first."""
    from dms.app.deletion_runs import list_runs
    from dms.app.principal import CLI

    for run in _run(lambda s: list_runs(s, CLI, status=status, limit=limit)):
        _show(run, as_json, items=False)


@retention.command("show")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True)
def show_command(run_id: str, as_json: bool) -> None:
    """One run with what became of each document."""
    from dms.app.deletion_runs import get_run
    from dms.app.principal import CLI

    _show(_run(lambda s: get_run(s, CLI, run_id)), as_json)


@retention.command("delete")
@click.argument("document_id")
@click.option("--version", type=click.IntRange(1), help="Only this (older) version.")
def delete_command(document_id: str, version: int | None) -> None:
    """Delete a document (to the trash) or one older version; refused under retention or legal hold."""
    from dms.app.deletion import delete_document
    from dms.app.principal import CLI

    outcome = _run(lambda s: delete_document(s, CLI, document_id, version))
    if outcome["outcome"] == "trashed":
        click.echo(f"{document_id} im Papierkorb; endgültig gelöscht nach {outcome['purge_after'][:19]}Z")
    else:
        click.echo(f"{document_id}: Version {outcome['version']} gelöscht")


@retention.command("restore")
@click.argument("document_id")
def restore_command(document_id: str) -> None:
    """Take a document out of the trash."""
    from dms.app.deletion import restore_document
    from dms.app.principal import CLI

    _run(lambda s: restore_document(s, CLI, document_id))
    click.echo(f"{document_id} wiederhergestellt")


@retention.command("trash")
def trash_command() -> None:
    """Documents in the trash, oldest first."""
    from dms.app.deletion import trash
    from dms.app.principal import CLI

    for item in _run(lambda s: trash(s, CLI)):
        click.echo(f"{item['document_id']}  {item['customer_number'] or '-'}  {item['trashed_at'][:19]}Z  "
                   f"bis {item['purge_after'][:19]}Z  {item['title']}")


@retention.command("record")
@click.argument("document_id")
def record_command(document_id: str) -> None:
    """The deletion record of a deleted document, as kept in the archive (JSON)."""
    from dms.app.deletion import read_record
    from dms.app.principal import CLI

    found = _run(lambda s: read_record(s, CLI, document_id))
    click.echo(json.dumps(found, ensure_ascii=False, indent=1, sort_keys=True))
