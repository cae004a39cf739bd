"""Command line for GDPR (issue #12): `dms gdpr report NR [--format pdf|json] [-o FILE]` and
`dms gdpr erase NR --reason R` (registered by `register`). The CLI acts as the local
administrator `cli` (audited as such); see dms/app/gdpr.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from dms.errors import DmsError


def register(main: click.Group) -> None:
    """Add the `gdpr` group to the main command group."""
    main.add_command(gdpr)


def _services():
    from dms.app.services import build_services
    from dms.config import Settings

    return build_services(Settings.from_env(), with_queue=False)


def _fail(exc: DmsError) -> None:
    click.secho(f"Fehler [{exc.code}]: {exc.message}", fg="red", err=True)
    sys.exit(1)


@click.group()
def gdpr() -> None:
    """DSGVO: Auskunft (Art. 15) und Löschung (Art. 17) eines Kunden."""


@gdpr.command("report", short_help="Auskunft nach Art. 15 DSGVO (PDF oder JSON).")
@click.argument("number")
@click.option("--format", "form", type=click.Choice(["pdf", "json"]), default="pdf", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Datei; ohne: JSON auf die Standardausgabe, PDF als dsgvo-auskunft-NR.pdf.")
def report(number: str, form: str, output: Path | None) -> None:
    """Auskunft nach Art. 15 DSGVO über Kunde NUMBER."""
    from dms.app import gdpr as uc
    from dms.app.gdpr_report import render_pdf
    from dms.app.principal import CLI

    try:
        services = _services()
        try:
            data = uc.report(services, CLI, number)
        finally:
            services.close()
    except DmsError as exc:
        _fail(exc)
    if form == "json":
        text = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True)
        if output is None:
            click.echo(text)
            return
        output.write_text(text + "\n", encoding="utf-8")
    else:
        output = output or Path(f"dsgvo-auskunft-{number}.pdf")
        output.write_bytes(render_pdf(data))
    click.echo(f"Auskunft für Kunde {number} geschrieben: {output} ({len(data['documents'])} Dokumente, "
               f"{len(data['accesses'])} Protokolleinträge)", err=True)


@gdpr.command("erase", short_help="Löschung nach Art. 17 DSGVO.")
@click.argument("number")
@click.option("--reason", required=True, help="Grund (wird im Audit-Protokoll festgehalten).")
@click.option("--json", "as_json", is_flag=True, help="Den Antrag mit allen Schritten als JSON ausgeben.")
def erase(number: str, reason: str, as_json: bool) -> None:
    """Löschung nach Art. 17 DSGVO für Kunde NUMBER (löscht, schränkt ein, anonymisiert)."""
    from dms.app import gdpr as uc
    from dms.app.principal import CLI

    try:
        services = _services()
        try:
            request = uc.erase(services, CLI, number, reason)
        finally:
            services.close()
    except DmsError as exc:
        _fail(exc)
    if as_json:
        click.echo(json.dumps(request.to_dict(), ensure_ascii=False, sort_keys=True))
        return
    counts = request.counts()
    click.echo(f"Löschantrag {request.id} für Kunde {number}: {request.outcome} – {counts['purged']} gelöscht, "
               f"{counts['restricted']} eingeschränkt.")
    if request.explanation:
        click.echo(request.explanation)
    for name, why in sorted(request.kept.items()):
        click.echo(f"  behalten: {name} – {why}")
