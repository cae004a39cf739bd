"""Celery on Redis: the scale-out task queue.

`make_celery(settings)` builds the app; every name in `dms.app.tasks.TASKS` becomes a Celery task
of the same name that only calls `run_in_worker` (a plain function). Arguments and results are
JSON only.

Delivery guarantees (Redis broker):

* `task_acks_late`: a task is acknowledged when it finished, so a worker that dies mid-task
  does not lose it. Our tasks are idempotent (`ingest.process` skips a finished version).
* `visibility_timeout` (DMS_CELERY_VISIBILITY_TIMEOUT, seconds, default 3600): an unacknowledged
  task whose worker vanished (SIGKILL, power loss) is delivered again only after this time. A
  task that *runs* longer than this is delivered a second time as well, so keep it above the
  longest ingest. Retry back-off is capped below it (a retry waits unacknowledged in a worker).
* `task_reject_on_worker_lost`: if only a pool child dies, the task is requeued at once.
* Transient errors (`BackendUnavailable`, lost database connections) are retried with exponential
  back-off and jitter, `MAX_RETRIES` times; then `give_up` ends the document `failed`, original kept.

Poison messages (a document whose processing kills the worker, e.g. out of memory): acks_late
and reject_on_worker_lost deliver such a task again and again, by design. The one guard is the
per-version attempt counter of the catalog (`ingest.pipeline.process_version`): every delivery
counts an attempt in its own committed transaction *before* any stage runs, so a delivery that
dies still counted; once more than `[ingest] max_attempts` were started, the next delivery ends
the document `failed` (`too_many_attempts`) without running a stage and the task is acknowledged
as succeeded. No Celery-side delivery count is used (Redis has none that survives a restore).

`max_attempts` counts *started* attempts, not Celery retries: an attempt that ends with
`BackendUnavailable` gives its count back before the exception reaches Celery's autoretry, so
a backend that is down for a while uses up `MAX_RETRIES` (then `give_up`), never the attempts.
(If the catalog itself went down mid-attempt, giving back may fail and that attempt counts.)
A task delivered twice at once (it ran longer than the visibility timeout) counts twice.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

from celery import Celery, Task
from celery.schedules import crontab
from sqlalchemy.exc import InterfaceError, OperationalError

from dms.app.services import Services, build_services
from dms.app.tasks import (
    ARCHIVE_CATCH_UP_TASK,
    AUDIT_SEAL_TASK,
    GIVE_UP,
    MAIL_POLL_TASK,
    RETENTION_SWEEP_TASK,
    TASKS,
    TRASH_PURGE_TASK,
    run_task,
)
from dms.config import Settings
from dms.errors import BackendUnavailable, ValidationError

log = logging.getLogger(__name__)

MAX_RETRIES = 8
RETRY_BACKOFF_MAX = 600  # seconds
DEFAULT_VISIBILITY_TIMEOUT = 3600
VISIBILITY_TIMEOUT_ENV = "DMS_CELERY_VISIBILITY_TIMEOUT"


# --- plain functions (no Celery) ---------------------------------------------------------------


class LazyServices:
    """The Services of one worker process, built on first use, never shared across a fork."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._services: Services | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    def get(self) -> Services:
        with self._lock:
            if self._services is None or self._pid != os.getpid():
                self._services = build_services(self.settings, with_queue=False)
                self._pid = os.getpid()
            return self._services


def run_in_worker(services: LazyServices, name: str, kwargs: dict[str, Any]) -> Any:
    """Run one task; a lost database connection counts as `BackendUnavailable` (retryable)."""
    try:
        return run_task(services.get(), name, kwargs)
    except (OperationalError, InterfaceError) as exc:
        raise BackendUnavailable(f"Katalog nicht erreichbar: {exc.orig}") from exc


