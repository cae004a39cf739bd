"""Checking the audit trail against its seals in the WORM archive (see dms/app/audit_seal.py).

`check` reads every version under `archive/audit/` (the archive is the reference, not the
catalog's rows) and reports, in German:

- seal objects: sha256 against their manifest and the catalog's row, the lock (still locked, not
  shorter than recorded), the sealed copy's own hash chain, count, first/last id and head;
- rows of `audit_seals` whose object is missing, and seal objects without a row;
- the catalog's entries: every sealed entry must be there with the same content and hash, no
  entry may have appeared inside or between sealed ranges, each seal's chain head must match,
  and each seal must continue the one before (the first starts at the beginning of the chain).

A rewrite of the whole chain with consistently recomputed hashes passes the plain chain check
but not this one: the altered entry is named, the recomputed ones are counted.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dms.catalog.audit_chain import FIELDS, GENESIS, canonical, entry_hash
from dms.catalog.seals import AuditSeals, manifest_key
from dms.errors import DmsError
from dms.storage.base import ArchiveStore

PREFIX = "archive/audit/"
FORMAT = 1
MAX_NAMED = 10  # findings of one kind named per seal object; the rest are counted
LOCK_SLACK = timedelta(seconds=1)  # S3 keeps retain-until to the second


@dataclass
class SealReport:
    """What the check found. `findings` are German sentences; none means the catalog agrees with
    every sealed copy and every seal object is intact and locked."""

    archive: bool = True
    seals: int = 0
    entries: int = 0
    last_seq: int | None = None
    unsealed: int = 0
    findings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


@dataclass
class _Sealed:
    key: str
    version_id: str
    entries: list[dict[str, Any]]


def parse(data: bytes) -> list[dict[str, Any]]:
    """The entries of a seal object (`at` as an aware datetime again); ValueError if malformed."""
    entries = []
    for line in data.decode("utf-8").splitlines():
        if not line.strip():
            continue
        content = json.loads(line)
        entry = {name: content[name] for name in FIELDS}
        entry["at"] = datetime.fromisoformat(content["at"])
        entry["hash"] = content["hash"]
        entries.append(entry)
    return entries


def check(archive: ArchiveStore, seals: AuditSeals, now: datetime) -> SealReport:
    report = SealReport()
    versions: dict[str, list[str]] = {}
    for stored in archive.list_versions(PREFIX):
        versions.setdefault(stored.key, []).append(stored.version_id)
    manifests = _read_manifests(archive, versions, now, report)
    digests: dict[tuple[str, str], str] = {}
    sealed: list[_Sealed] = []
    for key, version_ids in versions.items():
        if not key.endswith(".jsonl"):
            continue
        for version_id in version_ids:
            found = _read_object(archive, key, version_id, manifests.get(key, []), now, report)
            if found is not None:
                digests[(key, version_id)], entries = found
                if entries:
                    sealed.append(_Sealed(key, version_id, entries))
    for key, described in manifests.items():
        for manifest in described:
            if manifest.get("version_id") not in versions.get(key, []):
                report.findings.append(
                    f"Siegel {key}: das Objekt (Version {manifest.get('version_id')}) fehlt im Archiv, "
                    "sein Manifest ist noch da."
                )
    _check_rows(seals, versions, manifests, digests, report)
    _compare(sealed, seals, report)
    report.findings = list(dict.fromkeys(report.findings))
    return report


def _read_manifests(
    archive: ArchiveStore, versions: dict[str, list[str]], now: datetime, report: SealReport
) -> dict[str, list[dict[str, Any]]]:
    """jsonl key → its manifests (every version), each lock checked."""
    manifests: dict[str, list[dict[str, Any]]] = {}
    for key, version_ids in versions.items():
        if not key.endswith(".manifest.json"):
            continue
        for version_id in version_ids:
            try:
                manifest = json.loads(archive.get(key, version_id))
                described = str(manifest["key"])
                until = datetime.fromisoformat(manifest["retain_until"])
            except (DmsError, ValueError, KeyError, TypeError) as exc:
                report.findings.append(f"Manifest {key} (Version {version_id}) ist nicht lesbar: {exc}.")
                continue
            if manifest_key(described) != key:
                report.findings.append(f"Manifest {key} (Version {version_id}) beschreibt ein fremdes Objekt "
                                       f"({described}).")
                continue
            _check_lock(archive, key, version_id, until, now, report)
            manifests.setdefault(described, []).append(manifest)
    return manifests


def _read_object(
    archive: ArchiveStore, key: str, version_id: str, manifests: list[dict[str, Any]], now: datetime,
    report: SealReport,
) -> tuple[str, list[dict[str, Any]]] | None:
    """(sha256, entries) of one seal object version, with its lock, manifest and own chain checked."""
    label = f"Siegel {key} (Version {version_id})"
    try:
        data = archive.get(key, version_id)
    except DmsError as exc:
        report.findings.append(f"{label} ist nicht lesbar: {exc.message}")
        return None
    digest = hashlib.sha256(data).hexdigest()
    described = [m for m in manifests if m.get("version_id") == version_id]
    for manifest in described:
        if manifest.get("sha256") != digest:
            report.findings.append(f"{label}: sha256 {digest} passt nicht zum Manifest ({manifest.get('sha256')}).")
    untils = [datetime.fromisoformat(m["retain_until"]) for m in manifests if m.get("retain_until")]
    _check_lock(archive, key, version_id, max(untils) if untils else None, now, report)
    try:
        entries = parse(data)
    except (ValueError, KeyError, TypeError) as exc:
        report.findings.append(f"{label} ist keine lesbare Siegel-Datei: {exc}.")
        return digest, []
    report.findings += _own_chain(label, key, entries, described)
    return digest, entries


def _check_lock(
    archive: ArchiveStore, key: str, version_id: str, recorded: datetime | None, now: datetime, report: SealReport
) -> None:
    if recorded is not None and recorded <= now:
        return  # the retention ended as recorded: no lock is expected any more
    try:
        lock = archive.lock(key, version_id)
    except DmsError as exc:
        report.findings.append(f"Sperre von {key} (Version {version_id}) nicht lesbar: {exc.message}")
        return
    if lock.mode is None or lock.retain_until is None or lock.retain_until <= now:
        report.findings.append(f"{key} (Version {version_id}) ist nicht mehr gesperrt (Object Lock fehlt oder "
                               "ist abgelaufen).")
    elif recorded is not None and lock.retain_until < recorded - LOCK_SLACK:
        report.findings.append(f"{key} (Version {version_id}): die Sperre endet {lock.retain_until.isoformat()}, "
                               f"früher als beim Versiegeln festgelegt ({recorded.isoformat()}).")


def _own_chain(label: str, key: str, entries: list[dict[str, Any]], manifests: list[dict[str, Any]]) -> list[str]:
    """Problems of a sealed copy in itself: hashes, links, ids, and what its manifest says."""
    if not entries:
        return [f"{label} enthält keine Einträge."]
    problems = []
    for before, entry in zip([None, *entries], entries, strict=False):
        if entry_hash(entry) != entry["hash"]:
            problems.append(f"{label}: Eintrag {entry['id']} ist in der versiegelten Kopie nicht stimmig (Hash).")
        if before is not None and (entry["prev_hash"] != before["hash"] or entry["id"] <= before["id"]):
            problems.append(f"{label}: Eintrag {entry['id']} schließt in der versiegelten Kopie nicht an "
                            f"Eintrag {before['id']} an.")
    first, last = entries[0], entries[-1]
    if key != f"{PREFIX}{first['id']}-{last['id']}.jsonl":
        problems.append(f"{label}: enthält die Einträge {first['id']}–{last['id']}, nicht die im Namen.")
    for manifest in manifests:
        expected = (manifest.get("first_seq"), manifest.get("last_seq"), manifest.get("count"),
                    manifest.get("head_hash"), manifest.get("prev_hash"))
        if expected != (first["id"], last["id"], len(entries), last["hash"], first["prev_hash"]):
            problems.append(f"{label}: Einträge, Anzahl oder Kettenkopf passen nicht zum Manifest.")
    return problems


def _check_rows(
    seals: AuditSeals, versions: dict[str, list[str]], manifests: dict[str, list[dict[str, Any]]],
    digests: dict[tuple[str, str], str], report: SealReport,
) -> None:
    """The catalog's seal rows against the archive, and seal objects without a row."""
    rows = seals.all()
    for row in rows:
        label = f"Siegel {row.key}"
        if row.version_id not in versions.get(row.key, []):
            report.findings.append(f"{label}: im Katalog verzeichnet, das Objekt (Version {row.version_id}) fehlt "
                                   "im Archiv.")
            continue
        digest = digests.get((row.key, row.version_id))
        if digest is not None and digest != row.sha256:
            report.findings.append(f"{label}: sha256 im Katalog ({row.sha256}) passt nicht zum Objekt ({digest}).")
        described = [m for m in manifests.get(row.key, []) if m.get("version_id") == row.version_id]
        if any((m.get("first_seq"), m.get("last_seq"), m.get("head_hash")) != (row.first_seq, row.last_seq,
                                                                              row.head_hash) for m in described):
            report.findings.append(f"{label}: Bereich oder Kettenkopf im Katalog passen nicht zum Manifest.")
    recorded = {row.key for row in rows}
    for key in manifests:
        if key not in recorded:
            report.findings.append(f"Siegel {key} steht im Archiv, fehlt aber im Katalog (Zeile gelöscht? "
                                   "`dms audit seal` trägt es nach).")


