"""Search events: the hub any code can subscribe to, and streaming search over HTTP (``STREAMING``).

Every search step reports what it did with :func:`emit`; the event goes to the :data:`hub`'s
subscribers (structured logging by default: logger ``dgs_core.events`` at DEBUG) and, inside a stream,
to the client. On the wire each event is one flat JSON object, ``type`` first, as the older package
documents its stream (:func:`wire_event`). A stream sends, in order::

    {"type": "query_received", "query", "models", "limit", "offset", "min_score", "mode"}
    {"type": "query_expanded", "queries": [...]}                   (a pipeline that expands queries)
    {"type": "vector_search_completed", "candidate_count": n, ...}  (vector and hybrid modes)
    {"type": "keyword_search_completed", "candidate_count": n}      (keyword and hybrid modes)
    {"type": "rerank_completed", "reranker": name, "candidate_count": n} (a pipeline that reranks)
    {"type": "completed", "total": n, "took_ms": ...}
    {"type": "results", ...}   the body of GET /api/search/: "query", "mode", "results", "total"
    {"type": "end"}

ndjson sends one object a line; sse sends it as ``data:`` after ``event: <type>``.
``STREAMING["INCLUDE_INTERNAL_EVENTS"]: False`` keeps the pipeline's own steps (:data:`INTERNAL_EVENTS`)
out of the stream; subscribers of the hub still see them. A failure after the stream started is sent as
``{"type": "error", "error": message, "status": 503, "request_id": id}`` before ``end``, with one of the fixed
messages of :mod:`dgs_core.failures` (the cause goes to the log under the id, which is also the stream's
``X-Request-ID`` header); parameter errors are answered before it starts, as JSON 400 like every endpoint.
The search runs in a worker thread so events reach the client as they happen; when the client goes away, the
response's ``close()`` cancels the worker at its next event and waits for it, so no thread outlives the request.
"""

from __future__ import annotations

import contextvars
import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any, Optional

from django.core.serializers.json import DjangoJSONEncoder

from dgs_core.base import StreamFormat
from dgs_core.exceptions import InvalidParameterError
from dgs_core.failures import new_request_id, report_failure
from dgs_core.searching.events import INTERNAL_EVENTS, StreamCancelled, StreamSink, current_sink, emit
from dgs_core.searching.query import SearchQuery

log = logging.getLogger("dgs_core.streaming")


#: Events whose documented wire names (the older package's) differ from the names they are emitted by.
WIRE_TYPES = {"expanded": "query_expanded", "reranked": "rerank_completed"}


def wire_event(event: str, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The documented wire form of an event: its type and flat fields, ``candidate_count`` for the number of
    candidates a step found (``candidates`` is kept for clients of earlier dgs versions)."""
    if "candidates" in data:
        data = {**data, "candidate_count": data["candidates"]}
    return WIRE_TYPES.get(event, event), data


def _flat_json(event: str, data: dict[str, Any]) -> str:
    return json.dumps({"type": event, **data}, cls=DjangoJSONEncoder)


class NdjsonFormat(StreamFormat):
    """One flat JSON object per line: ``{"type": "completed", "total": 5, ...}``."""

    content_type = "application/x-ndjson"

    def encode(self, event: str, data: dict[str, Any]) -> bytes:
        return _flat_json(event, data).encode() + b"\n"


class SseFormat(StreamFormat):
    """Server-sent events (``EventSource`` in browsers): ``event: <type>`` and the ndjson object as ``data:``."""

    content_type = "text/event-stream"

    def encode(self, event: str, data: dict[str, Any]) -> bytes:
        return f"event: {event}\ndata: {_flat_json(event, data)}\n\n".encode()


def get_stream_format() -> StreamFormat:
    """The ``STREAMING["FORMAT"]`` format of this process."""
    from dgs_core import engine
    from dgs_core.conf import get_config

    name = get_config().streaming.format
    return engine.shared(("stream-format", name),
                             lambda: engine.resolve_class("stream_format", name, StreamFormat)())


class SearchStream:
    """One streaming search: parameters checked by the caller's thread, the search run by a worker.

    Iterate it for the encoded events (a ``StreamingHttpResponse`` does); closing the iterator early
    cancels the search and waits for the worker.
    """

    def __init__(self, searcher: Any, query: SearchQuery, request: Any, stream_format: StreamFormat,
                 join_timeout: float = 30.0, include_internal: bool = True) -> None:
        self.searcher = searcher
        self.query = query
        self.request = request
        self.include_internal = include_internal
        self.format = stream_format
        self.join_timeout = join_timeout
        self.sink = StreamSink()
        self.request_id = new_request_id()  # named by an error event and the response's X-Request-ID header
        context = contextvars.copy_context()
        context.run(current_sink.set, self.sink)
        self.thread = threading.Thread(target=context.run, args=(self._work,), daemon=True,
                                       name=f"dgs-stream-{self.sink.stream_id}")

    @classmethod
    def prepare(cls, searcher: Any, query: SearchQuery, request: Any = None,
                stream_format: Optional[StreamFormat] = None) -> SearchStream:
        """A stream of ``query`` (validated by the caller, so parameter errors are answered before anything is sent)."""
        from dgs_core.plugins import get_registry

        pipeline = get_registry().hook.dgs_search_pipeline(config=searcher.config)
        timeout = max(5.0, float(getattr(pipeline, "time_budget", 0.0))) + 5.0
        return cls(searcher, query, request, stream_format or get_stream_format(), join_timeout=timeout,
                   include_internal=searcher.config.streaming.include_internal_events)

    def _work(self) -> None:
        sink, query = self.sink, self.query
        started = time.perf_counter()
        try:
            results = self.searcher.run(query, self.request)
            emit("completed", {"total": len(results), "took_ms": round((time.perf_counter() - started) * 1000, 1)})
            emit("results", results.as_body(query.min_score))
        except StreamCancelled:
            return
        except InvalidParameterError as exc:
            sink.put("error", {"error": str(exc), "status": 400})
        except Exception as exc:
            failure = report_failure(exc, log, f"Streaming search {self.sink.stream_id}", self.request_id)
            sink.put("error", {"error": failure.message, "status": failure.status, "request_id": failure.request_id})
        finally:
            if not sink.cancelled.is_set():
                sink.put("end", {})
            sink.queue.put(StreamSink.END)

    def __iter__(self) -> Iterator[bytes]:
        query = self.query
        self.sink.put("query_received", {"query": query.text, "models": list(query.models), "limit": query.limit,
                                         "offset": query.offset, "min_score": query.min_score, "mode": query.mode})
        self.thread.start()
        try:
            while True:
                event = self.sink.queue.get()
                if event is StreamSink.END:
                    return
                if event.name in INTERNAL_EVENTS and not self.include_internal:
                    continue
                yield self.format.encode(*wire_event(event.name, event.data))
        finally:
            self.sink.cancelled.set()
            self.thread.join(self.join_timeout)
            if self.thread.is_alive():
                log.warning("The worker of stream %s is still busy %.0f s after its client left; it stops at "
                            "its next step.", self.sink.stream_id, self.join_timeout)
