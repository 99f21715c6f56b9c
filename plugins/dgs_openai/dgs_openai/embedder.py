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

from dataclasses import dataclass
from types import ModuleType
from typing import Any, ClassVar, Optional

from dgs_core.options import option
from dgs_core.remote import Failure, RemoteEmbedder, server_message
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


class OpenAIEmbedder(RemoteEmbedder):
    """Embeds through the OpenAI embeddings API; see the module docstring for the options."""

    registered_name = "openai"
    sdk = "openai"
    known_dimensions = KNOWN_DIMENSIONS
    known_windows = KNOWN_WINDOWS
    rate_limit_advice = "Wait, raise the account's limits, or index in smaller batches (BATCH_SIZE)."
    malformed_advice = " Check that BASE_URL points at an OpenAI-compatible /v1 endpoint."

    @dataclass(frozen=True)
    class Options(RemoteEmbedder.Options):
        model_name: Optional[str] = option(DEFAULT_MODEL_NAME, listed=False, help="on Azure: the deployment name")
        batch_size: int = option(512, min=1, help="texts per request")
        api_version: Optional[str] = option(None, min=1, help="Azure deployments: BASE_URL is the resource endpoint")
        max_tokens_per_request: int = option(API_MAX_TOKENS, positive=True, help="tokens summed over one request")
        tokenizer: str = option(AUTO, help="'auto', 'estimate' or a tiktoken encoding name")

        service: ClassVar[str] = "the OpenAI embeddings API"
        url_variable: ClassVar[str] = "OPENAI_BASE_URL"
        max_batch: ClassVar[int] = API_MAX_INPUTS

        def key_variables(self) -> tuple[str, ...]:
            return ("AZURE_OPENAI_API_KEY",) if self.api_version else ("OPENAI_API_KEY",)

        def needs_key(self) -> bool:
            # Servers without authentication (a local vLLM or Ollama) need none; Azure always does.
            return bool(self.api_version) or not self.url

        def __post_init__(self) -> None:
            if self.api_version and not self.url:
                raise ValueError("{api_version} is for Azure deployments: set {base_url} to the resource endpoint "
                                 "(https://<resource>.openai.azure.com/) too.")
            super().__post_init__()
            model_name, dimensions = self.model_name, self.dimensions
            if dimensions is not None and model_name in KNOWN_DIMENSIONS:
                if model_name not in SHORTENABLE:
                    raise ValueError(f"MODEL_NAME {model_name!r} does not support DIMENSIONS (only text-embedding-3 "
                                     "models shorten their vectors); remove it.")
                if dimensions > KNOWN_DIMENSIONS[model_name]:
                    raise ValueError(f"{{dimensions}} is {dimensions}, but {model_name!r} produces at most "
                                     f"{KNOWN_DIMENSIONS[model_name]}.")
            _check_tokenizer(self.tokenizer)

    def __init__(self, model_name: Optional[str] = None, **options: Any) -> None:
        super().__init__(model_name, **options)
        self.api_version: Optional[str] = self.options.api_version
        self.max_tokens_per_request: int = self.options.max_tokens_per_request
        self._tokenizer: Optional[Tokenizer] = None

    def count_tokens(self, text: str) -> Optional[int]:
        """Tokens of ``text`` (exact with tiktoken, else an estimate that errs high), untruncated."""
        return self.tokenizer().count(text)

    def tokenizer(self) -> Tokenizer:
        """The tokenizer that sizes and truncates requests (loaded on first use)."""
        if self._tokenizer is None:
            self._tokenizer = get_tokenizer(self.options.tokenizer, self.model_name, self.timeout)
        return self._tokenizer

    def fit(self, text: str) -> str:
        """``text`` cut to the model's window (OpenAI's API refuses longer inputs)."""
        window = self._max_input_tokens
        if window and len(text.encode("utf-8")) > window:  # only then can it be too long: no tokenizer needed
            return self.tokenizer().truncate(text, window)
        return super().fit(text)

    def batches(self, texts: list[str]) -> list[tuple[int, int]]:
        """Consecutive texts per request, within ``BATCH_SIZE`` and ``MAX_TOKENS_PER_REQUEST``."""
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

    def make_client(self, sdk: ModuleType) -> tuple[Any, Any]:
        """Clients for documents and for queries (without the SDK's retries), sharing one connection pool."""
        # Servers without authentication (a local vLLM or Ollama) ignore the key, but the SDK requires one.
        common = {"api_key": self._api_key or "unused", "timeout": self.timeout, "max_retries": self.max_retries}
        if self.api_version:
            client = sdk.AzureOpenAI(azure_endpoint=self.base_url, api_version=self.api_version, **common)
        else:
            client = sdk.OpenAI(base_url=self.base_url, **common)
        return client, client.with_options(max_retries=0)

    def request(self, client: tuple[Any, Any], texts: list[str], for_query: bool, timeout: Optional[float]) -> Any:
        arguments: dict[str, Any] = {"input": texts, "model": self.model_name}
        if self.dimensions:
            arguments["dimensions"] = self.dimensions
        documents, queries = client
        if timeout is None:
            return documents.embeddings.create(**arguments)
        return queries.embeddings.create(**arguments, timeout=timeout)

    def read(self, response: Any, expected: int) -> tuple[Any, int]:
        data = sorted(response.data, key=lambda item: item.index)
        if [item.index for item in data] != list(range(expected)):
            raise ValueError(f"{len(data)} embeddings with indexes {[item.index for item in data][:5]}...")
        usage = getattr(response, "usage", None)
        return [item.embedding for item in data], int(getattr(usage, "prompt_tokens", 0) or 0)

    def classify(self, error: Exception) -> Failure:
        import openai

        if isinstance(error, openai.APITimeoutError):
            return Failure("timeout")
        if isinstance(error, openai.APIConnectionError):
            return Failure("connection", str(error.__cause__ or error))
        if isinstance(error, openai.APIStatusError):
            headers = {name.lower(): value for name, value in error.response.headers.items()}
            return Failure("status", server_message(error), error.status_code, headers)
        return Failure("malformed", str(error))

    def not_found_advice(self) -> str:
        return " (the Azure deployment name) and API_VERSION." if self.api_version else " and BASE_URL."


def _check_tokenizer(tokenizer: str) -> None:
    if tokenizer in (AUTO, ESTIMATE):
        return
    try:
        import tiktoken
    except ImportError:
        raise ValueError(f"{{tokenizer}} is {tokenizer!r}, a tiktoken encoding, but tiktoken is not installed; "
                         "run: pip install tiktoken (or use 'auto' or 'estimate').") from None
    if tokenizer not in tiktoken.list_encoding_names():
        raise ValueError(f"{{tokenizer}} is {tokenizer!r}; use 'auto', 'estimate' or a tiktoken encoding: "
                         f"{', '.join(tiktoken.list_encoding_names())}.")