def give_up(services: Services, name: str, kwargs: dict[str, Any], error: BackendUnavailable, retries: int) -> None:
    """Retries are exhausted: end the task's document `failed` with the reason (the original stays).

    If the catalog itself is down this cannot be recorded; the document stays `processing`
    and `dms serve` queues it again at its next start (`recover_pending`).
    """
    handler = GIVE_UP.get(name)
    if handler is None:
        return
    reason = f"{error.message} [{error.code}] – nach {retries} Wiederholungen aufgegeben"
    try:
        handler(services, kwargs, reason)
    except Exception:  # noqa: BLE001 - nothing more to do; recover_pending picks it up
        log.exception("could not record the failure of %s %s", name, kwargs)


# --- Celery ------------------------------------------------------------------------------------


class DmsCelery(Celery):
    """Celery app that carries the lazily built Services of the worker process."""

    services: LazyServices


class DmsTask(Task):
    """Base task: reports exhausted retries to `give_up`."""

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        if isinstance(exc, BackendUnavailable):
            app: DmsCelery = self.app  # type: ignore[assignment]
            try:
                services = app.services.get()
            except Exception:  # noqa: BLE001 - the backend is still down
                log.exception("task %s %s gave up; failure not recorded", self.name, task_id)
                return
            give_up(services, self.name, dict(kwargs or {}), exc, self.request.retries)


def visibility_timeout(settings: Settings) -> int:
    """Seconds until an unacknowledged task is delivered again (see the module docstring)."""
    value = getattr(settings, "celery_visibility_timeout", None)
    if value is None:
        value = os.environ.get(VISIBILITY_TIMEOUT_ENV) or DEFAULT_VISIBILITY_TIMEOUT
    return max(1, int(value))


