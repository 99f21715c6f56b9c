"""The ``openai`` embedder: OpenAI's embeddings API, or any server that speaks it (vLLM, Ollama, Azure OpenAI).

Settings (profile keys and ``OPTIONS`` keys are the same thing; case-insensitive; every one optional)::

    "EMBEDDINGS": {"default": {
        "BACKEND": "openai",
        "MODEL_NAME": "text-embedding-3-small",   # on Azure with API_VERSION: the deployment name
        "OPTIONS": {
            "API_KEY": None,                  # default: the OPENAI_API_KEY (Azure: AZURE_OPENAI_API_KEY) variable
            "BASE_URL": None,                 # e.g. "http://localhost:11434/v1" (Ollama), "http://vllm:8000/v1"
            "API_VERSION": None,              # Azure deployments: BASE_URL is then the resource endpoint
            "DIMENSIONS": None,               # shorter vectors (text-embedding-3 models)
            "TIMEOUT": 10.0,                  # seconds per request; a search waits at most this long in all
            "MAX_RETRIES": 5,                 # for 429 / 5xx / connection errors, with backoff
            "BATCH_SIZE": 512,                # texts per request (the API takes at most 2048)
            "MAX_TOKENS_PER_REQUEST": 300000, # the API's limit of tokens summed over one request
            "MAX_INPUT_TOKENS": None,         # per text; default: the model's window (8191)
            "TOKENIZER": "auto",              # "auto", "estimate" or a tiktoken encoding name
        },
    }}

The SDK is imported, and the client built, on first use; nothing here touches the network before that.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np

from dgs_core import retry
from dgs_core.base import Embedder, EmbeddingUsage, normalize_rows
from dgs_core.exceptions import BackendUnavailable, ConfigurationError, GraphSearchError, PluginError
from dgs_openai.tokens import AUTO, ESTIMATE, Tokenizer, get_tokenizer

DEFAULT_MODEL_NAME = "text-embedding-3-small"

#: Output width of OpenAI's embedding models; ``DIMENSIONS`` may shorten the text-embedding-3 ones.
KNOWN_DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}
#: Models that accept ``dimensions``.
SHORTENABLE = {"text-embedding-3-small", "text-embedding-3-large"}
#: Tokens one input may have, per model.
KNOWN_WINDOWS = {name: 8191 for name in KNOWN_DIMENSIONS}
#: The official API's limits per request.
API_MAX_INPUTS = 2048
API_MAX_TOKENS = 300_000

#: Every option this embedder accepts (lower-cased, as core passes them) with its default.
OPTION_DEFAULTS: dict[str, Any] = {
    "api_key": None,
    "base_url": None,
    "api_version": None,
    "dimensions": None,
    "timeout": 10.0,
    "max_retries": 5,
    "batch_size": 512,
    "max_tokens_per_request": API_MAX_TOKENS,
    "max_input_tokens": None,
    "tokenizer": AUTO,
}


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


class OpenAIEmbedder(Embedder):
    """Embeds through the OpenAI embeddings API; see the module docstring for the options."""

    registered_name = "openai"

    def __init__(self, model_name: Optional[str] = None, **options: Any) -> None:
        model_name = model_name or DEFAULT_MODEL_NAME
        problems = self.check_options(model_name, options)
        if problems:
            raise ConfigurationError(" ".join(problems))
        super().__init__(model_name, **options)
        settings = {**OPTION_DEFAULTS, **options}
        self.base_url: Optional[str] = settings["base_url"] or os.environ.get("OPENAI_BASE_URL")
        self.api_version: Optional[str] = settings["api_version"]
        self.dimensions: Optional[int] = settings["dimensions"]
        self.timeout = float(settings["timeout"])
        self.max_retries: int = settings["max_retries"]
        self.batch_size: int = settings["batch_size"]
        self.max_tokens_per_request: int = settings["max_tokens_per_request"]
        self._max_input_tokens: Optional[int] = settings["max_input_tokens"] or KNOWN_WINDOWS.get(model_name)
        self._tokenizer_setting: str = settings["tokenizer"]
        self._api_key: Optional[str] = settings["api_key"] or os.environ.get(_key_variable(self.api_version))
        self.usage = EmbeddingUsage()
        # Known without a request: part of the id. Otherwise the first request measures it.
        self._configured_dimension: Optional[int] = self.dimensions or KNOWN_DIMENSIONS.get(model_name)
        self._dimension = self._configured_dimension
        self._lock = threading.Lock()
        self._sdk: Any = None
        self._sdk_pid = 0
        self._tokenizer: Optional[Tokenizer] = None

    # -- identity and shape -----------------------------------------------------------------------

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
            vectors = self._embed(["dimension probe"], for_query=True)
            self._dimension = int(vectors.shape[1])
        return self._dimension

    @property
    def max_input_tokens(self) -> Optional[int]:  # type: ignore[override]  # per model, so not a class attribute
        """``MAX_INPUT_TOKENS``, or the model's window (8191 for OpenAI's models); longer texts are cut."""
        return self._max_input_tokens

    def count_tokens(self, text: str) -> Optional[int]:
        """Tokens of ``text`` (exact with tiktoken, else an estimate that errs high), untruncated."""
        return self.tokenizer().count(text)

    def tokenizer(self) -> Tokenizer:
        """The tokenizer that sizes and truncates requests (loaded on first use)."""
        if self._tokenizer is None:
            self._tokenizer = get_tokenizer(self._tokenizer_setting, self.model_name, self.timeout)
        return self._tokenizer

    # -- embedding --------------------------------------------------------------------------------

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Float32 ``(len(texts), dimension)``, in as few requests as the API's limits allow."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._embed(list(texts), for_query=False)

    def embed_query(self, text: str) -> np.ndarray:
        """Float32 ``(dimension,)``; gives up with ``BackendUnavailable`` after ``TIMEOUT`` seconds in all."""
        return self._embed([text], for_query=True)[0]

    def _embed(self, texts: list[str], for_query: bool) -> np.ndarray:
        texts = [self._fit(text) for text in texts]
        parts = []
        for start, stop in self._requests(texts):
            batch = texts[start:stop]
            response = self._send(batch, for_query)
            parts.append(self._vectors(response, len(batch)))
            usage = getattr(response, "usage", None)
            self.usage.add(len(batch), int(getattr(usage, "prompt_tokens", 0) or 0))
        return np.vstack(parts)

    def _fit(self, text: str) -> str:
        if not text:
            return " "  # the API rejects empty strings
        window = self._max_input_tokens
        if window and len(text.encode("utf-8")) > window:  # only then can it be too long: no tokenizer needed
            return self.tokenizer().truncate(text, window)
        return text

    def _requests(self, texts: list[str]) -> list[tuple[int, int]]:
        """``(start, stop)`` of consecutive texts per request, within ``BATCH_SIZE`` and ``MAX_TOKENS_PER_REQUEST``."""
        if len(texts) <= self.batch_size and sum(len(t.encode("utf-8")) for t in texts) <= self.max_tokens_per_request:
            return [(0, len(texts))]
        tokenizer = self.tokenizer()
        ranges, start, tokens = [], 0, 0
        for index, text in enumerate(texts):
            count = tokenizer.count(text)
            if index > start and (index - start >= self.batch_size or tokens + count > self.max_tokens_per_request):
                ranges.append((start, index))
                start, tokens = index, 0
            tokens += count
        ranges.append((start, len(texts)))
        return ranges

    def _send(self, batch: list[str], for_query: bool) -> Any:
        arguments: dict[str, Any] = {"input": batch, "model": self.model_name}
        if self.dimensions:
            arguments["dimensions"] = self.dimensions
        client, query_client = self._clients()
        try:
            if not for_query:
                return client.embeddings.create(**arguments)
            return retry.call_within(
                self.timeout,
                self.max_retries,
                lambda remaining: query_client.embeddings.create(**arguments, timeout=remaining),
                _query_retry_delay,
            )
        except GraphSearchError:
            raise
        except Exception as exc:
            raise self._explain(exc) from exc

    def _vectors(self, response: Any, expected: int) -> np.ndarray:
        try:
            data = sorted(response.data, key=lambda item: item.index)
            if [item.index for item in data] != list(range(expected)):
                raise ValueError(f"{len(data)} embeddings with indexes {[item.index for item in data][:5]}...")
            vectors = np.asarray([item.embedding for item in data], dtype=np.float32)
            if vectors.ndim != 2 or vectors.shape[1] == 0 or not np.isfinite(vectors).all():
                raise ValueError("embeddings missing, empty, of different lengths or not finite")
        except (AttributeError, TypeError, ValueError) as exc:
            raise BackendUnavailable(
                f"{self._where()} sent a malformed embeddings response for {expected} inputs ({exc}). "
                "Check that BASE_URL points at an OpenAI-compatible /v1 endpoint."
            ) from exc
        if self._dimension is not None and vectors.shape[1] != self._dimension:
            raise ConfigurationError(
                f"{self._where()} returned {vectors.shape[1]}-dimensional vectors for MODEL_NAME "
                f"{self.model_name!r}, but {self._dimension} were expected. Set DIMENSIONS to the width the model "
                "produces (or remove it), then rebuild the index."
            )
        return normalize_rows(vectors)

    # -- client and errors ------------------------------------------------------------------------

    def _clients(self) -> tuple[Any, Any]:
        """The SDK clients of this process, for documents and for queries (without the SDK's retries).

        Both share one connection pool; a pool inherited through fork() would share connections, so a
        new process builds its own.
        """
        if self._sdk is None or self._sdk_pid != os.getpid():
            with self._lock:
                if self._sdk is None or self._sdk_pid != os.getpid():
                    client = self._make_client()
                    self._sdk, self._sdk_pid = (client, client.with_options(max_retries=0)), os.getpid()
        return self._sdk

    def _make_client(self) -> Any:
        try:
            import openai
        except ImportError as exc:
            raise PluginError(
                f"The 'openai' embedder cannot import the openai SDK ({exc}). Run: pip install \"dgs-core[openai]\""
            ) from exc
        # Servers without authentication (a local vLLM or Ollama) ignore the key, but the SDK requires one.
        common = {"api_key": self._api_key or "unused", "timeout": self.timeout, "max_retries": self.max_retries}
        if self.api_version:
            return openai.AzureOpenAI(azure_endpoint=self.base_url, api_version=self.api_version, **common)
        return openai.OpenAI(base_url=self.base_url, **common)

    def _where(self) -> str:
        return f"The embeddings API at {self.base_url}" if self.base_url else "The OpenAI embeddings API"

    def _explain(self, exc: Exception) -> GraphSearchError:
        """A dgs error naming the setting to fix, for an exception of the SDK."""
        import openai

        where, detail = self._where(), _server_message(exc)
        if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
            return ConfigurationError(
                f"{where} refused the API key ({exc.status_code}: {detail}). Set API_KEY in the embedding profile "
                f"(or the {_key_variable(self.api_version)} environment variable) to a valid key."
            )
        if isinstance(exc, openai.NotFoundError):
            return ConfigurationError(
                f"{where} has no model {self.model_name!r} (404: {detail}). Check MODEL_NAME"
                + (" (the Azure deployment name) and API_VERSION." if self.api_version else " and BASE_URL.")
            )
        if isinstance(exc, (openai.BadRequestError, openai.UnprocessableEntityError)):
            return ConfigurationError(
                f"{where} rejected the request ({exc.status_code}: {detail}). Check MODEL_NAME, DIMENSIONS and "
                "MAX_INPUT_TOKENS against what the model supports."
            )
        if isinstance(exc, openai.APITimeoutError):
            return BackendUnavailable(f"{where} did not answer within TIMEOUT={self.timeout:g} s.")
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc
            return BackendUnavailable(f"{where} cannot be reached ({cause}); check BASE_URL and the network.")
        if isinstance(exc, openai.RateLimitError):
            return BackendUnavailable(
                f"{where} is rate-limiting this key (429: {detail}) after MAX_RETRIES={self.max_retries} retries. "
                "Wait, raise the account's limits, or index in smaller batches (BATCH_SIZE)."
            )
        if isinstance(exc, openai.APIStatusError):
            return BackendUnavailable(
                f"{where} failed ({exc.status_code}: {detail}) after MAX_RETRIES={self.max_retries} retries."
            )
        return BackendUnavailable(f"{where} sent a malformed response ({type(exc).__name__}: {exc}).")

    # -- configuration ----------------------------------------------------------------------------

    @classmethod
    def check_options(cls, model_name: Optional[str], options: dict[str, Any]) -> list[str]:
        """Problems with ``MODEL_NAME`` and the options, found without any request."""
        model_name = model_name or DEFAULT_MODEL_NAME
        settings = {**OPTION_DEFAULTS, **options}
        problems = []
        unknown = sorted(set(options) - set(OPTION_DEFAULTS))
        if unknown:
            problems.append(
                f"OPTIONS has unknown keys {', '.join(k.upper() for k in unknown)}; the openai embedder accepts "
                f"{', '.join(k.upper() for k in OPTION_DEFAULTS)}."
            )
        for key in ("api_key", "base_url", "api_version"):
            if settings[key] is not None and (not isinstance(settings[key], str) or not settings[key]):
                problems.append(f"OPTIONS['{key.upper()}'] must be a non-empty string, not {settings[key]!r}.")
        base_url = settings["base_url"] or os.environ.get("OPENAI_BASE_URL")
        if isinstance(base_url, str) and base_url and not base_url.startswith(("http://", "https://")):
            problems.append(f"OPTIONS['BASE_URL'] must start with http:// or https://, not {base_url!r}.")
        api_version, variable = settings["api_version"], _key_variable(settings["api_version"])
        if api_version and not base_url:
            problems.append("OPTIONS['API_VERSION'] is for Azure deployments: set BASE_URL to the resource endpoint "
                            "(https://<resource>.openai.azure.com/) too.")
        if not settings["api_key"] and not os.environ.get(variable) and (api_version or not base_url):
            problems.append(
                f"No API key for the OpenAI embeddings API: set API_KEY in the embedding profile (e.g. "
                f"os.environ['{variable}']) or the {variable} environment variable of every process."
            )
        dimensions = settings["dimensions"]
        if dimensions is not None:
            if not _positive_int(dimensions):
                problems.append(f"OPTIONS['DIMENSIONS'] must be a positive integer, not {dimensions!r}.")
            elif model_name in KNOWN_DIMENSIONS and model_name not in SHORTENABLE:
                problems.append(f"MODEL_NAME {model_name!r} does not support DIMENSIONS (only text-embedding-3 "
                                "models shorten their vectors); remove it.")
            elif dimensions > KNOWN_DIMENSIONS.get(model_name, dimensions):
                problems.append(f"OPTIONS['DIMENSIONS'] is {dimensions}, but {model_name!r} produces at most "
                                f"{KNOWN_DIMENSIONS[model_name]}.")
        timeout = settings["timeout"]
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            problems.append(f"OPTIONS['TIMEOUT'] must be a positive number of seconds, not {timeout!r}.")
        retries = settings["max_retries"]
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            problems.append(f"OPTIONS['MAX_RETRIES'] must be an integer >= 0, not {retries!r}.")
        batch_limit = API_MAX_INPUTS if not base_url else None
        batch_size = settings["batch_size"]
        if not _positive_int(batch_size) or (batch_limit and batch_size > batch_limit):
            problems.append(f"OPTIONS['BATCH_SIZE'] must be an integer from 1 to {batch_limit or 'the server limit'} "
                            f"(texts per request), not {batch_size!r}.")
        for key in ("max_tokens_per_request", "max_input_tokens"):
            if settings[key] is not None and not _positive_int(settings[key]):
                problems.append(f"OPTIONS['{key.upper()}'] must be a positive integer, not {settings[key]!r}.")
        problems += _tokenizer_problems(settings["tokenizer"])
        return problems


def _tokenizer_problems(tokenizer: Any) -> list[str]:
    if tokenizer in (AUTO, ESTIMATE):
        return []
    try:
        import tiktoken
    except ImportError:
        return [f"OPTIONS['TOKENIZER'] is {tokenizer!r}, a tiktoken encoding, but tiktoken is not installed; "
                "run: pip install tiktoken (or use 'auto' or 'estimate')."]
    if tokenizer not in tiktoken.list_encoding_names():
        return [f"OPTIONS['TOKENIZER'] is {tokenizer!r}; use 'auto', 'estimate' or a tiktoken encoding: "
                f"{', '.join(tiktoken.list_encoding_names())}."]
    return []


def _key_variable(api_version: Optional[str]) -> str:
    return "AZURE_OPENAI_API_KEY" if api_version else "OPENAI_API_KEY"


def _server_message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])[:500]
    return str(body or exc)[:500]


def _query_retry_delay(exc: Exception, attempt: int) -> Optional[float]:
    """How long to wait before retrying a query after ``exc``, or ``None`` to give up now."""
    import openai

    if isinstance(exc, openai.APITimeoutError):  # the whole budget went into that attempt
        return None
    if isinstance(exc, openai.APIConnectionError):
        return retry.backoff(attempt)
    if isinstance(exc, openai.APIStatusError) and (exc.status_code in (408, 409, 429) or exc.status_code >= 500):
        return retry.retry_after(exc.response.headers) or retry.backoff(attempt)
    return None
