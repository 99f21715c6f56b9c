"""``manage.py search_eval``'s ``reranked`` mode with this plugin: the langgraph pipeline reranking, nothing else."""

from __future__ import annotations

import dataclasses

from dgs_core.base import Reranker
from dgs_core.conf import GraphSearchConfig
from dgs_core.engine import resolve_class
from dgs_core.exceptions import PluginError
from dgs_core.searching.pipeline import RerankedSearch
from dgs_langgraph.settings import SECTION, langgraph_settings


def reranked_search(config: GraphSearchConfig, candidates: int) -> RerankedSearch:
    """``config`` with the pipeline on: reranking at least ``candidates`` candidates by the configured RERANKER, no
    query expansion, and errors raised instead of silently answered by plain vector search (so a broken reranker
    is not measured)."""
    settings = langgraph_settings(config)
    reranking = dataclasses.replace(settings, enabled=True, reranking=True, query_expansion=False,
                                    fallback_on_error=False, rerank_top_k=max(settings.rerank_top_k, candidates))
    backend = reranking.reranker.backend
    try:
        resolve_class("reranker", backend, Reranker)
        unavailable = None
    except PluginError as exc:
        unavailable = f"the reranker {backend!r} of LANGGRAPH['RERANKER'] is not available: {exc}"
    note = (f"LANGGRAPH reranker {backend!r} over the best {reranking.rerank_top_k} candidates, "
            "no query expansion")
    return RerankedSearch(config.with_section(SECTION, reranking), note, unavailable)
