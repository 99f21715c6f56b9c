"""``ASYNC_INDEXING = {"ENABLED": True, "BACKEND": "celery", "CELERY_QUEUE": "search_indexing"}``.

``CELERY_QUEUE`` is this transport's own option, declared in :attr:`CeleryTransport.Options`: dgs-core keeps the
``ASYNC_INDEXING`` keys it does not know in ``config.async_indexing.options`` (lower-cased) and hands them to the
selected transport; ``manage.py check`` reports a key it does not declare, or a value of another type (dgs.E009).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dgs_core.base import Transport
from dgs_core.options import Options as NoOptions
from dgs_core.options import option

#: ``CELERY_QUEUE`` when ``ASYNC_INDEXING`` leaves it out.
DEFAULT_QUEUE = "search_indexing"


class CeleryTransport(Transport):
    """Sends the committed changes to Celery workers as :func:`dgs_celery.tasks.drain_outbox` tasks.

    Changes travel in tasks of at most ``INDEX_BATCH_SIZE`` ids, so a burst spreads over every worker
    consuming ``CELERY_QUEUE``. The outbox keeps each change until a worker applied it: a task lost with
    its worker, or never sent because the broker was down, is picked up by the sweep a worker runs when
    it starts (and by any periodic ``drain_outbox`` you schedule with celery beat).
    """

    @dataclass(frozen=True)
    class Options(NoOptions):
        celery_queue: str = option(DEFAULT_QUEUE, min=1, help="the Celery queue the index tasks go to")

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.queue = self.options.celery_queue

    def submit(self, document_ids: Sequence[str]) -> None:
        from dgs_celery.tasks import drain_outbox
        from dgs_core.conf import get_config

        size = get_config().index_batch_size
        ids = list(document_ids)
        for start in range(0, len(ids), size):
            drain_outbox.apply_async(args=[ids[start : start + size]], queue=self.queue)
