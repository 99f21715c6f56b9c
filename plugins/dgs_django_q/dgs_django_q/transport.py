"""``ASYNC_INDEXING = {"ENABLED": True, "BACKEND": "django_q"}``: index changes applied by a django-q2 cluster."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

from dgs_core.base import Transport
from dgs_core.exceptions import PluginError
from dgs_core.options import Options as NoOptions

#: The task the cluster runs, by the dotted path django-q stores with each task.
DRAIN_TASK = "dgs_django_q.transport.drain_task"


class DjangoQTransport(Transport):
    """Queues :func:`drain_task` on a django-q2 cluster (``manage.py qcluster``).

    Needs ``"django_q"`` in ``INSTALLED_APPS``; a failed change is retried by a one-off django-q schedule
    after its backoff.
    """

    @dataclass(frozen=True)
    class Options(NoOptions):
        """None of its own (the cluster is configured by ``Q_CLUSTER``): declared, so ``manage.py check`` reports
        any ``ASYNC_INDEXING`` key that is neither core's nor a transport's."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        try:
            from django_q.tasks import async_task
        except ImportError as exc:
            raise PluginError(
                "ASYNC_INDEXING['BACKEND'] is 'django_q', but django-q2 is not importable. Run: pip install django-q2 "
                f"and add 'django_q' to INSTALLED_APPS ({exc})."
            ) from exc
        self._async_task = async_task

    def submit(self, document_ids: Sequence[str]) -> None:
        self._async_task(DRAIN_TASK, list(document_ids), task_name="dgs index changes")


def drain_task(document_ids: Optional[list[str]] = None) -> dict[str, Any]:
    """The django-q task: drain ``document_ids`` and schedule one retry for what is left."""
    from datetime import timedelta

    from django.utils import timezone
    from django_q.models import Schedule
    from django_q.tasks import schedule

    from dgs_core.indexing import outbox

    result = outbox.drain(document_ids)
    if result.retry_in is not None:
        schedule(DRAIN_TASK, document_ids, schedule_type=Schedule.ONCE,
                 next_run=timezone.now() + timedelta(seconds=result.retry_in))
    return dataclasses.asdict(result)
