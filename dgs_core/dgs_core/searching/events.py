"""Search events: every search step reports what it did with :func:`emit`.

Events go to the :data:`hub`'s subscribers (structured logging by default: logger ``dgs_core.events`` at DEBUG)
and, inside a streaming request (:mod:`dgs_core.streaming`), to that request's sink, which also carries the
client's cancel switch.
"""

from __future__ import annotations

import contextvars
import itertools
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from django.core.serializers.json import DjangoJSONEncoder

from dgs_core.exceptions import GraphSearchError

log = logging.getLogger(__name__)
event_log = logging.getLogger("dgs_core.events")


#: Events of the pipeline's steps, left out of streams while ``INCLUDE_INTERNAL_EVENTS`` is false.
INTERNAL_EVENTS = frozenset({"expanded", "vector_search_completed", "keyword_search_completed", "reranked",
                             "fallback"})


class StreamCancelled(GraphSearchError):
    """The client of a stream went away; the search stops at its next step."""


@dataclass(frozen=True)
class Event:
    """One search event; ``stream_id`` is set for events of a streaming request."""

    name: str
    data: dict[str, Any]
    stream_id: Optional[str] = None
    time: float = field(default_factory=time.time)


class EventHub:
    """Fans search events out to subscribers; a failing subscriber is logged and never breaks a search."""

    def __init__(self) -> None:
        self._subscribers: list[Callable[[Event], None]] = []
        self._lock = threading.Lock()

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``callback(event)`` for every event from now on; returns the function that unsubscribes."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def publish(self, event: Event) -> None:
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:
                log.exception("A dgs event subscriber failed on %r", event.name)


def log_event(event: Event) -> None:
    """Structured logging of events: ``dgs_event``, ``dgs_data`` and ``dgs_stream`` on the log record."""
    if event_log.isEnabledFor(logging.DEBUG):
        event_log.debug("%s %s", event.name, json.dumps(event.data, cls=DjangoJSONEncoder),
                        extra={"dgs_event": event.name, "dgs_data": event.data, "dgs_stream": event.stream_id})


#: The process-wide event hub.
hub = EventHub()
hub.subscribe(log_event)


class StreamSink:
    """Where the events of one stream go: a queue read by the response, and the cancel switch."""

    END = object()
    _ids = itertools.count(1)

    def __init__(self) -> None:
        self.queue: queue.Queue = queue.Queue()
        self.cancelled = threading.Event()
        self.stream_id = f"s{next(self._ids)}"

    def put(self, name: str, data: dict[str, Any]) -> None:
        event = Event(name, data, self.stream_id)
        hub.publish(event)
        self.queue.put(event)


current_sink: contextvars.ContextVar[Optional[StreamSink]] = contextvars.ContextVar("dgs_stream_sink", default=None)


def emit(name: str, data: Optional[Mapping[str, Any]] = None) -> None:
    """Report a search step; raises :class:`StreamCancelled` when the stream's client has gone away."""
    sink = current_sink.get()
    if sink is None:
        hub.publish(Event(name, dict(data or {})))
        return
    if sink.cancelled.is_set():
        raise StreamCancelled("The client closed the stream.")
    sink.put(name, dict(data or {}))


def cancel_event() -> Optional[threading.Event]:
    """The cancel switch of the current stream (``None`` outside streams), for steps that wait."""
    sink = current_sink.get()
    return sink.cancelled if sink is not None else None
