"""Counting and cutting tokens: exactly with a tiktoken encoding when it can be loaded, else by an estimate.

tiktoken downloads each encoding on first use (from the internet, into ``TIKTOKEN_CACHE_DIR`` or the
system temporary directory). Where that is impossible, or the model is not one tiktoken knows (a model
served by vLLM or Ollama), tokens are *estimated*: a third of a token per ASCII character and half a
token per byte of other characters. That errs high for prose (English averages about four characters
per token), so requests sized by it stay under the provider's limits, at the price of smaller batches.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Optional

from dgs_core.remote import estimate_tokens

log = logging.getLogger("dgs_openai")

#: ``TOKENIZER`` values: ``"auto"`` (the model's tiktoken encoding, else the estimate), ``"estimate"``,
#: or the name of a tiktoken encoding such as ``"cl100k_base"``.
AUTO, ESTIMATE = "auto", "estimate"

__all__ = ["AUTO", "ESTIMATE", "Tokenizer", "estimate_tokens", "get_tokenizer"]

_encodings: dict[str, Any] = {}  # encoding name -> tiktoken.Encoding, or None when it could not be loaded
_encodings_lock = threading.Lock()


class Tokenizer:
    """Counts and truncates texts with ``encoding`` (a ``tiktoken.Encoding``), or by the estimate when ``None``."""

    def __init__(self, encoding: Any = None) -> None:
        self.encoding = encoding

    @property
    def exact(self) -> bool:
        return self.encoding is not None

    def count(self, text: str) -> int:
        if self.encoding is None:
            return estimate_tokens(text)
        return len(self.encoding.encode_ordinary(text))

    def truncate(self, text: str, limit: int) -> str:
        """The longest beginning of ``text`` that counts at most ``limit`` tokens."""
        if len(text.encode("utf-8")) <= limit:  # a token spans at least one byte
            return text
        if self.encoding is None:
            low, high = 0, len(text)  # binary search for the longest prefix within the estimate
            while low < high:
                middle = (low + high + 1) // 2
                low, high = (middle, high) if estimate_tokens(text[:middle]) <= limit else (low, middle - 1)
            return text[:low]
        tokens = self.encoding.encode_ordinary(text)
        cut = limit
        while True:
            # A cut inside a multi-byte character decodes to U+FFFD; drop it, and re-check the count,
            # because the cut text can tokenize into a few more tokens than the prefix it came from.
            prefix = self.encoding.decode(tokens[:cut]).rstrip("\ufffd")
            excess = len(self.encoding.encode_ordinary(prefix)) - limit
            if excess <= 0:
                return prefix
            cut -= excess


def get_tokenizer(setting: str, model_name: str, wait_seconds: float) -> Tokenizer:
    """The tokenizer for ``TOKENIZER = setting``; waits at most ``wait_seconds`` for an encoding download."""
    if setting == ESTIMATE:
        return Tokenizer()
    try:
        import tiktoken
    except ImportError:
        return Tokenizer()
    name = setting
    if setting == AUTO:
        try:
            name = tiktoken.encoding_name_for_model(model_name)
        except KeyError:  # not an OpenAI model: its own tokenizer is unknown here
            return Tokenizer()
    return Tokenizer(_load_encoding(name, wait_seconds))


def _load_encoding(name: str, wait_seconds: float) -> Any:
    with _encodings_lock:
        if name in _encodings:
            return _encodings[name]
        loaded: dict[str, Any] = {}

        def load() -> None:
            import tiktoken

            try:
                loaded["encoding"] = tiktoken.get_encoding(name)
            except Exception as exc:  # offline, a proxy, a bad name: counted by estimate instead
                loaded["error"] = exc

        # tiktoken downloads without a timeout; a thread keeps a black-holed network from hanging the caller.
        loader = threading.Thread(target=load, name=f"dgs-openai-tiktoken-{name}", daemon=True)
        loader.start()
        loader.join(wait_seconds)
        encoding: Optional[Any] = loaded.get("encoding")
        if encoding is None:
            reason = loaded.get("error") or f"no answer within {wait_seconds:g} s"
            log.warning(
                "tiktoken cannot load the %r encoding (%s); this process estimates token counts instead "
                "(they err high, so batches are smaller). To count exactly, let tiktoken download it once "
                "(it caches the file in TIKTOKEN_CACHE_DIR) or set OPTIONS['TOKENIZER'] = 'estimate' to silence this.",
                name, reason,
            )
        _encodings[name] = encoding
        return encoding