def _compare(sealed: list[_Sealed], seals: AuditSeals, report: SealReport) -> None:
    """The catalog's entries against the sealed copies, seal by seal in id order."""
    covered, covered_hash = 0, GENESIS
    for obj in sorted(sealed, key=lambda o: (o.entries[0]["id"], o.entries[-1]["id"], o.key, o.version_id)):
        first, last = obj.entries[0]["id"], obj.entries[-1]["id"]
        label = f"Siegel {obj.key}"
        if first > covered:
            between = seals.entries(covered, first - 1)
            _named(report, obj.key, [
                f"Eintrag {row['id']}: steht im Katalog zwischen zwei Siegeln, ist aber in keinem "
                "(nachträglich eingefügt)." for row in between
            ])
            if obj.entries[0]["prev_hash"] != covered_hash:
                report.findings.append(
                    f"{label} beginnt nicht am Anfang der Kette." if covered == 0 else
                    f"{label} schließt nicht an das Siegel bis Eintrag {covered} an."
                )
        rows = {row["id"]: row for row in seals.entries(first - 1, last)}
        changed, missing, rehashed = [], [], []
        for entry in obj.entries:
            row = rows.get(entry["id"])
            if row is None:
                missing.append(f"Eintrag {entry['id']}: ist in {obj.key} versiegelt, fehlt aber im Katalog "
                               "(entfernt).")
                continue
            fields = _differing(row, entry)
            if fields:
                changed.append(f"Eintrag {entry['id']}: weicht von der versiegelten Kopie in {obj.key} ab "
                               f"(geändert: {', '.join(fields)}).")
            elif row["hash"] != entry["hash"] or row["prev_hash"] != entry["prev_hash"]:
                rehashed.append(entry["id"])
        sealed_ids = {entry["id"] for entry in obj.entries}
        inserted = [f"Eintrag {n}: steht im Katalog im versiegelten Bereich {first}–{last}, fehlt aber in "
                    f"{obj.key} (nachträglich eingefügt)." for n in sorted(set(rows) - sealed_ids)]
        for messages in (changed, missing, inserted):
            _named(report, obj.key, messages)
        if rehashed:
            report.findings.append(
                f"Einträge {rehashed[0]}–{rehashed[-1]} ({len(rehashed)}): Hash bzw. Verkettung weichen von "
                f"{obj.key} ab, der Inhalt nicht (Kette neu berechnet)."
            )
        head = rows.get(last)
        if head is not None and head["hash"] != obj.entries[-1]["hash"]:
            report.findings.append(
                f"{label}: der Kettenkopf passt nicht: Eintrag {last} hat im Katalog den Hash "
                f"{head['hash'][:16]}…, versiegelt ist {obj.entries[-1]['hash'][:16]}…."
            )
        report.entries += len(obj.entries)
        if last >= covered:
            covered, covered_hash = last, obj.entries[-1]["hash"]
    report.seals = len(sealed)
    report.last_seq = covered or None
    report.unsealed = seals.count_after(covered)


def _differing(row: dict[str, Any], sealed: dict[str, Any]) -> list[str]:
    """Fields (besides the link) in which a catalog entry differs from its sealed copy."""
    mine, theirs = json.loads(canonical(row)), json.loads(canonical(sealed))
    return [name for name in FIELDS if name != "prev_hash" and mine.get(name) != theirs.get(name)]


def _named(report: SealReport, key: str, messages: list[str]) -> None:
    report.findings += messages[:MAX_NAMED]
    if len(messages) > MAX_NAMED:
        report.findings.append(f"… und {len(messages) - MAX_NAMED} weitere dieser Art bei {key}.")
