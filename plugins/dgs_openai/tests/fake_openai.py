"""A local stand-in for OpenAI's embeddings API, on 127.0.0.1, speaking its wire format.

``POST /v1/embeddings`` takes ``{"input": [...], "model": ..., "dimensions"?, "encoding_format"?}`` and
answers ``{"object": "list", "data": [{"object": "embedding", "index": i, "embedding": ...}], "model": ...,
"usage": {"prompt_tokens": n, "total_tokens": n}}`` with ``embedding`` a float list, or base64 of
little-endian float32 when ``encoding_format`` is ``"base64"`` (what the SDK asks for by default).
Azure's ``POST /openai/deployments/<deployment>/embeddings?api-version=...`` with an ``api-key`` header
is served too. Errors use OpenAI's ``{"error": {"message", "type", "code"}}`` body.

Vectors come from core's lexical ``hashing`` embedder (so texts sharing words are close), ``dimensions``
wide and normalised as OpenAI's are (OpenAI cuts longer vectors; hashing straight into the shorter width
keeps a short text from landing on a zero vector). ``data`` is sent in reverse order, each item with its
``index``, so clients must order by index. ``usage`` counts words: the real API counts tiktoken tokens.

Faults are scripted per request with :meth:`FakeOpenAI.script`; every request is recorded.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional
from urllib.parse import parse_qs, urlsplit

import numpy as np

from dgs_core.backends import HashingEmbedder
from dgs_core.base import normalize_rows

#: Models the fake serves, with their full width; "nomic-embed-text" stands for a model the plugin does not know.
MODELS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536,
          "nomic-embed-text": 768}
SHORTENABLE = {"text-embedding-3-small", "text-embedding-3-large"}
#: Azure deployment names and the model each serves.
DEPLOYMENTS = {"my-embeddings": "text-embedding-3-small"}
MAX_INPUTS = 2048
AZURE_PATH = re.compile(r"^/openai/deployments/(?P<deployment>[^/]+)/embeddings$")
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
    def inputs(self) -> list[str]:
        value = self.body.get("input", []) if isinstance(self.body, dict) else []
        return [value] if isinstance(value, str) else list(value)


class FakeOpenAI:
    """The server; use as a context manager. ``url`` is what ``BASE_URL`` should be."""

    def __init__(self, api_key: str = "sk-test-key", always_float: bool = False) -> None:
        self.api_key = api_key
        self.always_float = always_float  # like a minimal compatible server that ignores encoding_format
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
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def endpoint(self) -> str:
        """The root URL, as Azure's ``azure_endpoint``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeOpenAI:
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

    def answer(self, path: str, query: dict[str, list[str]], headers: dict[str, str], body: Any):
        """``(status, payload, extra_headers)`` for one request."""
        self.requests.append(Request(path, headers, body))
        fault = self._next_fault()
        if fault and fault.delay:
            self.stopping.wait(fault.delay)
        if fault and fault.status is not None:
            return fault.status, fault.body, fault.headers
        azure = AZURE_PATH.match(path)
        if azure:
            if not query.get("api-version"):
                return 404, _error("Resource not found", "404"), {}
            key, model = headers.get("api-key"), DEPLOYMENTS.get(azure["deployment"], azure["deployment"])
        elif path == "/v1/embeddings":
            key, model = headers.get("authorization", "").removeprefix("Bearer "), None
        else:
            return 404, _error(f"Invalid URL (POST {path})", "invalid_url"), {}
        if key != self.api_key:
            return 401, _error("Incorrect API key provided.", "invalid_api_key"), {}
        if not isinstance(body, dict):
            return 400, _error("We could not parse the JSON body of your request.", None), {}
        return self.embeddings(body, model or body.get("model"))

    def embeddings(self, body: dict[str, Any], model: Optional[str]):
        if model not in MODELS:
            return 404, _error(f"The model `{model}` does not exist or you do not have access to it.",
                               "model_not_found"), {}
        inputs = body.get("input")
        inputs = [inputs] if isinstance(inputs, str) else inputs
        if not isinstance(inputs, list) or not inputs or not all(isinstance(t, str) for t in inputs):
            return 400, _error("'input' must be a string or a non-empty array of strings.", None), {}
        if len(inputs) > MAX_INPUTS:
            return 400, _error(f"'input' has {len(inputs)} items; at most {MAX_INPUTS} are allowed.", None), {}
        if any(text == "" for text in inputs):
            return 400, _error("'$.input' is invalid: empty strings are not allowed.", None), {}
        dimensions = body.get("dimensions", MODELS[model])
        if "dimensions" in body and (model not in SHORTENABLE or not 0 < dimensions <= MODELS[model]):
            return 400, _error(f"This model does not support specifying dimensions={dimensions}.", None), {}
        vectors = embed(inputs, dimensions)
        base64_wanted = body.get("encoding_format") == "base64" and not self.always_float
        data = [
            {"object": "embedding", "index": i,
             "embedding": base64.b64encode(v.astype("<f4").tobytes()).decode() if base64_wanted else v.tolist()}
            for i, v in enumerate(vectors)
        ]
        tokens = count_tokens(inputs)
        return 200, {"object": "list", "data": data[::-1], "model": model,
                     "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}, {}


def count_tokens(texts: list[str]) -> int:
    """The fake's ``usage``: words (OpenAI counts tiktoken tokens, about 1.3 per English word)."""
    return sum(len(WORD.findall(text)) for text in texts)


def embed(texts: list[str], dimensions: int) -> np.ndarray:
    """The fake's deterministic vectors: hashed words and trigrams, unit length."""
    return normalize_rows(HashingEmbedder(dimension=dimensions).embed_documents(texts))


def _error(message: str, code: Optional[str]) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        fake: FakeOpenAI = self.server.fake  # type: ignore[attr-defined]
        url = urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, payload, extra = fake.answer(url.path, parse_qs(url.query), headers, body)
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
