"""`dms mail …`: received mail and the quarantine, for the operator (audited as `cli`).

    dms mail messages [--status S] [--customer NR]
    dms mail quarantine list
    dms mail quarantine show ID [--raw DATEI]
    dms mail quarantine release ID [--reason TEXT]
    dms mail quarantine delete ID --reason TEXT
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from dms.errors import DmsError


def _services(with_queue: bool = False) -> Any:
    from dms.app.services import build_services
    from dms.config import Settings

    return build_services(Settings.from_env(), with_queue=with_queue)


def _fail(exc: DmsError) -> None:
    click.secho(f"Fehler [{exc.code}]: {exc.message}", fg="red", err=True)
    sys.exit(1)


def _line(record: Any) -> str:
    received = record.received_at.strftime("%Y-%m-%d %H:%M") if record.received_at else "-"
    subject = (record.subject or "")[:60]
    return (f"{record.id}  {received}  {record.status:11} {record.customer_number or '-':8} "
            f"{record.sender or '-'}  {subject}")


@click.group("mail")
def mail_group() -> None:
    """Received mail and the mail quarantine."""


@mail_group.command("messages")
@click.option("--status", type=click.Choice(["filing", "filed", "quarantined", "released", "deleted"]))
@click.option("--customer", "customer_number", help="Only mail filed for this customer.")
@click.option("--limit", default=50, show_default=True, type=int)
@click.option("--offset", default=0, show_default=True, type=int)
def messages_command(status: str | None, customer_number: str | None, limit: int, offset: int) -> None:
    """List received mail, newest first."""
    from dms.app.principal import CLI, DOCUMENTS_READ, require

    svc = _services()
    try:
        require(CLI, DOCUMENTS_READ)
        records = svc.catalog.mail.list(status=status, customer_number=customer_number, limit=limit, offset=offset)
    except DmsError as exc:
        _fail(exc)
    finally:
        svc.close()
    for record in records:
        click.echo(_line(record))
    if not records:
        click.echo("Keine Nachrichten.")


@mail_group.group("quarantine")
def quarantine_group() -> None:
    """Mail that was not filed: list, show, release or delete it (admin)."""


@quarantine_group.command("list")
@click.option("--limit", default=50, show_default=True, type=int)
@click.option("--offset", default=0, show_default=True, type=int)
def quarantine_list(limit: int, offset: int) -> None:
    """Quarantined mail, newest first, with the reason."""
    from dms.app.principal import CLI
    from mail_gateway.quarantine import list_quarantine

    svc = _services()
    try:
        records = list_quarantine(svc, CLI, limit=limit, offset=offset)
    except DmsError as exc:
        _fail(exc)
    finally:
        svc.close()
    for record in records:
        click.echo(_line(record))
        click.echo(f"    [{record.code}] {record.reason}")
    if not records:
        click.echo("Die Quarantäne ist leer.")


@quarantine_group.command("show")
@click.argument("mail_id")
@click.option("--raw", "raw_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the message byte for byte to this file.")
def quarantine_show(mail_id: str, raw_path: Path | None) -> None:
    """One mail record; with --raw its original message."""
    from dms.app.principal import CLI
    from mail_gateway.quarantine import get_raw, show

    svc = _services()
    try:
        record = show(svc, CLI, mail_id)
        data = get_raw(svc, CLI, mail_id) if raw_path else None
    except DmsError as exc:
        _fail(exc)
    finally:
        svc.close()
    labels = {
        "id": "Id", "status": "Status", "code": "Code", "reason": "Grund", "sender": "Absender",
        "recipients": "Empfänger", "subject": "Betreff", "message_id": "Message-ID", "via": "Über",
        "received_at": "Empfangen", "customer_number": "Kunde", "mail_document_id": "Mail-Dokument",
        "document_ids": "Dokumente",
    }
    values = record.to_dict()
    for key, label in labels.items():
        value = values.get(key)
        if isinstance(value, list):
            value = ", ".join(map(str, value))
        click.echo(f"{label + ':':15} {value if value not in (None, '') else '-'}")
    if raw_path is not None and data is not None:
        raw_path.write_bytes(data)
        click.echo(f"Nachricht gespeichert: {raw_path} ({len(data)} Bytes)")


@quarantine_group.command("release")
@click.argument("mail_id")
@click.option("--reason", default=None, help="Why it is released (recorded in the audit log).")
def quarantine_release(mail_id: str, reason: str | None) -> None:
    """File a quarantined mail after all (dangerous attachments stay unfiled)."""
    from dms.app.principal import CLI
    from dms.config import Settings
    from mail_gateway.quarantine import release
    from mail_gateway.settings import MailSettings

    settings = Settings.from_env()
    # Scale-out: the workers ingest; embedded: this command runs the pipeline for what it filed.
    svc = _services(with_queue=bool(settings.redis_url))
    try:
        outcome = release(svc, CLI, mail_id, MailSettings.from_settings(svc.settings), reason=reason)
        if svc.queue is None:
            _ingest_now(svc, [outcome.mail_document_id, *(p.document_id for p in outcome.parts)])
    except DmsError as exc:
        _fail(exc)
    finally:
        svc.close()
    if outcome.status != "filed":
        click.secho(f"Nicht abgelegt ({outcome.status}): {outcome.reason or ''}", fg="yellow", err=True)
        sys.exit(2)
    customer = outcome.route.customer_number if outcome.route else None
    click.echo(f"Freigegeben und abgelegt: Mail-Dokument {outcome.mail_document_id}"
               f" ({'Kunde ' + customer if customer else 'ohne Kunde, Posteingang'})")
    for part in outcome.parts:
        click.echo(f"  {part.filename} → {part.document_id} ({part.outcome})")


def _ingest_now(svc: Any, document_ids: list[str | None]) -> None:
    from dms.domain import DocumentStatus
    from ingest.pipeline import process_version

    for document_id in dict.fromkeys(d for d in document_ids if d):
        document = svc.catalog.documents.get(document_id)
        if document.status == DocumentStatus.RECEIVED and document.latest is not None:
            process_version(svc, document_id, document.latest.number)


@quarantine_group.command("delete")
@click.argument("mail_id")
@click.option("--reason", required=True, help="Why it is deleted (recorded in the audit log).")
def quarantine_delete(mail_id: str, reason: str) -> None:
    """Delete a quarantined mail for good (its record stays, status deleted)."""
    from dms.app.principal import CLI
    from mail_gateway.quarantine import delete

    svc = _services()
    try:
        delete(svc, CLI, mail_id, reason)
    except DmsError as exc:
        _fail(exc)
    finally:
        svc.close()
    click.echo(f"Gelöscht: {mail_id}")
