"""In-process task queue: a pool of worker threads (embedded default).

Tasks run the same plain functions as the Celery tasks. Work that was queued when the
process stopped is found again at start-up (documents still `received`/`processing`). A document
that kills the process every time is not retried forever: the pipeline counts attempts in the
catalog before it works and gives up after `[ingest] max_attempts` (ingest/pipeline.py).
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

log = logging.getLogger(__name__)


class InProcessQueue:
    def __init__(self, runner: Callable[[str, dict[str, Any]], Any], workers: int = 2) -> None:
        self._runner = runner
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="dms-worker")
        self._pending: set[Future[Any]] = set()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)

    def submit(self, task: str, **kwargs: Any) -> str:
        json.dumps(kwargs)  # same contract as Celery: arguments must be JSON-serialisable
        task_id = str(uuid.uuid4())
        future = self._pool.submit(self._run, task, kwargs)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)
        return task_id

    def _run(self, task: str, kwargs: dict[str, Any]) -> Any:
        try:
            return self._runner(task, kwargs)
        except Exception:
            log.exception("task %s failed", task)
            raise

    def _done(self, future: Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)
            if not self._pending:
                self._idle.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        with self._lock:
            return self._idle.wait_for(lambda: not self._pending, timeout=timeout)

    def ping(self) -> None:
        return None

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)
