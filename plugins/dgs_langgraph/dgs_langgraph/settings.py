"""``GRAPH_SEARCH["LANGGRAPH"]``: this plugin's settings section, parsed and type-checked by dgs-core's parser
(registered through ``dgs_register_settings_sections``; see docs/plugin_hooks.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from dgs_core.conf import BackendConfig, GraphSearchConfig

#: The top-level ``GRAPH_SEARCH`` key of the section.
SECTION = "LANGGRAPH"


@dataclass(frozen=True)
class LLMConfig:
    """``LANGGRAPH["LLM"]``: the LLM backend of query expansion and of the ``llm`` reranker."""

    backend: Optional[str] = None
    model: Optional[str] = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LangGraphConfig:
    """``LANGGRAPH``: whether searches run the langgraph pipeline, and what its steps do."""

    enabled: bool = False
    query_expansion: bool = True
    reranking: bool = True
    max_expanded_queries: int = 3
    rerank_top_k: int = 20
    timeout_seconds: int = 15
    max_query_length: int = 1024
    fallback_on_error: bool = True
    use_for_similar: bool = False
    llm: LLMConfig = field(default_factory=LLMConfig)
    # Second-stage scoring: a reranker name ("llm": the LLM backend's rerank; "cross-encoder", "bi-encoder").
    reranker: BackendConfig = field(default_factory=lambda: BackendConfig("llm"))


def langgraph_settings(config: GraphSearchConfig) -> LangGraphConfig:
    """The ``LANGGRAPH`` section of ``config`` (its defaults for a configuration built without this plugin)."""
    return config.section(SECTION) or LangGraphConfig()
