"""The ``cohere`` embedder: Cohere's v2 embed API, with ``search_document`` / ``search_query`` input types.

Settings (profile keys and ``OPTIONS`` keys are the same thing; case-insensitive; every one optional)::

    "EMBEDDINGS": {"default": {
        "BACKEND": "cohere",
        "MODEL_NAME": "embed-multilingual-v3.0",
        "OPTIONS": {
            "API_KEY": None,          # default: the CO_API_KEY (or COHERE_API_KEY) environment variable
            "BASE_URL": None,         # another deployment of the API (default: CO_API_URL, else Cohere's)
            "DIMENSIONS": None,       # embed-v4.0: 256, 512, 1024 or 1536
            "TIMEOUT": 10.0,          # seconds per request; a search waits at most this long in all
            "MAX_RETRIES": 5,         # for 429 / 5xx / connection errors, with backoff
            "BATCH_SIZE": 96,         # texts per request (the API takes at most 96)
            "MAX_INPUT_TOKENS": None, # default: the model's window; the API cuts longer texts at the end
        },
    }}

Documents are embedded with ``input_type="search_document"`` and queries with ``"search_query"``, as
Cohere's v3+ models need. The SDK is imported, and the client built, on first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any, ClassVar, Optional

from dgs_core.options import option
from dgs_core.remote import Failure, RemoteEmbedder, estimate_tokens, server_message

DEFAULT_MODEL_NAME = "embed-multilingual-v3.0"

#: Output width of Cohere's embedding models.
KNOWN_DIMENSIONS = {"embed-english-v3.0": 1024, "embed-multilingual-v3.0": 1024, "embed-english-light-v3.0": 384,
                    "embed-multilingual-light-v3.0": 384, "embed-v4.0": 1536}
#: Models that take ``output_dimension``, and the widths they offer.
SHORTENABLE = {"embed-v4.0": (256, 512, 1024, 1536)}
#: Tokens one input may have; the API cuts longer inputs at the end (``truncate="END"``).
KNOWN_WINDOWS = {**{name: 512 for name in KNOWN_DIMENSIONS}, "embed-v4.0": 128_000}
API_MAX_TEXTS = 96


class CohereEmbedder(RemoteEmbedder):
    """Embeds through Cohere's v2 embed API; see the module docstring for the options."""

    registered_name = "cohere"
    sdk = "cohere"
    known_dimensions = KNOWN_DIMENSIONS
    known_windows = KNOWN_WINDOWS
    response_name, inputs_name = "embed", "texts"
    rate_limit_advice = "Wait, or use a production key (trial keys are limited)."

    @dataclass(frozen=True)
    class Options(RemoteEmbedder.Options):
        model_name: Optional[str] = option(DEFAULT_MODEL_NAME, listed=False, help="a Cohere embedding model")

        service: ClassVar[str] = "the Cohere embed API"
        url_variable: ClassVar[str] = "CO_API_URL"
        max_batch: ClassVar[int] = API_MAX_TEXTS

        def key_variables(self) -> tuple[str, ...]:
            return ("CO_API_KEY", "COHERE_API_KEY")  # the second is django_graph_search's

        def __post_init__(self) -> None:
            super().__post_init__()
            model_name, dimensions = self.model_name, self.dimensions
            if dimensions is not None and model_name in KNOWN_DIMENSIONS and dimensions not in SHORTENABLE.get(
                    model_name, ()):
                offered = SHORTENABLE.get(model_name)
                raise ValueError(
                    f"{{dimensions}} is {dimensions}, but {model_name!r} offers "
                    + (f"only {', '.join(map(str, offered))}." if offered else "no other width; remove DIMENSIONS.")
                )

    def count_tokens(self, text: str) -> Optional[int]:
        """An estimate that errs high (Cohere's tokenizer is not available offline)."""
        return estimate_tokens(text)

    def make_client(self, sdk: ModuleType) -> Any:
        # A deployment without authentication ignores the key, but the SDK requires one.
        return sdk.ClientV2(api_key=self._api_key or "unused", base_url=self.base_url, timeout=self.timeout,
                            max_retries=self.max_retries)

    def request(self, client: Any, texts: list[str], for_query: bool, timeout: Optional[float]) -> Any:
        """Documents with ``input_type="search_document"``, queries with ``"search_query"``."""
        arguments: dict[str, Any] = {"texts": texts, "model": self.model_name, "embedding_types": ["float"],
                                     "input_type": "search_query" if for_query else "search_document",
                                     "truncate": "END"}
        if self.dimensions:
            arguments["output_dimension"] = self.dimensions
        if timeout is None:
            # Embedding twice costs tokens but never corrupts anything: retry dropped connections too.
            return client.embed(**arguments, request_options={"retry_remote_protocol_errors": True})
        return client.embed(**arguments, request_options={"timeout": timeout, "max_retries": 0})

    def read(self, response: Any, expected: int) -> tuple[Any, int]:
        rows = response.embeddings.float_
        if rows is None or len(rows) != expected:
            raise ValueError(f"{0 if rows is None else len(rows)} float embeddings")
        billed = getattr(getattr(response, "meta", None), "billed_units", None)
        return rows, int(getattr(billed, "input_tokens", 0) or 0)

    def classify(self, error: Exception) -> Failure:
        import httpx
        from cohere.core.api_error import ApiError

        if isinstance(error, httpx.TimeoutException):
            return Failure("timeout")
        if isinstance(error, httpx.TransportError):
            return Failure("connection", str(error))
        if isinstance(error, ApiError) and error.status_code is not None:
            headers = {name.lower(): value for name, value in (error.headers or {}).items()}
            return Failure("status", server_message(error), error.status_code, headers)
        return Failure("malformed", server_message(error))
