"""Deleting documents on embedded defaults (issue #12): trash, versions, retention, legal hold,
the sweep and its approval, against a real `dms serve` and the CLI; what is left is read from the
data folder itself (objects/ and the software-enforced archive/). The same lifecycle runs on the
real servers in tests/scaleout/test_deletion_lifecycle.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dms.config import Settings
from tests import deletion_lifecycle as flow

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _files(root: Path) -> list[str]:
    if not root.exists():
        return []
    return sorted(p.relative_to(root.parent).as_posix() for p in root.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[flow.Stack]:
    base = tmp_path_factory.mktemp("deletion")
    data = base / "data"

    def leftovers(document_id: str) -> list[str]:
        return _files(data / "objects" / "documents" / document_id) + _files(
            data / "archive" / "archive" / "documents" / document_id)

    def read_record(document_id: str) -> dict[str, Any]:
        folder = data / "archive" / "deletions" / f"{document_id}.json.obj"
        latest = sorted(p for p in folder.iterdir() if not p.name.endswith(".lock.json"))[-1]
        lock = json.loads(latest.with_name(latest.name + ".lock.json").read_text())
        assert lock["mode"] == "COMPLIANCE" and lock["retain_until"] > "2030"  # kept for [deletion] record_years
        return json.loads(latest.read_bytes())

    found = flow.start_stack(base, flow.environment(), leftovers=leftovers, read_record=read_record)
    try:
        yield found
    finally:
        found.stop()


def test_trash_restore_and_purge(stack: flow.Stack) -> None:
    flow.trash_and_restore(stack)


def test_deleting_an_older_version(stack: flow.Stack) -> None:
    flow.delete_a_version(stack)


def test_retention_legal_hold_sweep_and_approval(stack: flow.Stack) -> None:
    flow.retention_hold_sweep_and_approval(stack)


def test_every_deletion_setting_is_documented() -> None:
    keys = [f"deletion.{key}" for key in Settings.from_env({}).rules["deletion"]]
    missing = [key for key in keys if f"`{key}`" not in README]
    assert not missing, f"undocumented deletion settings: {missing}"


def test_the_daily_tasks_are_scheduled() -> None:
    from dms.app.tasks import RETENTION_EXECUTE_TASK, RETENTION_SWEEP_TASK, TASKS, TRASH_PURGE_TASK
    from dms.queue.celery_app import beat_schedule

    schedule = beat_schedule(Settings.from_env({}))
    assert {RETENTION_SWEEP_TASK, TRASH_PURGE_TASK} <= set(schedule)
    assert {RETENTION_SWEEP_TASK, TRASH_PURGE_TASK, RETENTION_EXECUTE_TASK} <= set(TASKS)
