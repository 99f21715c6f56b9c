"""Where recorded index changes are applied: the transport of this process and core's transports.

Selection (:func:`transport_name`): ``ASYNC_INDEXING["BACKEND"]`` when ``ASYNC_INDEXING["ENABLED"]``;
otherwise ``thread`` when ``AUTO_INDEX_NON_BLOCKING`` (a save never waits for embedding), else ``sync``.

* ``sync`` (:class:`SyncTransport`): drains in the committing thread.
* ``thread`` (:class:`ThreadTransport`): a bounded pool of daemon threads in this process.
* task queues and their workers: plugins that register a transport.

Every transport only decides where :func:`dgs_core.indexing.outbox.drain` runs; the outbox keeps the work, so a
transport that loses a hand-over loses nothing.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

from dgs_core.base import Transport
from dgs_core.options import Options as NoOptions
from dgs_core.options import option

log = logging.getLogger("dgs_core.indexing.transports")


# -------------------------------------------------------------------------------------------------
# sync
# -------------------------------------------------------------------------------------------------


class SyncTransport(Transport):
    """Applies changes in the committing thread: a save returns once its documents are indexed."""
    def submit(self, document_ids: Sequence[str]) -> None:
        # Imported when used: the registry lists transports before Django's models are ready.
        from dgs_core.indexing import outbox

        outbox.drain(document_ids)


# -------------------------------------------------------------------------------------------------
# thread
# -------------------------------------------------------------------------------------------------

_live_thread_transports: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _drain_on_exit() -> None:
    for transport in list(_live_thread_transports):
        transport.close()


class ThreadTransport(Transport):
    """Drains the outbox in at most ``THREAD_POOL_SIZE`` daemon threads of this process.

    ``submit`` only wakes a worker, so ``save()`` returns before anything is embedded. Threads start on
    first use; a retry (backoff) wakes them on time; :meth:`close` (also run at interpreter exit)
    drains what was submitted, at most ``timeout`` seconds, and joins them.
    """

    @dataclass(frozen=True)
    class Options(NoOptions):
        thread_pool_size: int = option(1, min=0, help="threads that drain the outbox (0 means 1)")

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.size = max(1, self.options.thread_pool_size)
        self._wakeup = threading.Condition()
        self._requested = False
        self._retry_at: Optional[float] = None  # time.monotonic() of the next automatic retry
        self._stopping = False
        self._threads: list[threading.Thread] = []

    def submit(self, document_ids: Sequence[str]) -> None:
        with self._wakeup:
            if self._stopping:
                log.warning("The thread transport is closed; %d changes wait in the outbox.", len(document_ids))
                return
            self._requested = True
            if len(self._threads) < self.size:
                thread = threading.Thread(target=self._work, name=f"dgs-index-{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                _live_thread_transports.add(self)
                thread.start()
            self._wakeup.notify()

    def close(self, timeout: float = 30.0) -> None:
        with self._wakeup:
            self._stopping = True
            self._wakeup.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            log.warning("Index threads %s still busy after %.0f s; their changes stay in the outbox.", alive, timeout)

    def _take_work(self) -> bool:
        """Wait for a submit or a due retry; ``False`` when closing with nothing requested."""
        with self._wakeup:
            while not self._requested and not self._stopping:
                wait = None if self._retry_at is None else self._retry_at - time.monotonic()
                if wait is not None and wait <= 0:
                    self._retry_at = None
                    break
                self._wakeup.wait(wait)
            if self._stopping and not self._requested:
                return False
            self._requested = False
            return True

    def _work(self) -> None:
        from django.db import connections

        from dgs_core.indexing import outbox

        while self._take_work():
            try:
                result = outbox.drain(max_batches=1)
            except Exception:
                log.exception("Draining the index outbox failed; retrying in 5 s.")
                result = outbox.DrainResult(retry_in=5.0)
            finally:
                connections.close_all()  # this thread's connections; a long-lived thread must not hold them
            with self._wakeup:
                if result.more:  # a full batch: more is due, let another worker (or this one) continue
                    self._requested = True
                    self._wakeup.notify()
                elif result.retry_in is not None:
                    at = time.monotonic() + result.retry_in
                    self._retry_at = at if self._retry_at is None else min(self._retry_at, at)
                    self._wakeup.notify()
