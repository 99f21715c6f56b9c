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

Faults are scripted per request with :meth:`FakeOpenAI.script` (:class:`dgs_core.testing.fake_http.FakeHTTPServer`);
every request is recorded.
"""

from __future__ import annotations

import base64
import re
from typing import Any, Optional

from dgs_core.testing.fake_http import Answer, FakeHTTPServer, Fault, Request, count_words, hashed_vectors

__all__ = ["FakeOpenAI", "Fault", "count_tokens"]

#: Models the fake serves, with their full width; "nomic-embed-text" stands for a model the plugin does not know.
MODELS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536,
          "nomic-embed-text": 768}
SHORTENABLE = {"text-embedding-3-small", "text-embedding-3-large"}
#: Azure deployment names and the model each serves.
DEPLOYMENTS = {"my-embeddings": "text-embedding-3-small"}
MAX_INPUTS = 2048
AZURE_PATH = re.compile(r"^/openai/deployments/(?P<deployment>[^/]+)/embeddings$")

#: The fake's ``usage``: words (bench/cloud_embedders.py sizes its requests by it).
count_tokens = count_words


class EmbeddingsRequest(Request):
    @property
    def inputs(self) -> list[str]:
        value = self.body.get("input", []) if isinstance(self.body, dict) else []
        return [value] if isinstance(value, str) else list(value)


class FakeOpenAI(FakeHTTPServer):
    """The server; use as a context manager. ``url`` is what ``BASE_URL`` should be."""

    request_type = EmbeddingsRequest

    def __init__(self, api_key: str = "sk-test-key", always_float: bool = False) -> None:
        super().__init__()
        self.api_key = api_key
        self.always_float = always_float  # like a minimal compatible server that ignores encoding_format

    @property
    def url(self) -> str:
        return f"{self.root}/v1"

    @property
    def endpoint(self) -> str:
        """The root URL, as Azure's ``azure_endpoint``."""
        return self.root

    def answer(self, request: Request) -> Answer:
        path, headers, body = request.path, request.headers, request.body
        azure = AZURE_PATH.match(path)
        if azure:
            if not request.query.get("api-version"):
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

    def embeddings(self, body: dict[str, Any], model: Optional[str]) -> Answer:
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
        vectors = hashed_vectors(inputs, dimensions)
        base64_wanted = body.get("encoding_format") == "base64" and not self.always_float
        data = [
            {"object": "embedding", "index": i,
             "embedding": base64.b64encode(v.astype("<f4").tobytes()).decode() if base64_wanted else v.tolist()}
            for i, v in enumerate(vectors)
        ]
        tokens = count_tokens(inputs)
        return 200, {"object": "list", "data": data[::-1], "model": model,
                     "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}, {}


def _error(message: str, code: Optional[str]) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}
