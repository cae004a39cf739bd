"""One IMAP poll at a time: `dms mail-poll` and the periodic task `mail.poll` of `dms worker --beat`.

Two locks, both taken without waiting (a run that finds one taken is skipped, the next comes):
- a file lock (flock) on the poller's spool folder: runs on one machine never share the spool;
  the kernel releases it when a process dies, so a restart after SIGKILL polls at once;
- with Redis (scale-out), a Redis lock per mailbox across all machines, its lease renewed after
  every mail (a run that loses it stops after the current mail; a killed run's lease runs out
  after LOCK_LEASE_SECONDS).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import logging
from collections.abc import Iterator
from typing import Any

from dms.app.services import Services, open_queue
from dms.errors import BackendUnavailable
from mail_gateway.imap import StopSignal, imap_spool, poll_once
from mail_gateway.settings import MailSettings

log = logging.getLogger(__name__)

LOCK_LEASE_SECONDS = 300  # renewed after each mail; filing one mail (not its OCR) takes far less
_queued: dict[int, Services] = {}


class AnyOf:
    """Set when any of the signals is set (e.g. SIGTERM received, or the lock lost)."""

    def __init__(self, *signals: StopSignal) -> None:
        self.signals = signals

    def is_set(self) -> bool:
        return any(signal.is_set() for signal in self.signals)


class _Held:
    """The locks of one run; `is_set()` renews the Redis lease and is True once it is lost."""

    def __init__(self, redis_lock: Any = None) -> None:
        self.redis_lock = redis_lock

    def is_set(self) -> bool:
        if self.redis_lock is None:
            return False
        from redis.exceptions import LockError, RedisError

        try:
            self.redis_lock.reacquire()
            return False
        except (LockError, RedisError) as exc:
            log.warning("IMAP poll: lock lost (%s), stopping after the current mail", exc)
            return True


@contextlib.contextmanager
def exclusive_run(services: Services, mail: MailSettings) -> Iterator[_Held | None]:
    """Yields the held locks, or None when another run holds one of them."""
    spool = imap_spool(mail)
    with open(spool.root / ".poll.lock", "a+b") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("IMAP poll: another run on this machine holds %s", spool.root)
            yield None
            return
        redis_url = services.settings.redis_url
        if not redis_url:
            yield _Held()
            return
        import redis
        from redis.exceptions import LockError, RedisError

        client = redis.Redis.from_url(redis_url, socket_connect_timeout=5)
        name = f"dms:mail-poll:{services.settings.celery_queue}:{mail.imap.username}@{mail.imap.host}"
        lock = client.lock(name, timeout=LOCK_LEASE_SECONDS, blocking=False)
        try:
            try:
                acquired = lock.acquire(blocking=False)
            except RedisError as exc:
                raise BackendUnavailable(f"Redis nicht erreichbar (Sperre für den IMAP-Abruf): {exc}") from exc
            if not acquired:
                log.info("IMAP poll: another run holds %s", name)
                yield None
                return
            try:
                yield _Held(lock)
            finally:
                with contextlib.suppress(LockError, RedisError):
                    lock.release()
        finally:
            client.close()


def _with_queue(services: Services) -> Services:
    """Celery workers build their Services without a queue; filing must queue the ingests."""
    if services.queue is not None:
        return services
    key = id(services)
    if key not in _queued:
        _queued[key] = dataclasses.replace(services, queue=open_queue(services.settings, services))
    return _queued[key]


def run_periodic_poll(services: Services) -> dict[str, Any]:
    """The task `mail.poll`: poll once unless another run holds the lock; the report as a dict."""
    mail = MailSettings.from_settings(services.settings)
    if not mail.imap.configured:
        return {"skipped": "not_configured"}
    services = _with_queue(services)
    with exclusive_run(services, mail) as held:
        if held is None:
            return {"skipped": "running"}
        return poll_once(services, mail, stop=held).to_dict()
