"""Embedders of cloud APIs (``dgs-openai``, ``dgs-cohere``): one base that does all but the request and response.

A subclass builds the SDK client (:meth:`RemoteEmbedder.make_client`), sends one request
(:meth:`~RemoteEmbedder.request`), reads one response (:meth:`~RemoteEmbedder.read`) and says what an SDK
exception means (:meth:`~RemoteEmbedder.classify`). The base does the rest: the API key from the options or the
environment, the dimension (known per model, else measured by one probe request), one client per process,
batching, retries (the SDK's for documents; :func:`dgs_core.retry.call_within` for queries, so a search waits at
most ``TIMEOUT`` seconds in all), validation of every response, usage counting, and errors that name the setting
to fix. It imports no SDK: that happens on the first request.
"""

from __future__ import annotations

import importlib
import math
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, ClassVar, Optional

import numpy as np

from dgs_core import retry
from dgs_core.base import Embedder, EmbeddingUsage, normalize_rows
from dgs_core.exceptions import BackendUnavailable, ConfigurationError, GraphSearchError, PluginError
from dgs_core.options import option

#: Statuses of a refused API key (498: Cohere's invalid token).
REFUSED_KEY = (401, 403, 498)
#: Statuses worth retrying a query after.
RETRYABLE = (408, 409, 429)


def estimate_tokens(text: str) -> int:
    """An estimate of the tokens of ``text`` that errs high: a third per ASCII character, half per other byte.

    English prose averages about four characters per token, so requests sized by it stay within the
    provider's limits, at the price of smaller batches.
    """
    ascii_chars = len(text.encode("ascii", "ignore"))
    return math.ceil(ascii_chars / 3 + (len(text.encode("utf-8")) - ascii_chars) / 2)


@dataclass(frozen=True)
class Failure:
    """What an SDK exception means: ``kind`` is ``"timeout"``, ``"connection"``, ``"status"`` (an HTTP error
    ``status`` with the response's lower-cased ``headers``) or ``"malformed"``; ``detail`` is the server's message."""

    kind: str
    detail: str = ""
    status: Optional[int] = None
    headers: Mapping[str, str] = field(default_factory=dict)


