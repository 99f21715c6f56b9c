"""The hook implementations dgs loads through the ``dgs`` entry point; deliberately import-light."""

import dgs_core


@dgs_core.hookimpl
def dgs_search_pipeline(config):
    """The LangGraph pipeline while ``GRAPH_SEARCH["LANGGRAPH"]["ENABLED"]`` is true, else core's default."""
    if not config.langgraph.enabled:
        return None
    from dgs_core import engine
    from dgs_langgraph.graph import LangGraphPipeline

    return engine.shared(("langgraph-pipeline", id(config)), lambda: LangGraphPipeline(config))
