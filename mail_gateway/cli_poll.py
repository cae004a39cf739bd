"""`dms mail-poll`: read the IMAP mailbox of `[mail.imap]` and file its mail (once or in a loop)."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from typing import TYPE_CHECKING

import click

from dms.config import Settings
from dms.errors import DmsError
from mail_gateway.settings import MailSettings

if TYPE_CHECKING:
    from dms.app.services import Services

log = logging.getLogger(__name__)


@click.command("mail-poll")
@click.option("--once", is_flag=True, help="Poll once and exit (exit code 1 on a mailbox or backend error).")
@click.option("--interval", type=float, default=None,
              help="Seconds between two polls (default: [mail.imap] poll_seconds).")
def poll_command(once: bool, interval: float | None) -> None:
    """File the mail of the IMAP mailbox ([mail.imap]) until SIGTERM or Ctrl+C."""
    from dms.app.services import build_services

    settings = Settings.from_env()
    try:
        mail = MailSettings.from_settings(settings)
    except DmsError as exc:
        click.secho(f"Fehler [{exc.code}]: {exc.message}", fg="red", err=True)
        sys.exit(1)
    if not mail.imap.configured:
        click.secho("Fehler: kein IMAP-Postfach konfiguriert ([mail.imap] host und username).", fg="red", err=True)
        sys.exit(1)
    wait = interval if interval is not None else mail.imap.poll_seconds
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("signal %d: finishing the current mail, then stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    services = build_services(settings)  # embedded: the ingest runs in threads of this process
    failed = False
    try:
        while not stop.is_set():
            failed = not _poll_round(services, mail, stop, verbose=once)
            if once:
                break
            stop.wait(max(1.0, wait))
    finally:
        services.close()  # waits for the ingests this process queued (in-process queue)
    sys.exit(1 if once and failed else 0)


def _poll_round(services: Services, mail: MailSettings, stop: threading.Event, *, verbose: bool) -> bool:
    """One poll (unless another run holds the lock); False on a mailbox or backend error."""
    from mail_gateway.imap import poll_once
    from mail_gateway.poll_task import AnyOf, exclusive_run

    try:
        with exclusive_run(services, mail) as held:
            if held is None:
                click.echo("Ein anderer Abruf dieses Postfachs läuft gerade; diese Runde entfällt.")
                return True
            report = poll_once(services, mail, stop=AnyOf(stop, held))
    except DmsError as exc:  # mailbox unreachable, login refused, ...: retried next round
        click.secho(f"Fehler [{exc.code}]: {exc.message}", fg="red", err=True)
        return False
    if verbose or report.fetched or report.recovered or not report.ok:
        click.echo(report.summary())
    for error in report.errors:
        click.secho(f"Warnung: {error}", fg="yellow", err=True)
    return report.ok
