"""Command line: `dms serve`, `dms customers …`, `dms ingest`, `dms search`."""

from __future__ import annotations

import logging
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import click

from dms.config import Settings
from dms.errors import DmsError


def _services(with_queue: bool = False):
    from dms.app.services import build_services

    return build_services(Settings.from_env(), with_queue=with_queue)


def _fail(exc: DmsError) -> None:
    click.secho(f"Fehler [{exc.code}]: {exc.message}", fg="red", err=True)
    sys.exit(1)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
def main(verbose: bool) -> None:
    """Kundenakte: the digital customer file."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if not verbose:
        logging.getLogger("alembic").setLevel(logging.WARNING)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--threads", default=8, show_default=True, type=int, help="HTTP worker threads.")
def serve(host: str, port: int, threads: int) -> None:
    """Run the web service (data folder from DMS_DATA_DIR)."""
    from dms.cli_identity import refuse_unsafe_listen
    from dms.web import create_app
    from dms.web.server import serve as serve_app

    settings = Settings.from_env()
    refuse_unsafe_listen(host, settings.auth_mode)  # DMS_AUTH_MODE=local: loopback only
    app = create_app(settings)
    _refuse_customer_config(app.extensions["dms"])  # [customers]: statuses in use, defaults in their lists
    from dms.webhooks.delivery import start_embedded  # webhooks: delivered here on the in-process queue

    start_embedded(app.extensions["dms"].catalog, settings)
    click.echo(f"Kundenakte läuft auf http://{host}:{port}/ (Daten: {settings.data_dir.resolve()})")
    serve_app(app, host=host, port=port, threads=threads)


def _refuse_customer_config(services: Any) -> None:
    """Exit 1 naming every problem of `[customers]` (a default not in its list, a status in use removed)."""
    from dms.app.customer_status import config_problems

    problems = config_problems(services)
    for problem in problems:
        click.secho(f"Fehler [bad_config]: {problem}", fg="red", err=True)
    if problems:
        services.close()
        sys.exit(1)


@main.command()
def check() -> None:
    """Report which backends are configured and whether each answers (exit 1 if one does not)."""
    from sqlalchemy.engine import make_url

    from dms.app import services as backends

    settings = Settings.from_env()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    openers = {
        "store": lambda: backends.open_store(settings),
        "catalog": lambda: backends.open_catalog(settings),
        "index": lambda: backends.open_index(settings),
        "queue": lambda: backends.open_queue(settings, None),  # type: ignore[arg-type]
        "archive": lambda: backends.open_archive(settings),
    }
    where = {
        "store": f"S3 {settings.s3_endpoint} bucket {settings.s3_bucket}" if settings.s3_endpoint
        else f"local {settings.data_dir / 'objects'}",
        "catalog": make_url(backends.catalog_url(settings)).render_as_string(hide_password=True),
        "index": f"OpenSearch {settings.opensearch_url} alias {settings.opensearch_index}" if settings.opensearch_url
        else f"embedded {settings.data_dir / 'search.db'}",
        "queue": f"Celery on Redis {settings.redis_url.split('@')[-1]}" if settings.redis_url
        else f"in-process ({settings.workers} threads)",
        "archive": f"S3 bucket {settings.s3_archive_bucket} (Object Lock: tamper-proof)" if settings.s3_endpoint
        else f"local {settings.data_dir / 'archive'} (Regeln nur in Software; manipulationssicher erst mit "
        "einem WORM-fähigen Objektspeicher, S3 Object Lock COMPLIANCE)",
    }
    failed = False
    for name, opener in openers.items():
        try:
            backend = opener()
            if backend is not None:
                backend.ping()
            state = click.style("ok", fg="green")
        except Exception as exc:  # report every backend, whatever it raises
            failed = True
            state = click.style(f"FEHLER: {exc}", fg="red")
        click.echo(f"{name:8} {where[name]}: {state}")
    from mail_gateway.cli_gateway import check_line  # the mail gateway's settings and spool backlog

    click.echo(check_line(settings))
    failed = _check_customers(settings) or failed
    sys.exit(1 if failed else 0)


def _check_customers(settings: Settings) -> bool:
    """The `[customers]` line of `dms check` (the settings; statuses, groups, branches in use): whether it failed."""
    from dms.app.customer_status import config_problems
    from dms.app.services import build_services

    try:
        services = build_services(settings, with_queue=False)
    except Exception:  # noqa: BLE001 - a backend that does not answer is reported above
        return False
    try:
        problems = config_problems(services)
    finally:
        services.close()
    state = click.style("ok", fg="green") if not problems else click.style("FEHLER", fg="red")
    click.echo(f"{'customers':8} [customers] statuses, groups, branches, attributes: {state}")
    for problem in problems:
        click.secho(f"  {problem}", fg="red")
    return bool(problems)


@main.command()
@click.option("-c", "--concurrency", default=2, show_default=True, type=int, help="Worker processes.")
@click.option("--loglevel", default="INFO", show_default=True)
@click.option("--beat", is_flag=True, help="Also send the periodic tasks (IMAP poll); on one worker only.")
def worker(concurrency: int, loglevel: str, beat: bool) -> None:
    """Run a Celery worker (needs DMS_REDIS_URL)."""
    from dms.errors import ValidationError
    from dms.queue.celery_app import run_worker

    settings = Settings.from_env()
    if not settings.redis_url:
        _fail(ValidationError("DMS_REDIS_URL fehlt: der Worker braucht Redis.", code="bad_config"))
    run_worker(settings, concurrency, loglevel, beat=beat)


@main.group()
def db() -> None:
    """The catalog schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Migrate the catalog (Alembic) to a revision."""
    from dms.app.services import catalog_url
    from dms.catalog import migrate

    settings = Settings.from_env()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    click.echo(f"Katalog auf Revision {migrate.upgrade(catalog_url(settings), revision)}")


@main.command("rebuild-catalog")
def rebuild_catalog_command() -> None:
    """Restore the (empty) catalog from the object store's sidecars alone."""
    from dms.rebuild import planned_items, rebuild_catalog

    svc = _services()
    try:
        with click.progressbar(length=planned_items(svc.store), label="Katalog") as bar:
            counts = rebuild_catalog(svc.store, svc.catalog, progress=bar.update)
    except DmsError as exc:
        _fail(exc)
    click.echo(", ".join(f"{k}: {v}" for k, v in counts.items()))


