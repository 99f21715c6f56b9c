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
from typing import Any, Optional

from dgs_core.exceptions import ConfigurationError, PluginError
from dgs_langgraph.llm import LLMBackend, LLMReplyError

OPTION_DEFAULTS: dict[str, Any] = {"base_url": None, "api_key": None, "timeout": 15.0, "temperature": 0.0}
SETTING = "GRAPH_SEARCH['LANGGRAPH']['LLM']"


class OpenAIChatLLM(LLMBackend):
    """Chat completions through the ``openai`` SDK; see the module docstring for options."""

    def __init__(self, model: Optional[str] = None, **options: Any) -> None:
        unknown = sorted(set(options) - set(OPTION_DEFAULTS))
        if unknown:
            raise ConfigurationError(
                f"{SETTING}['OPTIONS'] has unknown keys {', '.join(k.upper() for k in unknown)}; the OpenAI chat "
                f"backend accepts {', '.join(k.upper() for k in OPTION_DEFAULTS)}."
            )
        if not model:
            raise ConfigurationError(f"{SETTING}['MODEL'] is required by the OpenAI chat backend, e.g. 'gpt-4o-mini' "
                                     "or the model name your BASE_URL server serves.")
        super().__init__(model, **options)
        settings = {**OPTION_DEFAULTS, **options}
        self.base_url: Optional[str] = settings["base_url"]
        self.api_key = settings["api_key"] or os.environ.get("OPENAI_API_KEY") or ("unused" if self.base_url else None)
        if self.api_key is None:
            raise ConfigurationError(f"{SETTING}['OPTIONS']['API_KEY'] is not set and neither is OPENAI_API_KEY; set "
                                     "one, or set BASE_URL for a local server that needs no key.")
        self.timeout = float(settings["timeout"])
        self.temperature = float(settings["temperature"])
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
