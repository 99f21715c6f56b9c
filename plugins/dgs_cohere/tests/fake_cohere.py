"""A local stand-in for Cohere's v2 embed API, on 127.0.0.1, speaking its wire format.

``POST /v2/embed`` (what ``cohere.ClientV2.embed`` calls) takes ``{"texts": [...], "model": ...,
"input_type": ..., "embedding_types": ["float"], "truncate"?, "output_dimension"?}`` with
``Authorization: Bearer <key>`` and answers ``{"id": ..., "response_type": "embeddings_by_type",
"embeddings": {"float": [[...], ...]}, "texts": [...], "meta": {"api_version": {"version": "2"},
"billed_units": {"input_tokens": n}}}``. Errors use Cohere's ``{"id": ..., "message": ...}`` body.

Vectors come from core's lexical ``hashing`` embedder (texts sharing words are close), unit length.
``billed_units`` counts words: the real API counts its own tokens. Faults are scripted per request with
:meth:`FakeCohere.script`; every request is recorded.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

import numpy as np

from dgs_core.backends import HashingEmbedder
from dgs_core.base import normalize_rows

#: Models the fake serves and their widths; "acme-embed" stands for a model the plugin does not know.
MODELS = {"embed-english-v3.0": 1024, "embed-multilingual-v3.0": 1024, "embed-v4.0": 1536, "acme-embed": 640}
OUTPUT_DIMENSIONS = {"embed-v4.0": (256, 512, 1024, 1536)}
INPUT_TYPES = {"search_document", "search_query", "classification", "clustering"}
MAX_TEXTS = 96
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
    """One request as the server received it."""

    path: str
    headers: dict[str, str]
    body: Any

    @property
    def texts(self) -> list[str]:
        return list(self.body.get("texts", [])) if isinstance(self.body, dict) else []


class FakeCohere:
    """The server; use as a context manager. ``url`` is what ``BASE_URL`` should be."""

    def __init__(self, api_key: str = "co-test-key") -> None:
        self.api_key = api_key
        self.requests: list[Request] = []
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self.answered = threading.Event()  # set whenever a response has been written (cleared by reset)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeCohere:
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
        with self._lock:
            self._faults.clear()
            self.requests.clear()
        self.answered.clear()

    def _next_fault(self) -> Optional[Fault]:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def answer(self, path: str, headers: dict[str, str], body: Any):
        """``(status, payload, extra_headers)`` for one request."""
        self.requests.append(Request(path, headers, body))
        fault = self._next_fault()
        if fault and fault.delay:
            self.stopping.wait(fault.delay)
        if fault and fault.status is not None:
            return fault.status, fault.body, fault.headers
        if path != "/v2/embed":
            return 404, _error(f"Not found: POST {path}"), {}
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, _error("invalid api token"), {}
        if not isinstance(body, dict):
            return 400, _error("invalid request: the body is not JSON"), {}
        return self.embed(body)

    def embed(self, body: dict[str, Any]):
        model, texts = body.get("model"), body.get("texts")
        if model not in MODELS:
            return 404, _error(f"model '{model}' not found, make sure the correct model ID was used"), {}
        if body.get("input_type") not in INPUT_TYPES:
            return 400, _error(f"invalid request: input_type must be one of {sorted(INPUT_TYPES)}"), {}
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t for t in texts):
            return 400, _error("invalid request: texts must be a non-empty list of non-empty strings"), {}
        if len(texts) > MAX_TEXTS:
            return 400, _error(f"invalid request: total number of texts must be at most {MAX_TEXTS} - "
                               f"received {len(texts)}"), {}
        if "float" not in (body.get("embedding_types") or []):
            return 400, _error("invalid request: this fake only serves float embeddings"), {}
        width = body.get("output_dimension") or MODELS[model]
        if "output_dimension" in body and width not in OUTPUT_DIMENSIONS.get(model, ()):
            return 400, _error(f"invalid request: output_dimension {width} is not supported by {model}"), {}
        tokens = sum(len(WORD.findall(text)) for text in texts)
        return 200, {"id": str(uuid.uuid4()), "response_type": "embeddings_by_type",
                     "embeddings": {"float": embed(texts, width).tolist()}, "texts": texts,
                     "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": tokens}}}, {}


def embed(texts: list[str], width: int) -> np.ndarray:
    """The fake's deterministic vectors: hashed words and trigrams, unit length."""
    return normalize_rows(HashingEmbedder(dimension=width).embed_documents(texts))


def _error(message: str) -> dict[str, str]:
    return {"id": str(uuid.uuid4()), "message": message}


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        fake: FakeCohere = self.server.fake  # type: ignore[attr-defined]
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, payload, extra = fake.answer(self.path, headers, body)
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
