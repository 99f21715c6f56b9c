"""The ``langgraph`` search pipeline: the steps of :mod:`dgs_langgraph.nodes` as a LangGraph ``StateGraph``.

Without the ``langgraph`` library (or with ``DGS_LANGGRAPH_SEQUENTIAL=1``) the same steps run in sequence,
routed by the same functions, so both runners give identical results.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Optional

from dgs_core.base import VectorHit
from dgs_core.conf import GraphSearchConfig
from dgs_core.searching.pipeline import SearchRequest, VectorSearchPipeline
from dgs_langgraph.nodes import END, Nodes, PipelineState
from dgs_langgraph.settings import langgraph_settings

log = logging.getLogger("dgs_langgraph")

STEPS = ("analyze_query", "expand_query", "vector_search", "rerank", "postprocess")
#: Set to run the steps without LangGraph even when it is installed.
SEQUENTIAL_ENV = "DGS_LANGGRAPH_SEQUENTIAL"


class SequentialRunner:
    """Runs the steps one after the other, following the routing functions; LangGraph's ``invoke`` shape."""

    def __init__(self, nodes: Nodes) -> None:
        self.nodes = nodes
        self.routes = nodes.routes()

    def invoke(self, state: PipelineState) -> PipelineState:
        state = dict(state)  # type: ignore[assignment]
        step = STEPS[0]
        while step != END:
            state.update(getattr(self.nodes, step)(state) or {})
            step = self.routes[step](state)
        return state


def build_graph(nodes: Nodes) -> Any:
    """The compiled LangGraph ``StateGraph`` of the steps."""
    from langgraph.graph import START, StateGraph

    routes = nodes.routes()
    graph = StateGraph(PipelineState)
    for step in STEPS:
        graph.add_node(step, getattr(nodes, step))
    graph.add_edge(START, STEPS[0])
    targets = {"analyze_query": ["expand_query", "vector_search"], "expand_query": ["vector_search"],
               "vector_search": ["rerank", "postprocess"], "rerank": ["postprocess"], "postprocess": [END]}
    for step in STEPS:
        graph.add_conditional_edges(step, routes[step], targets[step])
    return graph.compile()


def make_runner(nodes: Nodes, use_graph: Optional[bool] = None) -> Any:
    """The LangGraph graph when the library is importable (and not switched off), else the sequential runner."""
    if use_graph is None:
        use_graph = not os.environ.get(SEQUENTIAL_ENV)
    if use_graph:
        try:
            return build_graph(nodes)
        except ImportError as exc:
            log.info("langgraph is not importable (%s); the pipeline steps run in sequence.", exc)
    return SequentialRunner(nodes)


class LangGraphPipeline:
    """``dgs_search_pipeline``'s answer while ``LANGGRAPH["ENABLED"]`` is true."""

    def __init__(self, config: GraphSearchConfig, use_graph: Optional[bool] = None) -> None:
        self.settings = langgraph_settings(config)
        self.nodes = Nodes(config)
        self.runner = make_runner(self.nodes, use_graph)

    @property
    def time_budget(self) -> float:
        """Seconds the LLM and reranker calls of one search may take together (``TIMEOUT_SECONDS``)."""
        return float(self.settings.timeout_seconds)

    @property
    def uses_langgraph(self) -> bool:
        return not isinstance(self.runner, SequentialRunner)

    def search(self, request: SearchRequest) -> list[VectorHit]:
        if request.vector is not None and not self.settings.use_for_similar:
            return VectorSearchPipeline().search(request)
        return self.runner.invoke({"request": request})["hits"]
