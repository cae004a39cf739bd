"""Sealing the audit trail into the WORM archive, and checking the catalog against the seals.

A keyless hash chain cannot show a rewrite of the whole chain with consistently recomputed
hashes. A seal can: `seal` writes the entries since the last seal, with the chain head, to the
archive under Object Lock, where nobody can change them until the retention ends; `verify_seals`
compares the catalog with those copies. The archive is the reference: seals are found by listing
it, so a seal whose catalog row was deleted still counts (and the missing row is a finding).

Objects under `archive/audit/` (both locked in COMPLIANCE mode until the end of the calendar
year of sealing, Europe/Berlin, plus `[audit] seal_retention_years`):

- `<first>-<last>.jsonl`: every entry with id `first`..`last`, in id order, one per line: the
  canonical form of dms/catalog/audit_chain.py (keys sorted, no whitespace, UTF-8) plus `hash`.
- `<first>-<last>.manifest.json`: format, key and version id of the lines, first/last id, count,
  the chain head (`head_seq`, `head_hash`), the hash the first entry links to (`prev_hash`), the
  sha256 and size of the lines, retain-until, mode and the time of sealing.

The seal is audited (`audit.sealed`); that entry is newer than the head, so it belongs to the
next seal. Entries since the last seal that are only such `audit.sealed` entries are nothing to
seal: a second `seal` right after one writes no object. Two seals running at once may write the
same range twice (a second version of the same key, or overlapping ranges); verification takes
every version as a reference, so that is harmless.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from dms.app.audit import record
from dms.app.audit_seal_check import FORMAT, PREFIX, SealReport, check
from dms.app.principal import ADMIN, AUDIT_READ, Principal, require
from dms.app.services import Services
from dms.catalog.audit_chain import GENESIS, canonical, entry_hash
from dms.catalog.seals import Seal, manifest_key
from dms.errors import Conflict, DmsError, ValidationError
from dms.storage.base import ArchiveStore
from retention.policy import BERLIN, year_end

log = logging.getLogger(__name__)

MODE = "COMPLIANCE"
SEALED = "audit.sealed"
MAX_ENTRIES = 50_000  # entries per seal object; a longer backlog becomes several objects
DEFAULT_YEARS = 10

# The daily task (dms worker --beat) seals as this principal.
SCHEDULER = Principal("scheduler", frozenset({ADMIN}))


# --- sealing ---------------------------------------------------------------------------------


def seal(services: Services, principal: Principal) -> list[Seal]:
    """Seal the entries since the last seal; the seals written (empty: nothing to seal).

    Refused (`Conflict` `audit_chain_broken`) when those entries do not continue the sealed chain
    (an entry altered, inserted or removed since): sealing must not cement a tampered chain."""
    require(principal, ADMIN)
    archive = _archive(services)
    _adopt(services, archive, principal)
    repo = services.catalog.seals
    last = repo.last()
    after, head = (last.last_seq, last.head_hash) if last else (0, GENESIS)
    upto = repo.head_id()
    written: list[Seal] = []
    while upto is not None and after < upto:
        chunk = repo.entries(after, upto, limit=MAX_ENTRIES)
        if not chunk or (not written and len(chunk) < MAX_ENTRIES and all(e["action"] == SEALED for e in chunk)):
            break
        problem = _broken_link(chunk, head)
        if problem is not None:
            record(services, principal, "audit.seal_refused", "audit", None, problem=problem, after=after)
            raise Conflict(f"Versiegeln verweigert: {problem} Bitte `dms audit verify` ausführen.",
                           code="audit_chain_broken")
        new = _write(services, archive, chunk, head)
        record(services, principal, SEALED, "audit_seal", f"{new.first_seq}-{new.last_seq}", **{
            name: value for name, value in new.to_dict().items() if name != "manifest_key"
        })
        written.append(new)
        after, head = new.last_seq, new.head_hash
        if len(chunk) < MAX_ENTRIES:
            break
    return written


def retain_until(services: Services, now: datetime) -> datetime:
    """End of the calendar year (Europe/Berlin) of `now`, plus `[audit] seal_retention_years`."""
    section = services.settings.rules.get("audit", {})
    years = section.get("seal_retention_years", DEFAULT_YEARS) if isinstance(section, dict) else DEFAULT_YEARS
    if isinstance(years, bool) or not isinstance(years, int) or years < 1:
        raise ValidationError(f"[audit] seal_retention_years muss eine ganze Zahl ≥ 1 sein, nicht {years!r}.",
                              code="bad_config")
    return year_end(now.astimezone(BERLIN).date(), years)


def _archive(services: Services) -> ArchiveStore:
    if services.archive is None:
        raise Conflict("Kein Archiv konfiguriert: das Audit-Protokoll kann nicht versiegelt werden.",
                       code="archive_missing")
    return services.archive


def _broken_link(entries: list[dict[str, Any]], head: str) -> str | None:
    """Why `entries` do not continue the chain whose head hash is `head` (None: they do)."""
    expected = head
    for entry in entries:
        if entry_hash(entry) != entry["hash"]:
            return f"Eintrag {entry['id']}: der gespeicherte Hash passt nicht zum Inhalt."
        if entry["prev_hash"] != expected:
            return f"Eintrag {entry['id']}: schließt nicht an den Eintrag davor bzw. das letzte Siegel an."
        expected = entry["hash"]
    return None


def serialise(entries: list[dict[str, Any]]) -> bytes:
    """The JSON lines of a seal object (see the module docstring)."""
    lines = []
    for entry in entries:
        content = json.loads(canonical(entry))
        content["hash"] = entry["hash"]
        lines.append(json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
    return ("\n".join(lines) + "\n").encode("utf-8")


def _write(services: Services, archive: ArchiveStore, entries: list[dict[str, Any]], prev_hash: str) -> Seal:
    now = datetime.now(UTC)
    until = retain_until(services, now)
    first, last = entries[0]["id"], entries[-1]["id"]
    key = f"{PREFIX}{first}-{last}.jsonl"
    data = serialise(entries)
    digest = hashlib.sha256(data).hexdigest()
    stored = archive.put_locked(key, data, retain_until=until, mode=MODE, content_type="application/x-ndjson")
    manifest = {
        "format": FORMAT, "key": key, "version_id": stored.version_id, "first_seq": first, "last_seq": last,
        "count": len(entries), "head_seq": last, "head_hash": entries[-1]["hash"], "prev_hash": prev_hash,
        "sha256": digest, "size": len(data), "retain_until": until.isoformat(), "mode": MODE,
        "sealed_at": now.isoformat(),
    }
    body = json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8")
    described = archive.put_locked(manifest_key(key), body, retain_until=until, mode=MODE,
                                   content_type="application/json")
    return services.catalog.seals.add(_from_manifest(manifest, described.version_id))


def _from_manifest(manifest: dict[str, Any], manifest_version_id: str) -> Seal:
    return Seal(
        key=manifest["key"], version_id=manifest["version_id"], manifest_version_id=manifest_version_id,
        first_seq=int(manifest["first_seq"]), last_seq=int(manifest["last_seq"]), count=int(manifest["count"]),
        head_hash=manifest["head_hash"], sha256=manifest["sha256"],
        retain_until=datetime.fromisoformat(manifest["retain_until"]), mode=manifest["mode"],
        sealed_at=datetime.fromisoformat(manifest["sealed_at"]),
    )


def _manifests(archive: ArchiveStore) -> Iterator[tuple[str, dict[str, Any], str]]:
    """(jsonl key, manifest, manifest version id) of every readable manifest version in the archive."""
    for stored in archive.list_versions(PREFIX):
        if not stored.key.endswith(".manifest.json"):
            continue
        try:
            manifest = json.loads(archive.get(stored.key, stored.version_id))
            yield manifest["key"], manifest, stored.version_id
        except (DmsError, ValueError, KeyError, TypeError):
            continue  # verify_seals names it


def _adopt(services: Services, archive: ArchiveStore, principal: Principal) -> None:
    """Record seals the archive has and the catalog lacks (a crash after writing them, or a deleted
    row); audited as `audit.seal_adopted`."""
    repo = services.catalog.seals
    known = {s.key for s in repo.all()}
    adopted = []
    for key, manifest, version_id in _manifests(archive):
        if key in known or manifest.get("format") != FORMAT:
            continue
        try:
            added = repo.add(_from_manifest(manifest, version_id))
        except (KeyError, TypeError, ValueError):
            continue
        known.add(key)
        adopted.append(added.key)
    if adopted:
        log.warning("seals found in the archive but not in the catalog, recorded: %s", adopted)
        record(services, principal, "audit.seal_adopted", "audit", None, keys=adopted)


# --- verification ----------------------------------------------------------------------------


def verify_seals(services: Services, principal: Principal) -> SealReport:
    """Check the seal objects (sha256, lock, own chain) and the catalog's entries against them."""
    require(principal, AUDIT_READ)
    if services.archive is None:
        return SealReport(archive=False)
    report = check(services.archive, services.catalog.seals, datetime.now(UTC))
    try:
        record(services, principal, "audit.seal_verify", "audit", None, ok=report.ok, seals=report.seals,
               entries=report.entries, findings=len(report.findings))
    except DmsError:
        log.exception("the audit entry of a seal check could not be written")
    return report
