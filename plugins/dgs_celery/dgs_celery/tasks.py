"""The Celery task that applies outbox changes, and the sweep a worker runs when it starts.

Celery finds this module when ``"dgs_celery"`` is in ``INSTALLED_APPS`` (``app.autodiscover_tasks()``) or
with ``app.autodiscover_tasks(["dgs_celery"])``.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from celery import shared_task
from celery.signals import worker_ready

log = logging.getLogger("dgs_celery")


@shared_task(bind=True, name="dgs_celery.drain_outbox", acks_late=True, reject_on_worker_lost=True,
             ignore_result=True, max_retries=None)
def drain_outbox(self, document_ids: Optional[list[str]] = None) -> dict[str, Any]:
    """Apply the outbox rows of ``document_ids`` (all due rows when ``None``).

    Changes that failed (or that another worker holds) are retried by this task after their backoff;
    the outbox counts attempts and stops at ``ASYNC_INDEXING["MAX_RETRIES"]``, so the Celery retries
    need no limit of their own.
    """
    from dgs_core.indexing import outbox

    result = outbox.drain(document_ids)
    if result.retry_in is not None:
        raise self.retry(args=[document_ids], countdown=max(1.0, result.retry_in))
    return {"applied": result.applied, "failed": result.failed}


@worker_ready.connect
def sweep_outbox_on_start(sender=None, **kwargs: Any) -> None:
    """Queue one drain of everything due: changes whose task died with a worker, or never reached the
    broker, are applied as soon as a worker is back (after their lease, ``LEASE_SECONDS``, ends)."""
    from dgs_core import engine
    from dgs_core.conf import get_config, transport_name

    if transport_name(get_config()) != "celery":
        return
    drain_outbox.apply_async(args=[None], queue=engine.get_transport().queue)