class RemoteEmbedder(Embedder):
    """An embedder of a cloud API; see the module docstring for what a subclass provides."""

    #: The SDK's import name, which is also the dgs-core extra that installs it.
    sdk: ClassVar[str] = ""
    #: Output width and input window (tokens) of the provider's models.
    known_dimensions: ClassVar[dict[str, int]] = {}
    known_windows: ClassVar[dict[str, int]] = {}
    #: How messages name a response and the texts it embeds ("embeddings response for 3 inputs").
    response_name: ClassVar[str] = "embeddings"
    inputs_name: ClassVar[str] = "inputs"
    #: What a rate-limit error advises besides waiting.
    rate_limit_advice: ClassVar[str] = ""
    #: Appended to the message of a malformed response.
    malformed_advice: ClassVar[str] = ""

    @dataclass(frozen=True)
    class Options(Embedder.Options):
        api_key: Optional[str] = option(None, min=1, help="default: the provider's environment variable")
        base_url: Optional[str] = option(None, min=1, help="another deployment of the API")
        dimensions: Optional[int] = option(None, positive=True, help="shorter vectors, for models that offer them")
        timeout: float = option(10.0, positive=True, unit="seconds", help="a search waits at most this long in all")
        max_retries: int = option(5, min=0, help="for 429 / 5xx / connection errors, with backoff")
        batch_size: int = option(96, min=1, help="texts per request")
        max_input_tokens: Optional[int] = option(None, positive=True, help="per text; default: the model's window")

        #: How messages name the API ("the OpenAI embeddings API").
        service: ClassVar[str] = "the embeddings API"
        #: The environment variable of the default ``BASE_URL``.
        url_variable: ClassVar[str] = ""
        #: Texts the provider's own endpoint takes per request (another ``BASE_URL`` sets its own limit).
        max_batch: ClassVar[int] = 96

        def key_variables(self) -> tuple[str, ...]:
            """The environment variables that hold the API key, first set wins."""
            raise NotImplementedError

        def needs_key(self) -> bool:
            """Whether requests need a key: the provider's endpoint does, a deployment of one's own may not."""
            return not self.url

        @property
        def url(self) -> Optional[str]:
            return self.base_url or os.environ.get(self.url_variable) or None

        @property
        def key(self) -> Optional[str]:
            return self.api_key or next((os.environ[v] for v in self.key_variables() if os.environ.get(v)), None)

        def __post_init__(self) -> None:
            url = self.url
            if url and not url.startswith(("http://", "https://")):
                raise ValueError(f"{{base_url}} must start with http:// or https://, not {url!r}.")
            if not self.key and self.needs_key():
                variable = self.key_variables()[0]
                raise ValueError(
                    f"No API key for {self.service}: set API_KEY in the embedding profile (e.g. "
                    f"os.environ['{variable}']) or the {variable} environment variable of every process."
                )
            if not url and self.batch_size > self.max_batch:
                raise ValueError(f"{{batch_size}} must be an integer from 1 to {self.max_batch} (texts per "
                                 f"request), not {self.batch_size!r}.")

    def __init__(self, model_name: Optional[str] = None, **options: Any) -> None:
        super().__init__(model_name, **options)
        declared = self.options
        self.base_url: Optional[str] = declared.url
        self.dimensions: Optional[int] = declared.dimensions
        self.timeout = float(declared.timeout)
        self.max_retries: int = declared.max_retries
        self.batch_size: int = declared.batch_size
        self._max_input_tokens = declared.max_input_tokens or self.known_windows.get(self.model_name)
        self._api_key = declared.key
        self.usage = EmbeddingUsage()
        # Known without a request: part of the id. Otherwise the first request measures it.
        self._configured_dimension = declared.dimensions or self.known_dimensions.get(self.model_name)
        self._dimension = self._configured_dimension
        self._lock = threading.Lock()
        self._client: Any = None
        self._client_pid = 0

    # -- what a subclass provides -----------------------------------------------------------------

    def make_client(self, sdk: ModuleType) -> Any:
        """The SDK client (built once per process) that :meth:`request` is given."""
        raise NotImplementedError

    def request(self, client: Any, texts: list[str], for_query: bool, timeout: Optional[float]) -> Any:
        """Send one request embedding ``texts``: with the SDK's retries when ``timeout`` is ``None`` (documents),
        else once, within ``timeout`` seconds (a query, retried by the base within ``TIMEOUT``)."""
        raise NotImplementedError

    def read(self, response: Any, expected: int) -> tuple[Any, int]:
        """``(rows, tokens)``: the ``expected`` vectors of ``response`` in input order, and the tokens billed.
        Raise ``ValueError`` (or let ``AttributeError``/``TypeError`` out) for a malformed response."""
        raise NotImplementedError

    def classify(self, error: Exception) -> Failure:
        """What an exception of the SDK (or its HTTP client) means."""
        raise NotImplementedError

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
            self._dimension = int(self._embed(["dimension probe"], for_query=True).shape[1])
        return self._dimension

    @property
    def max_input_tokens(self) -> Optional[int]:  # type: ignore[override]  # per model, so not a class attribute
        """``MAX_INPUT_TOKENS``, or the model's window."""
        return self._max_input_tokens

    # -- embedding --------------------------------------------------------------------------------

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Float32 ``(len(texts), dimension)``, in as few requests as the API's limits allow."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._embed(list(texts), for_query=False)

    def embed_query(self, text: str) -> np.ndarray:
        """Float32 ``(dimension,)``; gives up with ``BackendUnavailable`` after ``TIMEOUT`` seconds in all."""
        return self._embed([text], for_query=True)[0]

    def fit(self, text: str) -> str:
        """``text`` as sent: the APIs reject empty strings."""
        return text or " "

    def batches(self, texts: list[str]) -> list[tuple[int, int]]:
        """``(start, stop)`` of the texts of each request: ``BATCH_SIZE`` at a time."""
        return [(start, min(start + self.batch_size, len(texts))) for start in range(0, len(texts), self.batch_size)]

    def _embed(self, texts: list[str], for_query: bool) -> np.ndarray:
        texts = [self.fit(text) for text in texts]
        parts = []
        for start, stop in self.batches(texts):
            batch = texts[start:stop]
            vectors, tokens = self._vectors(self._send(batch, for_query), len(batch))
            parts.append(vectors)
            self.usage.add(len(batch), tokens)
        return np.vstack(parts)

    def _send(self, batch: list[str], for_query: bool) -> Any:
        client = self._client_of_this_process()
        try:
            if not for_query:
                return self.request(client, batch, False, None)
            return retry.call_within(
                self.timeout,
                self.max_retries,
                lambda remaining: self.request(client, batch, True, remaining),
                self._query_retry_delay,
            )
        except GraphSearchError:
            raise
        except Exception as exc:
            raise self._explain(exc) from exc

    def _vectors(self, response: Any, expected: int) -> tuple[np.ndarray, int]:
        try:
            rows, tokens = self.read(response, expected)
            vectors = np.asarray(rows, dtype=np.float32)
            if vectors.ndim != 2 or vectors.shape[1] == 0 or not np.isfinite(vectors).all():
                raise ValueError("embeddings missing, empty, of different lengths or not finite")
        except (AttributeError, TypeError, ValueError) as exc:
            raise BackendUnavailable(
                f"{self.where()} sent a malformed {self.response_name} response for {expected} {self.inputs_name} "
                f"({exc}).{self.malformed_advice}"
            ) from exc
        if self._dimension is not None and vectors.shape[1] != self._dimension:
            raise ConfigurationError(
                f"{self.where()} returned {vectors.shape[1]}-dimensional vectors for MODEL_NAME "
                f"{self.model_name!r}, but {self._dimension} were expected. Set DIMENSIONS to the width the model "
                "produces (or remove it), then rebuild the index."
            )
        return normalize_rows(vectors), int(tokens or 0)

    # -- client and errors ------------------------------------------------------------------------

    def _client_of_this_process(self) -> Any:
        """The SDK client of this process: a client inherited through fork() would share its connections."""
        if self._client is None or self._client_pid != os.getpid():
            with self._lock:
                if self._client is None or self._client_pid != os.getpid():
                    try:
                        sdk = importlib.import_module(self.sdk)
                    except ImportError as exc:
                        raise PluginError(
                            f"The {self.registered_name!r} embedder cannot import the {self.sdk} SDK ({exc}). "
                            f'Run: pip install "dgs-core[{self.sdk}]"'
                        ) from exc
                    self._client, self._client_pid = self.make_client(sdk), os.getpid()
        return self._client

    def where(self) -> str:
        """The API, for messages."""
        service = self.options.service
        service = service[0].upper() + service[1:]
        return f"{service} at {self.base_url}" if self.base_url else service

    def not_found_advice(self) -> str:
        """What a 404 (no such model) advises checking besides MODEL_NAME."""
        return " and BASE_URL."

    def _explain(self, error: Exception) -> GraphSearchError:
        """A dgs error naming the setting to fix, for an exception of the SDK."""
        failure, where = self.classify(error), self.where()
        status, detail = failure.status, failure.detail
        if failure.kind == "timeout":
            return BackendUnavailable(f"{where} did not answer within TIMEOUT={self.timeout:g} s.")
        if failure.kind == "connection":
            return BackendUnavailable(f"{where} cannot be reached ({detail}); check BASE_URL and the network.")
        if failure.kind != "status" or status is None or status < 400:
            return BackendUnavailable(f"{where} sent a malformed response ({type(error).__name__}: {detail}).")
        if status in REFUSED_KEY:
            return ConfigurationError(
                f"{where} refused the API key ({status}: {detail}). Set API_KEY in the embedding profile "
                f"(or the {self.options.key_variables()[0]} environment variable) to a valid key."
            )
        if status == 404:
            return ConfigurationError(f"{where} has no model {self.model_name!r} (404: {detail}). Check MODEL_NAME"
                                      + self.not_found_advice())
        if status in (400, 422):
            return ConfigurationError(
                f"{where} rejected the request ({status}: {detail}). Check MODEL_NAME, DIMENSIONS and "
                "MAX_INPUT_TOKENS against what the model supports."
            )
        if status == 429:
            return BackendUnavailable(
                f"{where} is rate-limiting this key (429: {detail}) after MAX_RETRIES={self.max_retries} retries. "
                + self.rate_limit_advice
            )
        return BackendUnavailable(f"{where} failed ({status}: {detail}) after MAX_RETRIES={self.max_retries} retries.")

    def _query_retry_delay(self, error: Exception, attempt: int) -> Optional[float]:
        """How long to wait before retrying a query after ``error``, or ``None`` to give up now."""
        failure = self.classify(error)
        if failure.kind == "connection":
            return retry.backoff(attempt)
        if failure.kind == "status" and failure.status is not None and (
                failure.status in RETRYABLE or failure.status >= 500):
            return retry.retry_after(failure.headers) or retry.backoff(attempt)
        return None  # a timeout spent the whole budget; other errors would fail again


def server_message(error: Exception) -> str:
    """The message in an API error's body (``{"message": ...}``), else the body or the error, at most 500 characters."""
    body = getattr(error, "body", None)
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])[:500]
    return str(body if body is not None else error)[:500]
