"""The task queue interface: named tasks with JSON-serialisable arguments."""

from __future__ import annotations

from typing import Any, Protocol


class TaskQueue(Protocol):
    def submit(self, task: str, **kwargs: Any) -> str:
        """Queue `task` (a name from dms.tasks) with JSON-serialisable kwargs; returns a task id."""
        ...

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until queued tasks are done (embedded queue); True when idle."""
        ...

    def ping(self) -> None: ...

    def shutdown(self) -> None: ...
