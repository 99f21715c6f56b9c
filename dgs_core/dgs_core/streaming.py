"""Search events: the hub any code can subscribe to, and streaming search over HTTP (``STREAMING``).

Every search step reports what it did with :func:`emit`; the event goes to the :data:`hub`'s
subscribers (structured logging by default: logger ``dgs_core.events`` at DEBUG) and, inside a stream,
to the client. A stream sends, in order::

    query_received           {"query", "models", "limit", "offset", "min_score", "mode"}
    expanded                 {"queries": [...]}                 (langgraph pipeline, QUERY_EXPANSION on)
    vector_search_completed  {"candidates": n, ...}             (vector and hybrid modes)
    keyword_search_completed {"candidates": n}                  (keyword and hybrid modes)
    reranked                 {"reranker": name, "candidates": n} (langgraph pipeline, RERANKING on)
    completed                {"total": n, "took_ms": ...}
    results                  the body of GET /api/search/: {"query", "mode", "results", "total"}
    end                      {}

``STREAMING["INCLUDE_INTERNAL_EVENTS"]: False`` keeps the pipeline's own steps (:data:`INTERNAL_EVENTS`)
out of the stream; subscribers of the hub still see them. A failure after the stream started is sent as
``error`` ``{"error": message, "status": 503}`` before ``end``; parameter errors are answered before it
starts, as JSON 400 like every endpoint. The search runs in
a worker thread so events reach the client as they happen; when the client goes away, the response's
``close()`` cancels the worker at its next event and waits for it, so no thread outlives the request.
"""

from __future__ import annotations

import contextvars
import itertools
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from django.core.serializers.json import DjangoJSONEncoder

from dgs_core.base import StreamFormat
from dgs_core.exceptions import GraphSearchError, InvalidParameterError

log = logging.getLogger("dgs_core.streaming")
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


class NdjsonFormat(StreamFormat):
    """One JSON object per line: ``{"event": "...", "data": {...}}``."""

    content_type = "application/x-ndjson"

    def encode(self, event: str, data: dict[str, Any]) -> bytes:
        return json.dumps({"event": event, "data": data}, cls=DjangoJSONEncoder).encode() + b"\n"


class SseFormat(StreamFormat):
    """Server-sent events (``EventSource`` in browsers): ``event:`` and one-line JSON ``data:``."""

    content_type = "text/event-stream"

    def encode(self, event: str, data: dict[str, Any]) -> bytes:
        return f"event: {event}\ndata: {json.dumps(data, cls=DjangoJSONEncoder)}\n\n".encode()


class _Sink:
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


_current_sink: contextvars.ContextVar[Optional[_Sink]] = contextvars.ContextVar("dgs_stream_sink", default=None)


def emit(name: str, data: Optional[Mapping[str, Any]] = None) -> None:
    """Report a search step; raises :class:`StreamCancelled` when the stream's client has gone away."""
    sink = _current_sink.get()
    if sink is None:
        hub.publish(Event(name, dict(data or {})))
        return
    if sink.cancelled.is_set():
        raise StreamCancelled("The client closed the stream.")
    sink.put(name, dict(data or {}))


def cancel_event() -> Optional[threading.Event]:
    """The cancel switch of the current stream (``None`` outside streams), for steps that wait."""
    sink = _current_sink.get()
    return sink.cancelled if sink is not None else None


def get_stream_format() -> StreamFormat:
    """The ``STREAMING["FORMAT"]`` format of this process."""
    from dgs_core import components
    from dgs_core.conf import get_config

    name = get_config().streaming.format
    return components.shared(("stream-format", name),
                             lambda: components.resolve_class("stream_format", name, StreamFormat)())


class SearchStream:
    """One streaming search: parameters checked by the caller's thread, the search run by a worker.

    Iterate it for the encoded events (a ``StreamingHttpResponse`` does); closing the iterator early
    cancels the search and waits for the worker.
    """

    def __init__(self, searcher: Any, search_kwargs: dict[str, Any], stream_format: StreamFormat,
                 join_timeout: float = 30.0, include_internal: bool = True) -> None:
        self.searcher = searcher
        self.include_internal = include_internal
        self.search_kwargs = search_kwargs
        self.format = stream_format
        self.join_timeout = join_timeout
        self.sink = _Sink()
        context = contextvars.copy_context()
        context.run(_current_sink.set, self.sink)
        self.thread = threading.Thread(target=context.run, args=(self._work,), daemon=True,
                                       name=f"dgs-stream-{self.sink.stream_id}")

    @classmethod
    def prepare(cls, searcher: Any, query: Any, models: Any = None, limit: Any = None, min_score: Any = None,
                offset: Any = 0, filters: Optional[Mapping[str, Any]] = None, request: Any = None,
                stream_format: Optional[StreamFormat] = None, mode: Any = None) -> SearchStream:
        """Validate like :meth:`Searcher.search` (raising its errors now, before anything is sent)."""
        from dgs_core.searching import _positive_int

        query = searcher._query(query)
        labels = searcher.resolve_models(models)
        limit = searcher._limit(limit)
        offset = _positive_int("offset", offset, minimum=0)
        min_score = searcher._min_score(min_score)
        if filters:
            searcher._filters(filters, labels)
        kwargs = {"query": query, "models": labels, "limit": limit, "min_score": min_score, "offset": offset,
                  "filters": filters or None, "request": request, "mode": searcher._mode(mode)}
        timeout = max(5.0, float(searcher.config.langgraph.timeout_seconds)) + 5.0
        return cls(searcher, kwargs, stream_format or get_stream_format(), join_timeout=timeout,
                   include_internal=searcher.config.streaming.include_internal_events)

    def _work(self) -> None:
        sink, kwargs = self.sink, self.search_kwargs
        started = time.perf_counter()
        try:
            results = self.searcher.search(**kwargs)
            emit("completed", {"total": len(results), "took_ms": round((time.perf_counter() - started) * 1000, 1)})
            emit("results", results.as_body(kwargs["min_score"]))
        except StreamCancelled:
            return
        except InvalidParameterError as exc:
            sink.put("error", {"error": str(exc), "status": 400})
        except GraphSearchError as exc:
            log.error("Streaming search failed: %s: %s", type(exc).__name__, exc)
            sink.put("error", {"error": f"Search is unavailable right now: {exc}", "status": 503})
        except Exception:
            log.exception("Unexpected error in a streaming search")
            sink.put("error", {"error": "Search failed unexpectedly; the error has been logged.", "status": 503})
        finally:
            if not sink.cancelled.is_set():
                sink.put("end", {})
            sink.queue.put(_Sink.END)

    def __iter__(self) -> Iterator[bytes]:
        kwargs = self.search_kwargs
        self.sink.put("query_received", {key: kwargs[key] for key in ("query", "models", "limit", "offset",
                                                                       "min_score", "mode")})
        self.thread.start()
        try:
            while True:
                event = self.sink.queue.get()
                if event is _Sink.END:
                    return
                if event.name in INTERNAL_EVENTS and not self.include_internal:
                    continue
                yield self.format.encode(event.name, event.data)
        finally:
            self.sink.cancelled.set()
            self.thread.join(self.join_timeout)
            if self.thread.is_alive():
                log.warning("The worker of stream %s is still busy %.0f s after its client left; it stops at "
                            "its next step.", self.sink.stream_id, self.join_timeout)
