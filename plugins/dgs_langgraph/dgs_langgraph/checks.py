"""``manage.py check`` problems of ``GRAPH_SEARCH["LANGGRAPH"]`` while it is enabled (``dgs_system_checks``)."""

from __future__ import annotations

from dgs_core.checks import unavailable_backend
from dgs_core.conf import GraphSearchConfig, Problem
from dgs_core.engine import option_problems
from dgs_core.exceptions import ConfigurationError, PluginError
from dgs_langgraph.llm import LLMBackend, llm_class
from dgs_langgraph.settings import langgraph_settings

#: How messages name the reranker's options.
RERANKER_OPTIONS = "GRAPH_SEARCH['LANGGRAPH']['RERANKER']['OPTIONS']"


def configuration_problems(config: GraphSearchConfig) -> list[Problem]:
    """The LLM backend that cannot be loaded, the reranker no installed plugin provides, and the options either
    declares that the settings get wrong (``dgs.E009``, found without building them)."""
    settings = langgraph_settings(config)
    if not settings.enabled:
        return []
    problems = []
    try:
        llm = llm_class(settings.llm.backend)
    except ConfigurationError as exc:
        code = "dgs.E010" if isinstance(exc.__cause__, ImportError) else "dgs.E007"
        problems.append(Problem(code, str(exc)))
    else:
        if isinstance(llm, type) and issubclass(llm, LLMBackend):
            options = {str(key).lower(): value for key, value in settings.llm.options.items()}
            problems += [Problem("dgs.E009", msg) for msg in llm.check_options(settings.llm.model, options)]
    if settings.reranking:
        try:
            rejected = option_problems("reranker", settings.reranker, RERANKER_OPTIONS)
        except PluginError as exc:
            problems.append(unavailable_backend(exc, "GRAPH_SEARCH['LANGGRAPH']['RERANKER']"))
        else:
            problems += [Problem("dgs.E009", msg if RERANKER_OPTIONS in msg else f"{RERANKER_OPTIONS}: {msg}")
                         for msg in rejected]
    return problems
