"""`dms archive verify`: re-read the WORM archive and compare it with the catalog and the sidecars.

For every archived object (of one customer's documents, or all): the object is there and its
sha256 is the recorded one; the original's is the catalog's; the archived sidecar and the live
sidecar in the documents bucket name the same sha256 as the catalog and agree with each other;
the lock runs at least as long as the recorded date and the date the current policy gives; a
legal hold is set where one applies. Filed versions of retained classes that are not archived
are findings too. Every finding is a German line; any finding means a non-zero exit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from dms.app.audit import record
from dms.app.principal import ADMIN, Principal, require
from dms.app.services import Services
from dms.domain import ArchivedObject, Document, DocumentStatus
from dms.errors import DmsError, NotFound
from dms.storage import keys
from ingest.stages import archive as stage

IGNORED_SIDECAR_KEYS = {"attempts"}  # operational state, rewritten on every attempt
TOLERANCE = timedelta(seconds=1)  # stores keep retain-until dates in milliseconds or seconds


@dataclass(frozen=True)
class Finding:
    code: str  # missing | mismatch | sidecar | lock_short | hold_missing | not_archived | orphan
    document_id: str
    version: int | None
    kind: str | None
    message: str  # German

    def line(self) -> str:
        where = f"{self.document_id}" + (f" v{self.version}" if self.version is not None else "") + (
            f" {self.kind}" if self.kind else "")
        return f"{LABELS.get(self.code, self.code.upper()):<12} {where}: {self.message}"


LABELS = {
    "missing": "FEHLT", "mismatch": "ABWEICHUNG", "sidecar": "SIDECAR", "lock_short": "SPERRE",
    "hold_missing": "LEGAL-HOLD", "not_archived": "NICHT ARCH.", "orphan": "VERWAIST",
}


@dataclass
class VerifyReport:
    objects: int = 0
    documents: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def summary(self) -> str:
        state = "in Ordnung" if self.ok else f"{len(self.findings)} Befunde"
        return f"Archiv geprüft: {self.objects} Objekte in {self.documents} Dokumenten, {state}."

    def to_dict(self) -> dict[str, Any]:
        return {"objects": self.objects, "documents": self.documents, "ok": self.ok,
                "findings": [vars(f) for f in self.findings]}


def verify(services: Services, principal: Principal, *, customer_number: str | None = None) -> VerifyReport:
    """Check the archive (see the module docstring); the check is audited with its counts."""
    require(principal, ADMIN)
    if customer_number is not None:
        services.catalog.customers.get(customer_number)  # 404 for an unknown customer
    report = VerifyReport()
    rows_by_document: dict[str, list[ArchivedObject]] = {}
    for row in services.catalog.archive.all(customer_number):
        rows_by_document.setdefault(row.document_id, []).append(row)
    for document_id, rows in rows_by_document.items():
        report.documents += 1
        report.findings += list(_check_document(services, document_id, rows, report))
    report.findings += list(_unarchived(services, customer_number))
    record(services, principal, "archive.verify", "archive", customer_number, customer_number=customer_number,
           objects=report.objects, documents=report.documents, findings=len(report.findings))
    return report


def _check_document(
    services: Services, document_id: str, rows: list[ArchivedObject], report: VerifyReport
) -> Iterator[Finding]:
    try:
        document = services.catalog.documents.get(document_id)
    except NotFound:
        yield Finding("orphan", document_id, None, None, "Archivobjekte ohne Dokument im Katalog.")
        return
    policy = stage.policy_of(services, document)
    hold = stage.under_hold(services, document)
    for row in rows:
        if not row.stored:
            continue  # "expired" marker: nothing was archived
        report.objects += 1
        yield from _check_object(services, document, row, policy, hold)


def _check_object(services: Services, document: Document, row: ArchivedObject, policy: Any, hold: bool
                  ) -> Iterator[Finding]:
    def finding(code: str, message: str) -> Finding:
        return Finding(code, document.id, row.version, row.kind, message)

    assert services.archive is not None
    version = document.version(row.version)
    try:
        data = services.archive.get(row.key, row.version_id)
        lock = services.archive.lock(row.key, str(row.version_id))
    except NotFound:
        yield finding("missing", f"Archivobjekt {row.key} (Version {row.version_id}) fehlt.")
        return
    digest = hashlib.sha256(data).hexdigest()
    if digest != row.sha256:
        yield finding("mismatch", f"sha256 im Archiv {digest} ≠ im Katalog erfasst {row.sha256}.")
    if version is None:
        yield finding("orphan", f"Version {row.version} fehlt im Katalog.")
        return
    if row.kind == stage.ORIGINAL and digest != version.sha256:
        yield finding("mismatch", f"sha256 des archivierten Originals {digest} ≠ Katalog {version.sha256}.")
    if row.kind == stage.SIDECAR:
        yield from (finding(code, text) for code, text in _check_sidecars(services, document, version, data))
    wanted = row.retain_until
    if policy is not None:
        wanted = max(d for d in (wanted, stage.retain_until_of(policy, document, version)) if d is not None)
    short = lock.retain_until is None or lock.retain_until < (wanted or lock.retain_until) - TOLERANCE
    if wanted is not None and wanted > datetime.now(UTC) and short:
        have = lock.retain_until.isoformat() if lock.retain_until else "keine Sperre"
        yield finding("lock_short", f"gesperrt bis {have}, die Richtlinie verlangt {wanted.isoformat()}.")
    if hold and not lock.legal_hold:
        yield finding("hold_missing", "Legal Hold angeordnet, aber am Archivobjekt nicht gesetzt.")


def _check_sidecars(services: Services, document: Document, version: Any, archived: bytes) -> Iterator[tuple[str, str]]:
    """The archived meta.json and the live one in the documents bucket against the catalog and each other."""
    live_key = keys.version_meta_key(document.id, version.number)
    records: dict[str, dict[str, Any] | None] = {"archivierte": _json(archived)}
    try:
        records["aktuelle"] = _json(services.store.get(live_key))
    except NotFound:
        yield "sidecar", f"Sidecar {live_key} fehlt im Dokumenten-Bucket."
        records["aktuelle"] = None
    except DmsError as exc:
        yield "sidecar", f"Sidecar {live_key} nicht lesbar: {exc.message}"
        records["aktuelle"] = None
    for name, data in records.items():
        if data is None:
            if name == "archivierte":
                yield "sidecar", "Der archivierte Sidecar ist kein gültiges JSON."
            continue
        if data.get("sha256") != version.sha256:
            yield "sidecar", f"Der {name} Sidecar nennt sha256 {data.get('sha256')!r}, der Katalog {version.sha256}."
    archived_record, live = records["archivierte"], records["aktuelle"]
    if archived_record is not None and live is not None:
        changed = sorted(k for k in set(archived_record) | set(live)
                         if k not in IGNORED_SIDECAR_KEYS and archived_record.get(k) != live.get(k))
        if changed:
            yield "sidecar", f"Der Sidecar im Dokumenten-Bucket weicht vom archivierten ab: {', '.join(changed)}."


def _json(data: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _unarchived(services: Services, customer_number: str | None) -> Iterator[Finding]:
    classes = [name for name, policy in services.settings.retention_policies.items() if policy.retains]
    for document_id, number in services.catalog.archive.unarchived(10_000, classes=classes):
        document = services.catalog.documents.get(document_id)
        if customer_number is not None and document.customer_number != customer_number:
            continue
        if document.status == DocumentStatus.FILED:
            yield Finding("not_archived", document_id, number, None,
                          "Abgelegt in einer aufbewahrungspflichtigen Klasse, aber nicht archiviert.")
