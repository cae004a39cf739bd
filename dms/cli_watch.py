"""`dms watch DIR`: the hot folder (dms/watch.py) as a command."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

import click

from dms.config import Settings
from dms.errors import DmsError

LABELS = {"filed": "abgelegt", "duplicate": "Duplikat", "failed": "FEHLER"}


@click.command("watch")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--interval", default=2.0, show_default=True, type=click.FloatRange(min=0.05),
              help="Seconds between two looks at the folder; a file is taken once it did not change between two.")
@click.option("--once", is_flag=True, help="Look twice (one interval apart), file what is stable, then stop.")
def watch_command(folder: Path, interval: float, once: bool) -> None:
    """File what appears in FOLDER (FOLDER/<customer number>/… into that customer) until stopped."""
    from dms.app.services import build_services
    from dms.watch import HotFolder, Outcome, watch

    try:
        services = build_services(Settings.from_env())
    except DmsError as exc:
        click.secho(f"Fehler [{exc.code}]: {exc.message}", fg="red", err=True)
        sys.exit(1)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def report(outcome: Outcome) -> None:
        line = f"{LABELS[outcome.result]}: {outcome.path} → {outcome.moved_to} ({outcome.message})"
        click.secho(line, fg="red" if outcome.result == "failed" else None, err=outcome.result == "failed")

    if not once:
        click.echo(f"Beobachte {folder.resolve()} alle {interval:g} s (Strg+C beendet)")
    try:
        outcomes = watch(HotFolder(services, folder), interval=interval, once=once, wait=stop.wait, report=report)
    except KeyboardInterrupt:
        outcomes = []
    finally:
        services.close()  # the in-process queue finishes the ingests it took
    if once and any(o.result == "failed" for o in outcomes):
        sys.exit(2)


def register(main: click.Group) -> None:
    main.add_command(watch_command)