@main.command()
def reindex() -> None:
    """Rebuild the search index from the catalog and the stored texts (no OCR)."""
    from dms.rebuild import reindex as run_reindex

    svc = _services()
    with click.progressbar(length=len(svc.catalog.documents.all_ids()), label="Index") as bar:
        count = run_reindex(svc, progress=bar.update)
    click.echo(f"{count} Dokumente indexiert")


@main.group()
def customers() -> None:
    """Manage customers."""


@customers.command("add")
@click.argument("name")
@click.option("--number", help="Customer number (default: the next free one).")
@click.option("--kind", type=click.Choice(["natural", "legal"]), default="legal", show_default=True)
@click.option("--status", help="A status of [customers] statuses (default: default_status).")
@click.option("--tag", "tags", multiple=True, help="Tag (repeatable).")
def customers_add(name: str, number: str | None, kind: str, status: str | None, tags: tuple[str, ...]) -> None:
    """Create a customer and its file."""
    from dms.app.customers import create_customer
    from dms.app.principal import CLI

    body: dict[str, Any] = {"name": name, "kind": kind, "status": status, "tags": list(tags)}
    if number is not None:
        body["number"] = number
    try:
        customer = create_customer(_services(), CLI, body)
    except DmsError as exc:
        _fail(exc)
    click.echo(f"{customer.number}\t{customer.name}")


