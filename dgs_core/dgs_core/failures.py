"""What a caller is told when search fails on the server's side: a fixed message and a request id, never the cause.

Every 5xx answer of dgs (the REST API, the stream's ``error`` event, the admin pages, the demo page) carries one of
the :data:`MESSAGES` and a fresh request id (body ``request_id``, header ``X-Request-ID``). The cause (the engine's
own error text, index paths, database hosts, cache addresses) goes only to the server log, at ERROR, on a line that
names the same request id, so an operator finds it from what a user reports.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError

from dgs_core.exceptions import BackendUnavailable, EmbedderMismatchError, PluginError

#: Response header naming the request id of a failure.
REQUEST_ID_HEADER = "X-Request-ID"

#: The fixed message of each kind of failure, answered with status 503.
UNAVAILABLE = "Search is unavailable right now; please try again later."
MISCONFIGURED = "Search is misconfigured on this server; the server log has the details."
UNEXPECTED = "Search failed unexpectedly; the error has been logged."
MESSAGES = {"unavailable": UNAVAILABLE, "misconfigured": MISCONFIGURED, "unexpected": UNEXPECTED}
STATUS = 503


def new_request_id() -> str:
    """A random id (32 hex digits) naming one failure in the answer and in the log."""
    return uuid.uuid4().hex


def failure_kind(exc: BaseException) -> str:
    """``unavailable`` (a store, embedder, memory or database that cannot be reached), ``misconfigured``
    (settings, a missing plugin, an index built by another embedder) or ``unexpected`` (anything else: a bug)."""
    if isinstance(exc, (BackendUnavailable, DatabaseError, ConnectionError, TimeoutError)):
        return "unavailable"
    if isinstance(exc, (ImproperlyConfigured, PluginError, EmbedderMismatchError)):
        return "misconfigured"
    return "unexpected"


@dataclass(frozen=True)
class Failure:
    """One failure as answered: its fixed ``message`` and ``request_id``."""

    kind: str
    request_id: str

    @property
    def message(self) -> str:
        return MESSAGES[self.kind]

    @property
    def status(self) -> int:
        return STATUS

    def body(self) -> dict[str, Any]:
        return {"error": self.message, "request_id": self.request_id}

    @property
    def headers(self) -> dict[str, str]:
        return {REQUEST_ID_HEADER: self.request_id}


def report_failure(exc: BaseException, log: logging.Logger, where: str, request_id: str = "",
                   kind: str = "") -> Failure:
    """Log ``exc`` at ERROR under a request id (with its traceback when it is unexpected) and return what the
    caller is told. ``where`` says what failed ("GET /api/search/"); ``request_id`` is made when not given;
    ``kind`` overrides :func:`failure_kind`."""
    failure = Failure(kind or failure_kind(exc), request_id or new_request_id())
    if failure.kind == "unexpected":
        log.error("%s failed unexpectedly [request_id=%s]", where, failure.request_id, exc_info=exc)
    else:
        log.error("%s failed [request_id=%s]: %s: %s", where, failure.request_id, type(exc).__name__, exc)
    return failure
