"""An LLM backend for any OpenAI-compatible chat-completions endpoint (OpenAI, Azure-style gateways, vLLM,
Ollama, llama.cpp server, LM Studio ...)::

    "LANGGRAPH": {"ENABLED": True, "LLM": {
        "BACKEND": "dgs_langgraph.openai_chat.OpenAIChatLLM",
        "MODEL": "gpt-4o-mini",
        "OPTIONS": {
            "BASE_URL": "http://127.0.0.1:11434/v1",  # omit for api.openai.com
            "API_KEY": "...",                          # default: $OPENAI_API_KEY (not needed with BASE_URL)
            "TIMEOUT": 15,                             # seconds per HTTP request
            "TEMPERATURE": 0.0,
        }}}

Needs ``pip install "dgs-langgraph[openai]"``. Prompts and reply parsing come from
:class:`dgs_langgraph.llm.LLMBackend`; the SDK never retries (the pipeline has its own time budget).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Optional

from dgs_core.exceptions import PluginError
from dgs_core.options import option
from dgs_langgraph.llm import LLMBackend, LLMReplyError

SETTING = "GRAPH_SEARCH['LANGGRAPH']['LLM']"


class OpenAIChatLLM(LLMBackend):
    """Chat completions through the ``openai`` SDK; see the module docstring for options."""

    @dataclass(frozen=True)
    class Options(LLMBackend.Options):
        base_url: Optional[str] = option(None, min=1, help="an OpenAI-compatible endpoint; omit it for api.openai.com")
        api_key: Optional[str] = option(None, min=1, help="default: $OPENAI_API_KEY (not needed with BASE_URL)")
        timeout: float = option(15.0, positive=True, unit="seconds", help="per HTTP request")
        temperature: float = option(0.0, min=0, max=2, help="sampling temperature")

        def __post_init__(self) -> None:
            if not self.model:
                raise ValueError(f"{SETTING}['MODEL'] is required by the OpenAI chat backend, e.g. 'gpt-4o-mini' "
                                 "or the model name your BASE_URL server serves.")
            if not (self.api_key or os.environ.get("OPENAI_API_KEY") or self.base_url):
                raise ValueError("{api_key} is not set and neither is OPENAI_API_KEY; set one, or set {base_url} for "
                                 "a local server that needs no key.")

    def __init__(self, model: Optional[str] = None, **options: Any) -> None:
        super().__init__(model, **options)
        self.base_url: Optional[str] = self.options.base_url
        self.api_key = self.options.api_key or os.environ.get("OPENAI_API_KEY") or "unused"
        self.timeout = float(self.options.timeout)
        self.temperature = float(self.options.temperature)
        self._client: Any = None

    def client(self) -> Any:
        """The SDK client, created on first use."""
        if self._client is None:
            try:
                import openai
            except ImportError as exc:
                raise PluginError(f"The OpenAI chat backend needs the openai SDK ({exc}). "
                                  'Run: pip install "dgs-langgraph[openai]"') from exc
            self._client = openai.OpenAI(base_url=self.base_url, api_key=self.api_key, timeout=self.timeout,
                                         max_retries=0)
        return self._client

    def close(self) -> None:
        """Release the HTTP connections (called when settings change and dgs drops its shared objects)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def complete(self, messages: list[dict[str, str]]) -> str:
        response = self.client().chat.completions.create(model=self.model, messages=messages,
                                                          temperature=self.temperature)
        content = response.choices[0].message.content if response.choices else None
        if not content:
            raise LLMReplyError(f"The chat endpoint answered no text for model {self.model!r}.")
        return content
