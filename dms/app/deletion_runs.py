"""Deletion runs (issue #12): the retention sweep, its approval by a second admin, the trash purge.

A run plans the documents it will delete (`planned`), then deletes each with `deletion.purge`
and records what became of it (`items`). Statuses: `dry_run` (only planned), `awaiting_approval`
(`[deletion] require_approval`: a second admin must `approve` it), `approved` → `running` →
`done` | `failed` (a document could not be deleted; the others were), or `rejected`.

Every document is checked again just before it is deleted: a legal hold set or a retention
extended after the run was planned makes it `skipped`, never deleted.

Approval: the approver must be an active user with role `admin` in the identity table (looked
up by name: a user's login in the API, `--user NAME` at the CLI) and not the one who started the
run. Tokens and the local single-user mode are no person and cannot approve.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from dms.app.audit import record
from dms.app.deletion import check_deletable, purge, setting
from dms.app.principal import ADMIN, Principal, require
from dms.app.services import Services
from dms.catalog import deletions as runs
from dms.catalog.deletions import DeletionRun
from dms.catalog.engine import utcnow
from dms.errors import Conflict, DmsError, Forbidden, NotFound

log = logging.getLogger(__name__)

SCHEDULER = Principal("scheduler", frozenset({ADMIN}))  # the daily task (dms worker --beat)
EXECUTE_TASK = "retention.execute"  # runs an approved run in the background (dms/app/tasks.py)


def _policy(services: Services, document_class: str | None) -> dict[str, Any] | None:
    policy = services.settings.retention_policies.get(document_class or "")
    return policy.to_dict() if policy is not None and policy.retains else None


def sweep(
    services: Services, principal: Principal, *, dry_run: bool = False, trigger: str = "cli",
    created_by: str | None = None, now: datetime | None = None,
) -> DeletionRun:
    """Plan a run over the documents whose retention expired by `now` and that no legal hold
    keeps; then run it at once, or (dry run, or approval required) only record the plan."""
    require(principal, ADMIN)
    now = now or utcnow()
    limit = int(setting(services, "max_documents"))
    planned = [c | {"policy": _policy(services, c["class"])}
               for c in services.catalog.deletions.expired(now, limit=limit)]
    if dry_run:
        status = runs.DRY_RUN
    elif bool(setting(services, "require_approval")) and planned:
        status = runs.AWAITING_APPROVAL
    else:
        status = runs.APPROVED
    run = services.catalog.deletions.create(kind=runs.SWEEP, status=status, trigger=trigger,
                                            created_by=created_by or principal.name, cutoff=now, planned=planned)
    record(services, principal, "retention.sweep", "deletion_run", run.id, status=status, planned=len(planned),
           dry_run=dry_run, trigger=trigger, created_by=run.created_by)
    return execute(services, run.id) if status == runs.APPROVED else run


def purge_trash(
    services: Services, principal: Principal, *, dry_run: bool = False, trigger: str = "cli",
    now: datetime | None = None,
) -> DeletionRun:
    """Delete for good what has been in the trash for `[deletion] trash_days` (no approval: it
    has no retention, and a person deleted it)."""
    require(principal, ADMIN)
    cutoff = (now or utcnow()) - timedelta(days=int(setting(services, "trash_days")))
    planned = [c | {"policy": _policy(services, c["class"])} for c in services.catalog.deletions.in_trash(
        before=cutoff, limit=int(setting(services, "max_documents")))]
    for item in planned:
        item.pop("title", None)  # runs are kept; titles may name persons
    status = runs.DRY_RUN if dry_run else runs.APPROVED
    run = services.catalog.deletions.create(kind=runs.TRASH, status=status, trigger=trigger,
                                            created_by=principal.name, cutoff=cutoff, planned=planned)
    record(services, principal, "trash.purge", "deletion_run", run.id, status=status, planned=len(planned),
           dry_run=dry_run, trigger=trigger)
    return execute(services, run.id) if status == runs.APPROVED else run


def list_runs(services: Services, principal: Principal, *, status: str | None = None, limit: int = 50,
              offset: int = 0) -> list[DeletionRun]:
    require(principal, "audit:read")
    return services.catalog.deletions.list(status=status, limit=limit, offset=offset)


def get_run(services: Services, principal: Principal, run_id: str) -> DeletionRun:
    require(principal, "audit:read")
    return services.catalog.deletions.get(run_id)


def check_approver(services: Services, run: DeletionRun, approver: str) -> None:
    """Forbidden unless `approver` is an active admin user other than the run's creator."""
    from dms.identity.repository import IdentityRepository

    try:
        user = IdentityRepository.for_catalog(services.catalog).get_user(approver)
    except DmsError:
        user = None
    if user is None or not user.active or user.role != "admin":
        raise Forbidden(
            f"Freigeben kann nur ein aktiver Benutzer mit der Rolle admin; {approver!r} ist keiner "
            "(API-Tokens und der lokale Modus ohne Anmeldung können nicht freigeben).",
            code="approver_not_admin",
        )
    if user.username == run.created_by:
        raise Forbidden(
            f"Der Löschlauf wurde von {approver} gestartet; freigeben muss ein zweiter Administrator.",
            code="second_admin_required",
        )


