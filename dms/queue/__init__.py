"""Task queue backends: in-process threads (embedded) or Celery on Redis (scale-out)."""

from dms.queue.base import TaskQueue
from dms.queue.inprocess import InProcessQueue

__all__ = ["InProcessQueue", "TaskQueue"]
