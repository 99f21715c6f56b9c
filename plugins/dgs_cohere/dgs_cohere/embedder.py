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

import math
import os
import threading
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np

from dgs_core import retry
from dgs_core.base import Embedder, EmbeddingUsage, normalize_rows
from dgs_core.exceptions import BackendUnavailable, ConfigurationError, GraphSearchError, PluginError

DEFAULT_MODEL_NAME = "embed-multilingual-v3.0"

#: Output width of Cohere's embedding models.
KNOWN_DIMENSIONS = {"embed-english-v3.0": 1024, "embed-multilingual-v3.0": 1024, "embed-english-light-v3.0": 384,
                    "embed-multilingual-light-v3.0": 384, "embed-v4.0": 1536}
#: Models that take ``output_dimension``, and the widths they offer.
SHORTENABLE = {"embed-v4.0": (256, 512, 1024, 1536)}
#: Tokens one input may have; the API cuts longer inputs at the end (``truncate="END"``).
KNOWN_WINDOWS = {**{name: 512 for name in KNOWN_DIMENSIONS}, "embed-v4.0": 128_000}
API_MAX_TEXTS = 96
KEY_VARIABLES = ("CO_API_KEY", "COHERE_API_KEY")

#: Every option this embedder accepts (lower-cased, as core passes them) with its default.
OPTION_DEFAULTS: dict[str, Any] = {
    "api_key": None,
    "base_url": None,
    "dimensions": None,
    "timeout": 10.0,
    "max_retries": 5,
    "batch_size": API_MAX_TEXTS,
    "max_input_tokens": None,
}


def estimate_tokens(text: str) -> int:
    """An estimate of the tokens of ``text`` that errs high: a third per ASCII character, half per other byte.

    Cohere's tokenizer is not available offline; the estimate only feeds the over-window report of
    ``build_search_index`` (the API itself cuts over-long texts).
    """
    ascii_chars = len(text.encode("ascii", "ignore"))
    return math.ceil(ascii_chars / 3 + (len(text.encode("utf-8")) - ascii_chars) / 2)


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _environment_key() -> Optional[str]:
    return next((os.environ[name] for name in KEY_VARIABLES if os.environ.get(name)), None)


