"""TaskQueue over Celery: the web service only sends tasks; `dms worker` processes run them."""

from __future__ import annotations

import json
import time
from typing import Any

from celery import Celery
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError

from dms.errors import BackendUnavailable

POLL_SECONDS = 0.2
BROKER_ERRORS = (KombuOperationalError, RedisError, OSError)


class CeleryQueue:
    def __init__(self, app: Celery) -> None:
        self._app = app

    def submit(self, task: str, **kwargs: Any) -> str:
        """Send `task` with JSON kwargs to the broker; the id is Celery's task id."""
        json.dumps(kwargs)  # fail here, not in the worker, on arguments that are not JSON
        try:
            return self._app.send_task(task, kwargs=kwargs).id
        except BROKER_ERRORS as exc:
            raise BackendUnavailable(f"Warteschlange nicht erreichbar: {exc}") from exc

    def pending(self) -> int:
        """Tasks waiting in the default queue plus tasks delivered but not yet acknowledged."""
        queue = self._app.conf.task_default_queue
        with self._app.connection_for_read() as conn:
            channel = conn.default_channel
            waiting = channel.queue_declare(queue=queue).message_count  # redis: no side effect
            unacked = channel.client.hlen(channel.unacked_key)
        return int(waiting) + int(unacked)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Poll the broker until no task waits or runs (anywhere, all workers); True when idle.

        Best effort: a task is invisible for the instant between leaving the queue and being
        registered as unacknowledged, so idleness must be seen twice in a row.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        seen_idle = 0
        while True:
            try:
                seen_idle = seen_idle + 1 if self.pending() == 0 else 0
            except BROKER_ERRORS as exc:
                raise BackendUnavailable(f"Warteschlange nicht erreichbar: {exc}") from exc
            if seen_idle >= 2:
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(POLL_SECONDS)

    def ping(self) -> None:
        """Raise BackendUnavailable unless the broker answers."""
        try:
            with self._app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=5)
                conn.default_channel.client.ping()
        except BROKER_ERRORS as exc:
            raise BackendUnavailable(f"Warteschlange nicht erreichbar: {exc}") from exc

    def shutdown(self) -> None:
        """Release broker connections; queued tasks stay in Redis for the workers."""
        self._app.close()
