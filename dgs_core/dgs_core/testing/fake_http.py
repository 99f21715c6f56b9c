"""A local stand-in for a cloud API, for the tests of remote backends: an HTTP server on 127.0.0.1 whose subclass
speaks the provider's wire format (:meth:`FakeHTTPServer.answer`), with faults scripted per request
(:meth:`FakeHTTPServer.script`) and every request recorded. The official SDKs talk to it unchanged.

Its vectors come from core's lexical ``hashing`` embedder (:func:`hashed_vectors`), so texts sharing words are
close and every run answers the same.
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Optional
from urllib.parse import parse_qs, urlsplit

import numpy as np

from dgs_core.backends import HashingEmbedder
from dgs_core.base import normalize_rows

WORD = re.compile(r"\w+")


@dataclass
class Fault:
    """What to do instead of (or before) answering one request."""

    status: Optional[int] = None  # None: answer normally (after ``delay``)
    body: Any = None  # dict (sent as JSON) or bytes (sent raw)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering


@dataclass
class Request:
    """One request as the server received it: ``headers`` lower-cased, ``body`` parsed JSON (else the bytes)."""

    path: str
    headers: dict[str, str]
    body: Any
    query: dict[str, list[str]] = field(default_factory=dict)


#: ``(status, payload, extra headers)`` of one response; a bytes payload is sent as is, anything else as JSON.
Answer = tuple[int, Any, dict[str, str]]


class FakeHTTPServer:
    """The server; use as a context manager. Subclasses implement :meth:`answer`."""

    #: The type :attr:`requests` are recorded as (a subclass may add properties reading the body).
    request_type: ClassVar[type[Request]] = Request

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self.answered = threading.Event()  # set whenever a response has been written (cleared by reset)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def root(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeHTTPServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def script(self, *faults: Fault) -> None:
        """Answer the next requests with ``faults``, one each, then normally."""
        with self._lock:
            self._faults.extend(faults)

    def reset(self) -> None:
        """Forget the scripted faults and the recorded requests."""
        with self._lock:
            self._faults.clear()
            self.requests.clear()
        self.answered.clear()

    def answer(self, request: Request) -> Answer:
        """The response to ``request`` when no fault is scripted for it."""
        raise NotImplementedError

    def respond(self, request: Request) -> Answer:
        """Record ``request``, then play its scripted fault or :meth:`answer` it."""
        self.requests.append(request)
        with self._lock:
            fault = self._faults.popleft() if self._faults else None
        if fault and fault.delay:
            self.stopping.wait(fault.delay)
        if fault and fault.status is not None:
            return fault.status, fault.body, fault.headers
        return self.answer(request)


def hashed_vectors(texts: list[str], dimensions: int) -> np.ndarray:
    """A fake's deterministic vectors: hashed words and trigrams, unit length."""
    return normalize_rows(HashingEmbedder(dimension=dimensions).embed_documents(texts))


def count_words(texts: list[str]) -> int:
    """A fake's token count: words (providers count their own tokens, about 1.3 per English word)."""
    return sum(len(WORD.findall(text)) for text in texts)


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        fake: FakeHTTPServer = self.server.fake  # type: ignore[attr-defined]
        url = urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, payload, extra = fake.respond(fake.request_type(url.path, headers, body, parse_qs(url.query)))
        content = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(content)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(content)
        except OSError:  # the client gave up (a timeout test): nothing to answer
            pass
        fake.answered.set()

    def log_message(self, format: str, *args: Any) -> None:
        pass