def approve(services: Services, principal: Principal, run_id: str, *, as_user: str | None = None) -> DeletionRun:
    """A second admin approves a run awaiting approval; it then runs (in the background when
    there is a queue). `as_user`: the approving user named at the CLI (else the principal)."""
    require(principal, ADMIN)
    run = services.catalog.deletions.get(run_id)
    approver = as_user or principal.name
    if run.status != runs.AWAITING_APPROVAL:
        raise Conflict(f"Löschlauf {run_id} wartet nicht auf Freigabe (Status {run.status}).",
                       code="run_not_awaiting_approval", run_status=run.status)
    check_approver(services, run, approver)
    approved = services.catalog.deletions.transition(run_id, {runs.AWAITING_APPROVAL}, runs.APPROVED,
                                                     approved_by=approver, approved_at=utcnow())
    if approved is None:
        raise Conflict(f"Löschlauf {run_id} wurde gerade von jemand anderem bearbeitet.",
                       code="run_not_awaiting_approval")
    record(services, principal, "retention.approve", "deletion_run", run_id, approved_by=approver,
           created_by=run.created_by, planned=len(run.planned))
    if services.queue is not None:
        services.queue.submit(EXECUTE_TASK, run_id=run_id)
        return approved
    return execute(services, run_id)


def reject(services: Services, principal: Principal, run_id: str, *, as_user: str | None = None) -> DeletionRun:
    """Drop a run awaiting approval; nothing is deleted (the next sweep plans again)."""
    require(principal, ADMIN)
    rejected = services.catalog.deletions.transition(run_id, {runs.AWAITING_APPROVAL}, runs.REJECTED,
                                                     finished_at=utcnow())
    if rejected is None:
        run = services.catalog.deletions.get(run_id)
        raise Conflict(f"Löschlauf {run_id} wartet nicht auf Freigabe (Status {run.status}).",
                       code="run_not_awaiting_approval", run_status=run.status)
    record(services, principal, "retention.reject", "deletion_run", run_id, by=as_user or principal.name)
    return rejected


def execute(services: Services, run_id: str) -> DeletionRun:
    """Delete what an approved run planned (once: a run already started is left alone)."""
    run = services.catalog.deletions.transition(run_id, {runs.APPROVED}, runs.RUNNING, started_at=utcnow())
    if run is None:
        return services.catalog.deletions.get(run_id)
    items: list[dict[str, Any]] = []
    reason = "retention_expired" if run.kind == runs.SWEEP else "trash_expired"
    try:
        for planned in run.planned:
            items.append(_delete_one(services, run, planned["document_id"], reason))
    except Exception as exc:  # recorded, so the run is not left `running`; the next sweep plans again
        services.catalog.deletions.update(run_id, status=runs.FAILED, items=items, finished_at=utcnow(),
                                          error=str(exc)[:2000])
        raise
    counts = {state: sum(1 for i in items if i["status"] == state) for state in ("deleted", "skipped", "failed")}
    status = runs.FAILED if counts["failed"] else runs.DONE
    done = services.catalog.deletions.update(
        run_id, status=status, items=items, finished_at=utcnow(), deleted=counts["deleted"],
        skipped=counts["skipped"], failed=counts["failed"],
    )
    record(services, Principal(run.created_by), "retention.run", "deletion_run", run_id, kind=run.kind,
           status=status, approved_by=run.approved_by, **counts)
    return done


def _delete_one(services: Services, run: DeletionRun, document_id: str, reason: str) -> dict[str, Any]:
    """Check one planned document again and purge it: its item of the run."""
    try:
        document = services.catalog.documents.get(document_id)
    except NotFound:
        return {"document_id": document_id, "status": "skipped", "reason": "Dokument existiert nicht mehr."}
    try:
        if run.kind == runs.TRASH and (document.trashed_at is None or document.trashed_at > run.cutoff):
            return {"document_id": document_id, "status": "skipped", "reason": "Nicht mehr im Papierkorb."}
        if run.kind == runs.SWEEP and (document.archived_until is None or document.archived_until > utcnow()):
            return {"document_id": document_id, "status": "skipped", "reason": "Aufbewahrung wurde verlängert."}
        check_deletable(services, document)
    except Conflict as exc:
        return {"document_id": document_id, "status": "skipped", "code": exc.code, "reason": exc.message}
    try:
        result = purge(services, document_id, reason=reason, run_id=run.id, approved_by=run.approved_by,
                       requested_by=run.created_by)
    except DmsError as exc:  # e.g. a backend down: the next sweep plans it again
        log.warning("run %s: document %s not deleted: %s", run.id, document_id, exc.message)
        return {"document_id": document_id, "status": "failed", "code": exc.code, "reason": exc.message}
    if result["status"] == "gone":
        return {"document_id": document_id, "status": "skipped", "reason": "Dokument existiert nicht mehr."}
    return result