@customers.command("list")
@click.option("-q", "query", help="Filter by name or number.")
def customers_list(query: str | None) -> None:
    """List customers."""
    from dms.app.customers import list_customers
    from dms.app.principal import CLI

    for customer in list_customers(_services(), CLI, query, limit=10_000):
        click.echo(f"{customer.number}\t{customer.name}\t{customer.status}")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--customer", "customer_number", help="Customer number to file into.")
@click.option("--class", "document_class", help="Document class.")
@click.option("--folder", help="Folder of the customer file.")
def ingest(paths: tuple[Path, ...], customer_number: str | None, document_class: str | None, folder: str | None):
    """Ingest files and folders (recursively), with a progress bar."""
    from dms.app.customer_status import after_filing
    from dms.app.intake import Upload, receive_document
    from dms.app.principal import CLI
    from dms.domain import Source
    from dms.errors import DuplicateDocument
    from ingest.pipeline import process_version

    files = sorted({f for p in paths for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file()})
    svc = _services(with_queue=False)
    outcome: Counter[str] = Counter()
    problems: list[str] = []
    with click.progressbar(files, label="Ablegen", show_pos=True, item_show_func=lambda f: f.name if f else "") as bar:
        for path in bar:
            upload = Upload(
                path.read_bytes(), path.name, customer_number=customer_number,
                document_class=document_class, folder=folder, source=Source.UPLOAD,
            )
            try:
                document = receive_document(svc, CLI, upload)
            except DuplicateDocument:
                outcome["duplicate"] += 1
                continue
            except DmsError as exc:
                outcome["rejected"] += 1
                problems.append(f"{path}: {exc.message}")
                continue
            ctx = process_version(svc, document.id, 1)
            after_filing(svc, document.id)  # [customers] auto_status_on_invoice
            outcome[str(ctx.status)] += 1
            if ctx.status == "failed":
                problems.append(f"{path}: {ctx.status_reason}")
    click.echo(", ".join(f"{k}: {v}" for k, v in sorted(outcome.items())) or "nichts abgelegt")
    for line in problems:
        click.secho(line, fg="yellow", err=True)
    if outcome["failed"] or outcome["rejected"]:
        sys.exit(2)


@main.command()
@click.argument("query")
@click.option("--customer", help="Only this customer's file.")
@click.option("--class", "document_class", help="Only this document class.")
@click.option("--limit", default=20, show_default=True)
def search(query: str, customer: str | None, document_class: str | None, limit: int) -> None:
    """Full-text search."""
    import re

    from dms.app.principal import CLI
    from dms.app.search import search as search_documents
    from dms.search import SearchQuery

    try:
        result = search_documents(
            _services(), CLI, SearchQuery(text=query, customer=customer, document_class=document_class, limit=limit)
        )
    except DmsError as exc:
        _fail(exc)
    click.echo(f"{result.total} Treffer")
    for hit in result.hits:
        click.echo(f"{hit.id}  {hit.customer_number or '-'}  {hit.document_class or '-'}  {hit.title}")
        for snippet in hit.highlights[:1]:
            click.echo("    " + re.sub(r"</?mark>", "*", snippet))


from dms.cli_archive import register as register_archive  # noqa: E402  (`dms archive`: issue #12)
from dms.cli_audit import register as register_audit  # noqa: E402  (`dms audit`: issue #10)
from dms.cli_customers import register as register_customers  # noqa: E402  (`dms customers import|export`: #14)
from dms.cli_gdpr import register as register_gdpr  # noqa: E402  (`dms gdpr`: issue #12)
from dms.cli_identity import register  # noqa: E402  (`dms users`, `dms tokens`: issue #10)
from dms.cli_retention import register as register_retention  # noqa: E402  (`dms retention`: issue #12)
from dms.cli_watch import register as register_watch  # noqa: E402  (`dms watch`: the hot folder)
from mail_gateway.cli import register as register_mail  # noqa: E402  (email-in: issue #11)

register(main)
register_customers(customers)
register_audit(main)
register_watch(main)
register_retention(main)
register_mail(main)
register_archive(main)
register_gdpr(main)

if __name__ == "__main__":
    main()