class CohereEmbedder(Embedder):
    """Embeds through Cohere's v2 embed API; see the module docstring for the options."""

    registered_name = "cohere"

    def __init__(self, model_name: Optional[str] = None, **options: Any) -> None:
        model_name = model_name or DEFAULT_MODEL_NAME
        problems = self.check_options(model_name, options)
        if problems:
            raise ConfigurationError(" ".join(problems))
        super().__init__(model_name, **options)
        settings = {**OPTION_DEFAULTS, **options}
        self.base_url: Optional[str] = settings["base_url"] or os.environ.get("CO_API_URL")
        self.dimensions: Optional[int] = settings["dimensions"]
        self.timeout = float(settings["timeout"])
        self.max_retries: int = settings["max_retries"]
        self.batch_size: int = settings["batch_size"]
        self._max_input_tokens: Optional[int] = settings["max_input_tokens"] or KNOWN_WINDOWS.get(model_name)
        self._api_key: Optional[str] = settings["api_key"] or _environment_key()
        self.usage = EmbeddingUsage()
        # Known without a request: part of the id. Otherwise the first request measures it.
        self._configured_dimension: Optional[int] = self.dimensions or KNOWN_DIMENSIONS.get(model_name)
        self._dimension = self._configured_dimension
        self._lock = threading.Lock()
        self._sdk: Any = None
        self._sdk_pid = 0

    @property
    def id(self) -> str:
        """Plugin, model and, when known without a request, the vector width (``DIMENSIONS`` changes it)."""
        if self._configured_dimension is None:
            return super().id
        return f"{super().id}|dimensions={self._configured_dimension}"

    @property
    def dimension(self) -> int:
        """The model's width, ``DIMENSIONS``, or for an unknown model the width of one probe request."""
        if self._dimension is None:
            self._dimension = int(self._embed(["dimension probe"], "search_query").shape[1])
        return self._dimension

    @property
    def max_input_tokens(self) -> Optional[int]:  # type: ignore[override]  # per model, so not a class attribute
        """``MAX_INPUT_TOKENS``, or the model's window (512 tokens for the v3 models)."""
        return self._max_input_tokens

    def count_tokens(self, text: str) -> Optional[int]:
        """An estimate that errs high (Cohere's tokenizer is not available offline)."""
        return estimate_tokens(text)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Float32 ``(len(texts), dimension)`` with ``input_type="search_document"``, ``BATCH_SIZE`` per request."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._embed(list(texts), "search_document")

    def embed_query(self, text: str) -> np.ndarray:
        """Float32 ``(dimension,)`` with ``input_type="search_query"``; gives up after ``TIMEOUT`` seconds in all."""
        return self._embed([text], "search_query")[0]

    def _embed(self, texts: list[str], input_type: str) -> np.ndarray:
        texts = [text or " " for text in texts]  # the API rejects empty strings
        parts = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            response = self._send(batch, input_type)
            parts.append(self._vectors(response, len(batch)))
            billed = getattr(getattr(response, "meta", None), "billed_units", None)
            self.usage.add(len(batch), int(getattr(billed, "input_tokens", 0) or 0))
        return np.vstack(parts)

    def _send(self, batch: list[str], input_type: str) -> Any:
        arguments: dict[str, Any] = {"texts": batch, "model": self.model_name, "input_type": input_type,
                                     "embedding_types": ["float"], "truncate": "END"}
        if self.dimensions:
            arguments["output_dimension"] = self.dimensions
        client = self._client()
        try:
            if input_type == "search_document":
                # Embedding twice costs tokens but never corrupts anything: retry dropped connections too.
                return client.embed(**arguments, request_options={"retry_remote_protocol_errors": True})
            return retry.call_within(
                self.timeout,
                self.max_retries,
                lambda remaining: client.embed(**arguments, request_options={"timeout": remaining, "max_retries": 0}),
                _query_retry_delay,
            )
        except GraphSearchError:
            raise
        except Exception as exc:
            raise self._explain(exc) from exc

    def _vectors(self, response: Any, expected: int) -> np.ndarray:
        try:
            rows = response.embeddings.float_
            if rows is None or len(rows) != expected:
                raise ValueError(f"{0 if rows is None else len(rows)} float embeddings")
            vectors = np.asarray(rows, dtype=np.float32)
            if vectors.ndim != 2 or vectors.shape[1] == 0 or not np.isfinite(vectors).all():
                raise ValueError("embeddings empty, of different lengths or not finite")
        except (AttributeError, TypeError, ValueError) as exc:
            raise BackendUnavailable(
                f"{self._where()} sent a malformed embed response for {expected} texts ({exc})."
            ) from exc
        if self._dimension is not None and vectors.shape[1] != self._dimension:
            raise ConfigurationError(
                f"{self._where()} returned {vectors.shape[1]}-dimensional vectors for MODEL_NAME "
                f"{self.model_name!r}, but {self._dimension} were expected. Set DIMENSIONS to the width the model "
                "produces (or remove it), then rebuild the index."
            )
        return normalize_rows(vectors)

    def _client(self) -> Any:
        """The SDK client of this process (a client inherited through fork() would share its connections)."""
        if self._sdk is None or self._sdk_pid != os.getpid():
            with self._lock:
                if self._sdk is None or self._sdk_pid != os.getpid():
                    self._sdk, self._sdk_pid = self._make_client(), os.getpid()
        return self._sdk

    def _make_client(self) -> Any:
        try:
            import cohere
        except ImportError as exc:
            raise PluginError(
                f"The 'cohere' embedder cannot import the cohere SDK ({exc}). Run: pip install \"dgs-core[cohere]\""
            ) from exc
        # A deployment without authentication ignores the key, but the SDK requires one.
        return cohere.ClientV2(api_key=self._api_key or "unused", base_url=self.base_url, timeout=self.timeout,
                               max_retries=self.max_retries)

    def _where(self) -> str:
        return f"The Cohere embed API at {self.base_url}" if self.base_url else "The Cohere embed API"

    def _explain(self, exc: Exception) -> GraphSearchError:
        """A dgs error naming the setting to fix, for an exception of the SDK or its HTTP client."""
        import httpx
        from cohere.core.api_error import ApiError

        where = self._where()
        if isinstance(exc, httpx.TimeoutException):
            return BackendUnavailable(f"{where} did not answer within TIMEOUT={self.timeout:g} s.")
        if isinstance(exc, httpx.TransportError):
            return BackendUnavailable(f"{where} cannot be reached ({exc}); check BASE_URL and the network.")
        status = getattr(exc, "status_code", None) if isinstance(exc, ApiError) else None
        detail = _server_message(exc)
        if status in (401, 403, 498):
            return ConfigurationError(
                f"{where} refused the API key ({status}: {detail}). Set API_KEY in the embedding profile "
                "(or the CO_API_KEY environment variable) to a valid key."
            )
        if status in (400, 404, 422):
            return ConfigurationError(
                f"{where} rejected the request ({status}: {detail}). Check MODEL_NAME and DIMENSIONS against "
                "what the model supports."
            )
        if status == 429:
            return BackendUnavailable(
                f"{where} is rate-limiting this key (429: {detail}) after MAX_RETRIES={self.max_retries} retries. "
                "Wait, or use a production key (trial keys are limited)."
            )
        if status is not None and status >= 500:
            return BackendUnavailable(f"{where} failed ({status}: {detail}) after MAX_RETRIES={self.max_retries} "
                                      "retries.")
        return BackendUnavailable(f"{where} sent a malformed response ({type(exc).__name__}: {detail}).")

    @classmethod
    def check_options(cls, model_name: Optional[str], options: dict[str, Any]) -> list[str]:
        """Problems with ``MODEL_NAME`` and the options, found without any request."""
        model_name = model_name or DEFAULT_MODEL_NAME
        settings = {**OPTION_DEFAULTS, **options}
        problems = []
        unknown = sorted(set(options) - set(OPTION_DEFAULTS))
        if unknown:
            problems.append(
                f"OPTIONS has unknown keys {', '.join(k.upper() for k in unknown)}; the cohere embedder accepts "
                f"{', '.join(k.upper() for k in OPTION_DEFAULTS)}."
            )
        for key in ("api_key", "base_url"):
            if settings[key] is not None and (not isinstance(settings[key], str) or not settings[key]):
                problems.append(f"OPTIONS['{key.upper()}'] must be a non-empty string, not {settings[key]!r}.")
        base_url = settings["base_url"] or os.environ.get("CO_API_URL")
        if isinstance(base_url, str) and base_url and not base_url.startswith(("http://", "https://")):
            problems.append(f"OPTIONS['BASE_URL'] must start with http:// or https://, not {base_url!r}.")
        if not settings["api_key"] and not _environment_key() and not base_url:
            problems.append(
                "No API key for the Cohere embed API: set API_KEY in the embedding profile (e.g. "
                "os.environ['CO_API_KEY']) or the CO_API_KEY environment variable of every process."
            )
        dimensions = settings["dimensions"]
        if dimensions is not None:
            if not _positive_int(dimensions):
                problems.append(f"OPTIONS['DIMENSIONS'] must be a positive integer, not {dimensions!r}.")
            elif model_name in KNOWN_DIMENSIONS and dimensions not in SHORTENABLE.get(model_name, ()):
                offered = SHORTENABLE.get(model_name)
                problems.append(
                    f"OPTIONS['DIMENSIONS'] is {dimensions}, but {model_name!r} offers "
                    + (f"only {', '.join(map(str, offered))}." if offered else "no other width; remove DIMENSIONS.")
                )
        timeout = settings["timeout"]
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            problems.append(f"OPTIONS['TIMEOUT'] must be a positive number of seconds, not {timeout!r}.")
        retries = settings["max_retries"]
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            problems.append(f"OPTIONS['MAX_RETRIES'] must be an integer >= 0, not {retries!r}.")
        batch_size = settings["batch_size"]
        if not _positive_int(batch_size) or (not base_url and batch_size > API_MAX_TEXTS):
            problems.append(f"OPTIONS['BATCH_SIZE'] must be an integer from 1 to {API_MAX_TEXTS} (texts per "
                            f"request), not {batch_size!r}.")
        if settings["max_input_tokens"] is not None and not _positive_int(settings["max_input_tokens"]):
            problems.append(f"OPTIONS['MAX_INPUT_TOKENS'] must be a positive integer, not "
                            f"{settings['max_input_tokens']!r}.")
        return problems


def _server_message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])[:500]
    return str(body if body is not None else exc)[:500]


def _query_retry_delay(exc: Exception, attempt: int) -> Optional[float]:
    """How long to wait before retrying a query after ``exc``, or ``None`` to give up now."""
    import httpx
    from cohere.core.api_error import ApiError

    if isinstance(exc, httpx.TimeoutException):  # the whole budget went into that attempt
        return None
    if isinstance(exc, httpx.TransportError):
        return retry.backoff(attempt)
    status = exc.status_code if isinstance(exc, ApiError) else None
    if status is not None and (status in (408, 409, 429) or status >= 500):
        return retry.retry_after({k.lower(): v for k, v in (exc.headers or {}).items()}) or retry.backoff(attempt)
    return None
