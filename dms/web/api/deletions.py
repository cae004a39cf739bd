"""Deletion runs and the trash (issue #12): `/retention/runs`, `/trash`.

`POST /retention/runs` starts a sweep (or `?dry_run=1` only plans one); with `[deletion]
require_approval` it waits for `POST /retention/runs/<id>/approve` by a second admin (an active
user with role admin who did not start it). Reading runs needs `audit:read`; the rest `admin`.
The DELETE/restore routes of documents are in documents.py; the use cases in dms/app/deletion*.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from flask import jsonify
from pydantic import BaseModel, Field

from dms.app import deletion, deletion_runs
from dms.app.principal import ADMIN, AUDIT_READ
from dms.catalog import deletions as runs
from dms.web.api import api_bp, services
from dms.web.auth import require
from dms.web.openapi import operation
from dms.web.openapi.models import Response
from dms.web.params import bool_arg, choice_arg, int_arg

STATUSES = [runs.DRY_RUN, runs.AWAITING_APPROVAL, runs.APPROVED, runs.RUNNING, runs.DONE, runs.FAILED, runs.REJECTED]


class DocumentDeleteQuery(BaseModel):
    version: int | None = Field(None, ge=1, le=1_000_000, description="Delete only this (older) version.")


class DeleteOutcome(Response):
    id: str
    outcome: Literal["trashed", "version_deleted"]
    trashed_at: datetime | None = Field(description="In the trash since (`trashed`).")
    purge_after: datetime | None = Field(description="Deleted for good after this (`[deletion] trash_days`).")
    version: int | None = Field(description="The version deleted (`version_deleted`).")


class DeletionRunQuery(BaseModel):
    status: Literal[tuple(STATUSES)] | None = None  # type: ignore[valid-type]
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=1_000_000)


class DeletionSweepQuery(BaseModel):
    dry_run: bool = Field(False, description="Only plan: list what would be deleted, delete nothing.")


class DeletionRunReply(Response):
    id: str
    kind: Literal["sweep", "trash"]
    status: Literal[tuple(STATUSES)]  # type: ignore[valid-type]
    trigger: str = Field(description="`cli`, `api` or `schedule` (the daily task).")
    created_at: datetime
    created_by: str
    cutoff: datetime = Field(description="Retention expired (sweep) or trashed (trash) by this time.")
    approved_by: str | None
    approved_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    planned: list[dict[str, Any]] = Field(description="`{document_id, class, customer_number, policy, …}` each.")
    items: list[dict[str, Any]] = Field(
        description="What became of each: `status` deleted (with `record_key`, `record_version_id`, `record_sha256` "
        "of its deletion record in the archive), skipped or failed (with `reason`)."
    )
    deleted: int
    skipped: int
    failed: int
    error: str | None


class DeletionRunList(Response):
    runs: list[DeletionRunReply] = Field(description="Newest first.")


class TrashEntry(Response):
    document_id: str
    customer_number: str | None
    title: str
    trashed_at: datetime
    purge_after: datetime


class TrashList(Response):
    documents: list[TrashEntry] = Field(description="Oldest first.")


@api_bp.get("/retention/runs")
@operation("Deletion runs (retention sweeps, trash purges), newest first", permission=AUDIT_READ,
           query=DeletionRunQuery, reply=DeletionRunList, tag="retention")
def list_runs():
    principal = require(AUDIT_READ)
    found = deletion_runs.list_runs(services(), principal, status=choice_arg("status", STATUSES),
                                    limit=int_arg("limit", 50, minimum=1, maximum=500),
                                    offset=int_arg("offset", 0, maximum=1_000_000))
    return jsonify({"runs": [r.to_dict() for r in found]})


@api_bp.get("/retention/runs/<run_id>")
@operation("One deletion run with what became of each document", permission=AUDIT_READ, reply=DeletionRunReply,
           tag="retention")
def get_run(run_id: str):
    principal = require(AUDIT_READ)
    return jsonify(deletion_runs.get_run(services(), principal, run_id).to_dict())


@api_bp.post("/retention/runs")
@operation("Start a retention sweep", permission=ADMIN, query=DeletionSweepQuery, status=201, reply=DeletionRunReply,
           tag="retention",
           description="Plans the documents whose retention expired and that no legal hold keeps; deletes them at "
           "once, unless `dry_run` or `[deletion] require_approval` (then status `awaiting_approval`).")
def start_sweep():
    principal = require(ADMIN)
    run = deletion_runs.sweep(services(), principal, dry_run=bool_arg("dry_run"), trigger="api")
    return jsonify(run.to_dict()), 201


@api_bp.post("/retention/runs/<run_id>/approve")
@operation("Approve a run as a second admin; it then deletes", permission=ADMIN, reply=DeletionRunReply,
           tag="retention",
           errors={403: "`approver_not_admin`: only an active user with role admin approves (no token, not the local "
                   "mode); `second_admin_required`: the one who started the run cannot approve it.",
                   409: "`run_not_awaiting_approval`: the run is in another status (`run_status`)."})
def approve_run(run_id: str):
    principal = require(ADMIN)
    return jsonify(deletion_runs.approve(services(), principal, run_id).to_dict())


@api_bp.get("/trash")
@operation("Documents in the trash, with when each is deleted for good", permission=ADMIN, reply=TrashList,
           tag="documents")
def list_trash():
    principal = require(ADMIN)
    return jsonify({"documents": deletion.trash(services(), principal)})
