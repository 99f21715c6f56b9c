"""The hook implementations dgs loads through the ``dgs`` entry point; deliberately import-light."""

import dgs_core


@dgs_core.hookimpl
def dgs_register_settings_sections(register) -> None:
    from dgs_langgraph.settings import SECTION, LangGraphConfig

    register(SECTION, LangGraphConfig)


@dgs_core.hookimpl
def dgs_register_rerankers(register) -> None:
    register("llm", "dgs_langgraph.llm.LLMReranker")


@dgs_core.hookimpl
def dgs_system_checks(config):
    from dgs_langgraph.checks import configuration_problems

    return configuration_problems(config)


@dgs_core.hookimpl
def dgs_search_pipeline(config):
    """The LangGraph pipeline while ``GRAPH_SEARCH["LANGGRAPH"]["ENABLED"]`` is true, else core's default."""
    from dgs_langgraph.settings import langgraph_settings

    if not langgraph_settings(config).enabled:
        return None
    from dgs_core import engine
    from dgs_langgraph.graph import LangGraphPipeline

    return engine.shared(("langgraph-pipeline", id(config)), lambda: LangGraphPipeline(config))


@dgs_core.hookimpl
def dgs_reranked_search(config, candidates):
    from dgs_langgraph.evaluation import reranked_search

    return reranked_search(config, candidates)
