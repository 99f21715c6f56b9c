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

import uuid
from typing import Any

from dgs_core.testing.fake_http import Answer, FakeHTTPServer, Fault, Request, count_words, hashed_vectors

__all__ = ["FakeCohere", "Fault"]

#: Models the fake serves and their widths; "acme-embed" stands for a model the plugin does not know.
MODELS = {"embed-english-v3.0": 1024, "embed-multilingual-v3.0": 1024, "embed-v4.0": 1536, "acme-embed": 640}
OUTPUT_DIMENSIONS = {"embed-v4.0": (256, 512, 1024, 1536)}
INPUT_TYPES = {"search_document", "search_query", "classification", "clustering"}
MAX_TEXTS = 96


class EmbedRequest(Request):
    @property
    def texts(self) -> list[str]:
        return list(self.body.get("texts", [])) if isinstance(self.body, dict) else []


class FakeCohere(FakeHTTPServer):
    """The server; use as a context manager. ``url`` is what ``BASE_URL`` should be."""

    request_type = EmbedRequest

    def __init__(self, api_key: str = "co-test-key") -> None:
        super().__init__()
        self.api_key = api_key

    @property
    def url(self) -> str:
        return self.root

    def answer(self, request: Request) -> Answer:
        if request.path != "/v2/embed":
            return 404, _error(f"Not found: POST {request.path}"), {}
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, _error("invalid api token"), {}
        if not isinstance(request.body, dict):
            return 400, _error("invalid request: the body is not JSON"), {}
        return self.embed(request.body)

    def embed(self, body: dict[str, Any]) -> Answer:
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
        meta = {"api_version": {"version": "2"}, "billed_units": {"input_tokens": count_words(texts)}}
        return 200, {"id": str(uuid.uuid4()), "response_type": "embeddings_by_type",
                     "embeddings": {"float": hashed_vectors(texts, width).tolist()}, "texts": texts, "meta": meta}, {}


def _error(message: str) -> dict[str, str]:
    return {"id": str(uuid.uuid4()), "message": message}
