"""Retries bounded by a deadline, for backends called from a web request (e.g. cloud embedders embedding
a search query): a visitor waits at most ``TIMEOUT`` seconds in all.

Provider SDKs retry on their own (waiting as long as the API's ``Retry-After`` asks), which suits
indexing, but cannot bound the total time of a call; queries go through :func:`call_within` with the
SDK's retries turned off. Shared by the embedders of cloud APIs (:mod:`dgs_core.remote`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from typing import Optional, TypeVar

Result = TypeVar("Result")


def retry_after(headers: Mapping[str, str]) -> Optional[float]:
    """Seconds the server asked to wait (``retry-after-ms`` or ``retry-after`` in seconds), or ``None``."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            return max(0.0, float(headers[name]) * scale)
        except (KeyError, TypeError, ValueError):
            continue
    return None


def backoff(attempt: int) -> float:
    """Exponential backoff from 0.25 s, with jitter so many web workers do not retry in step."""
    return 0.25 * 2**attempt * (1 - 0.25 * random.random())


def call_within(
    seconds: float,
    max_retries: int,
    send: Callable[[float], Result],
    retry_delay: Callable[[Exception, int], Optional[float]],
) -> Result:
    """``send(remaining_seconds)``, retried while the wait ``retry_delay`` asks for still fits in ``seconds``.

    ``retry_delay(error, attempt)`` returns the seconds to wait before the next attempt, or ``None``
    when ``error`` is not worth retrying. The last error is raised as is.
    """
    deadline = time.monotonic() + seconds
    attempt = 0
    while True:
        try:
            return send(max(deadline - time.monotonic(), 0.001))
        except Exception as exc:
            delay = retry_delay(exc, attempt)
            if delay is None or attempt >= max_retries or time.monotonic() + delay >= deadline:
                raise
        time.sleep(delay)
        attempt += 1
