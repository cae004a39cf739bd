"""`dms mail-gateway`: the SMTP listener, the spool and the filing thread in one process."""

from __future__ import annotations

import logging
import signal
import sys
import threading

import click

from dms.config import Settings
from dms.errors import DmsError

log = logging.getLogger(__name__)


def recover_email_ingests(services) -> int:  # noqa: ANN001 - dms.app.services.Services
    """Queue again the ingests of mailed documents that a previous run left unfinished.

    Only documents with source `email`: uploads are `dms serve`'s to recover, and on the
    in-process queue two processes must not work on the same document.
    """
    from dms.app.tasks import queue_ingest
    from dms.domain import Source

    count = 0
    for document_id in services.catalog.documents.pending_ids():
        document = services.catalog.documents.get(document_id)
        if document.source == Source.EMAIL and document.latest is not None:
            queue_ingest(services, document_id, document.latest.number)
            count += 1
    return count


def check_line(settings: Settings) -> str:
    """The `dms check` line of the mail gateway: where it listens, warnings, the spool backlog."""
    from mail_gateway.settings import MailSettings
    from mail_gateway.spool import Spool

    try:
        mail = MailSettings.from_settings(settings)
    except DmsError as exc:
        return f"{'mail':8} " + click.style(f"FEHLER: {exc.message}", fg="red")
    backlog = Spool(mail.spool_dir).count() if mail.spool_dir.exists() else 0
    where = f"SMTP {mail.host}:{mail.port}, Spool {mail.spool_dir} ({backlog} wartend)"
    if mail.listens_openly():
        state = click.style(
            "WARNUNG: lauscht nicht nur auf Loopback und [mail] allowed_senders ist leer "
            "(jeder kann Post in die Akten legen)", fg="yellow")
    elif backlog:
        state = click.style(f"WARNUNG: {backlog} Nachrichten noch nicht abgelegt (läuft dms mail-gateway?)",
                            fg="yellow")
    else:
        state = click.style("ok", fg="green")
    return f"{'mail':8} {where}: {state}"


@click.command("mail-gateway")
@click.option("--host", default=None, help="Address to listen on (default: [mail] host, 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port to listen on (default: [mail] port, 2525).")
def gateway_command(host: str | None, port: int | None) -> None:
    """Receive mail by SMTP and file it into the customer files (until SIGTERM or Ctrl+C)."""
    from dms.app.services import build_services
    from mail_gateway.processor import MailProcessor
    from mail_gateway.settings import MailSettings
    from mail_gateway.smtp import SmtpGateway
    from mail_gateway.spool import Spool

    settings = Settings.from_env()
    try:
        mail = MailSettings.from_settings(settings)
    except DmsError as exc:
        click.secho(f"Fehler [{exc.code}]: {exc.message}", fg="red", err=True)
        sys.exit(1)
    if not log.isEnabledFor(logging.DEBUG):  # aiosmtpd logs every command at INFO; ours log each mail
        logging.getLogger("mail.log").setLevel(logging.WARNING)
    host = host or mail.host
    port = port if port is not None else mail.port
    if mail.auth_required and mail.auth_require_tls and not mail.tls_cert:
        click.secho("Fehler: [mail] auth_required mit auth_require_tls braucht tls_cert und tls_key "
                    "(sonst kann sich kein Gerät anmelden).", fg="red", err=True)
        sys.exit(1)
    if mail.listens_openly(host):
        click.secho(
            f"WARNUNG: das Mail-Gateway lauscht auf {host}, nicht nur auf Loopback, und [mail] allowed_senders "
            "ist leer: jeder, der den Port erreicht, kann Post in die Akten legen. Absender-Liste setzen "
            "(allowed_senders) oder auth_required = true.", fg="red", bold=True, err=True,
        )
    try:
        services = build_services(settings)
    except DmsError as exc:
        click.secho(f"Fehler [{exc.code}]: {exc.message}", fg="red", err=True)
        sys.exit(1)
    spool = Spool(mail.spool_dir)
    spool.recover()  # nothing writes yet: half-written files of a crash can go
    processor = MailProcessor(services, mail, spool)
    gateway = None
    try:
        recovered = recover_email_ingests(services)
        if recovered:
            log.info("queued %d unfinished ingests of mailed documents again", recovered)
        processor.start()  # works off what a previous run accepted first
        gateway = SmtpGateway(services, mail, spool, processor, host, port)
        gateway.start()
    except Exception as exc:
        processor.stop(60)
        services.close()
        click.secho(f"Fehler: das Mail-Gateway startet nicht auf {host}:{port}: {exc}", fg="red", err=True)
        sys.exit(1)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    click.echo(f"Mail-Gateway lauscht auf smtp://{host}:{port} (Daten: {settings.data_dir.resolve()}, "
               f"Spool: {spool.root.resolve()}, {spool.count()} wartend; Strg+C beendet)")
    try:
        while not stop.wait(1.0):
            pass
    finally:
        click.echo("Mail-Gateway wird beendet …")
        gateway.stop()  # no new mail; messages being spooled are answered first
        processor.stop()  # the message being filed is finished, the rest waits in the spool
        services.close()  # the in-process queue finishes the ingests it took
        click.echo(f"Mail-Gateway beendet ({spool.count()} Nachrichten warten im Spool).")