def _transport_options(timeout: int) -> dict[str, Any]:
    # Kombu sweeps for expired unacked tasks every interval * throttle seconds (default 100 s);
    # keep that below half the visibility timeout so a lost task comes back in time.
    interval = min(10, max(1, timeout // 10))
    throttle = min(10, max(1, (timeout // 2) // interval))
    return {
        "visibility_timeout": timeout,
        "unacked_restore_interval": interval,
        "unacked_restore_throttle": throttle,
        "socket_connect_timeout": 5,
    }


def make_celery(settings: Settings) -> DmsCelery:
    """The Celery app for `settings` (broker and result backend: DMS_REDIS_URL)."""
    if not settings.redis_url:
        raise ValidationError("DMS_REDIS_URL fehlt: Celery braucht Redis.", code="bad_config")
    timeout = visibility_timeout(settings)
    app = DmsCelery("kundenakte", task_cls=DmsTask, set_as_current=False)
    app.services = LazyServices(settings)
    app.conf.update(
        broker_url=settings.redis_url,
        result_backend=settings.redis_url,
        task_default_queue=settings.celery_queue,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_track_started=True,
        broker_connection_retry_on_startup=True,
        broker_transport_options=_transport_options(timeout),
        result_backend_transport_options={"socket_connect_timeout": 5},
        result_expires=24 * 3600,
        beat_schedule=beat_schedule(settings),
    )
    for name in TASKS:
        _register(app, name, backoff_max=min(RETRY_BACKOFF_MAX, max(1, timeout // 2)))
    return app


def beat_schedule(settings: Settings) -> dict[str, Any]:
    """Periodic tasks of `dms worker --beat`: the daily retention sweep and trash purge
    (`DAILY_DELETION`), and the IMAP poll every `[mail.imap] poll_seconds` when a mailbox is
    configured. A poll not started within one interval expires (the next one comes)."""
    schedule: dict[str, Any] = dict(DAILY_DELETION)  # retention sweep and trash purge (issue #12)
    schedule[AUDIT_SEAL_TASK] = DAILY_SEAL  # seal the audit trail (dms/app/audit_seal.py)
    schedule[ARCHIVE_CATCH_UP_TASK] = ARCHIVE_CATCH_UP  # archive what a failed archive stage left (issue #12)
    imap = settings.rules.get("mail", {}).get("imap", {})
    if not isinstance(imap, dict) or not imap.get("host"):
        return schedule
    seconds = max(1.0, float(imap.get("poll_seconds", 60)))
    schedule[MAIL_POLL_TASK] = {"task": MAIL_POLL_TASK, "schedule": seconds, "options": {"expires": seconds}}
    return schedule


# Once a day (UTC), at night: the retention sweep, then the trash purge; one not started within
# 12 hours expires (the next day's comes).
DAILY_DELETION: dict[str, Any] = {
    name: {"task": name, "schedule": crontab(hour=hour, minute=30), "options": {"expires": 12 * 3600}}
    for name, hour in ((RETENTION_SWEEP_TASK, 2), (TRASH_PURGE_TASK, 3))
}
# Every 15 minutes: archive filed versions the archive stage could not write (catch-up, issue #12).
ARCHIVE_CATCH_UP_SECONDS = 900.0
ARCHIVE_CATCH_UP: dict[str, Any] = {"task": ARCHIVE_CATCH_UP_TASK, "schedule": ARCHIVE_CATCH_UP_SECONDS,
                                    "options": {"expires": ARCHIVE_CATCH_UP_SECONDS}}
# Once a day at 01:15 UTC: seal the audit trail into the WORM archive (expires like the above).
DAILY_SEAL: dict[str, Any] = {"task": AUDIT_SEAL_TASK, "schedule": crontab(hour=1, minute=15),
                              "options": {"expires": 12 * 3600}}


def _register(app: DmsCelery, name: str, *, backoff_max: int) -> None:
    @app.task(
        name=name,
        bind=True,
        autoretry_for=(BackendUnavailable,),
        retry_backoff=True,
        retry_backoff_max=backoff_max,
        retry_jitter=True,
        max_retries=MAX_RETRIES,
    )
    def task(self: Task, **kwargs: Any) -> Any:
        return run_in_worker(app.services, name, kwargs)


def run_worker(settings: Settings, concurrency: int = 2, loglevel: str = "INFO", beat: bool = False) -> None:
    """Run a Celery worker in this process (prefork pool, fair scheduling) until it is stopped;
    with `beat` it also sends the periodic tasks (`beat_schedule`; run it on one worker only)."""
    from dms.app.services import open_catalog
    from dms.webhooks.delivery import start_for_worker

    app = make_celery(settings)
    delivery = start_for_worker(settings, open_catalog)  # webhooks: this process delivers the outbox
    # at start: archive what a crash left unarchived and re-check the archive against the policies
    try:
        app.send_task(ARCHIVE_CATCH_UP_TASK, kwargs={"reconcile": True})
    except Exception:  # noqa: BLE001 - the broker is not up yet: the next beat or serve start queues it
        log.warning("archive catch-up not queued at worker start")
    try:
        _worker_main(app, concurrency, loglevel, beat_dir=settings.data_dir if beat else None)
    finally:
        if delivery is not None:
            delivery.stop()


def _worker_main(app: DmsCelery, concurrency: int, loglevel: str, beat_dir: Path | None = None) -> None:
    argv = [
        "worker",
        "--pool=prefork",
        f"--concurrency={max(1, concurrency)}",
        "-O", "fair",
        f"--loglevel={loglevel}",
        f"--hostname=dms-{os.getpid()}@%h",  # several workers per host keep distinct node names
    ]
    if beat_dir is not None:  # embedded beat; its schedule state file lives in the data folder
        beat_dir.mkdir(parents=True, exist_ok=True)
        argv += ["--beat", f"--schedule={beat_dir / 'celerybeat-schedule'}"]
    app.worker_main(argv)


_default: dict[str, DmsCelery] = {}


def __getattr__(name: str) -> DmsCelery:
    """`celery -A dms.queue.celery_app worker`: the app from the environment, built on first access."""
    if name != "app":
        raise AttributeError(name)
    if "app" not in _default:
        _default["app"] = make_celery(Settings.from_env())
    return _default["app"]
