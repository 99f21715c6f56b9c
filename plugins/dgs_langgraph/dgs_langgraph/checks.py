"""``manage.py check`` problems of ``GRAPH_SEARCH["LANGGRAPH"]`` while it is enabled (``dgs_system_checks``)."""

from __future__ import annotations

from dgs_core.base import Reranker
from dgs_core.checks import unavailable_backend
from dgs_core.conf import GraphSearchConfig, Problem
from dgs_core.engine import resolve_class
from dgs_core.exceptions import ConfigurationError, PluginError
from dgs_langgraph.llm import llm_class
from dgs_langgraph.settings import langgraph_settings


def configuration_problems(config: GraphSearchConfig) -> list[Problem]:
    """The LLM backend that cannot be loaded, and the reranker no installed plugin provides."""
    settings = langgraph_settings(config)
    if not settings.enabled:
        return []
    problems = []
    try:
        llm_class(settings.llm.backend)
    except ConfigurationError as exc:
        code = "dgs.E010" if isinstance(exc.__cause__, ImportError) else "dgs.E007"
        problems.append(Problem(code, str(exc)))
    if settings.reranking:
        try:
            resolve_class("reranker", settings.reranker.backend, Reranker)
        except PluginError as exc:
            problems.append(unavailable_backend(exc, "GRAPH_SEARCH['LANGGRAPH']['RERANKER']"))
    return problems
