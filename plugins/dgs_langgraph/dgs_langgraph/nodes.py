"""The steps of the ``langgraph`` search pipeline, the state they pass on, and where each leads next.

    analyze_query -> [expand_query] -> vector_search -> [rerank] -> postprocess

* **analyze_query** normalises the query, cuts what the LLM sees to ``MAX_QUERY_LENGTH`` characters and
  decides which optional steps run (expansion needs query text; a similar-search has only a vector).
* **expand_query** asks the LLM backend for up to ``MAX_EXPANDED_QUERIES`` variants.
* **vector_search** retrieves once per query by the search's mode (vector, keyword or hybrid;
  :func:`dgs_core.searching.pipeline.retrieve`); several result lists are fused by reciprocal rank (RRF, k=60,
  :mod:`dgs_core.searching.fusion`), so scores stay in [0, 1] and follow the order. ``min_score`` filters each list
  before fusion.
* **rerank** hands the best ``RERANK_TOP_K`` candidates to the ``LANGGRAPH["RERANKER"]`` reranker; hits it
  did not rank keep their order behind the ranked ones. Ids the reranker did not receive are ignored. In the
  keyword and hybrid modes, hits whose field values the query names whole stay ahead of the others
  (:mod:`dgs_core.searching.phrases`): the reranker orders within those groups.
* **postprocess** trims to the number of hits asked for.

LLM and reranker calls share one budget of ``TIMEOUT_SECONDS``. A call that fails or runs out of time
makes the whole answer plain vector search of the original query (``FALLBACK_ON_ERROR``, a ``fallback``
event and a log warning say so), or fails the search with :class:`BackendUnavailable` when fallback is off.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Optional, TypedDict

from dgs_core import engine
from dgs_core.base import Reranker, VectorHit
from dgs_core.conf import GraphSearchConfig
from dgs_core.exceptions import BackendUnavailable
from dgs_core.searching.events import StreamCancelled, cancel_event, emit
from dgs_core.searching.fusion import DEFAULT_RRF_K, reciprocal_rank_fusion
from dgs_core.searching.phrases import promote_field_matches
from dgs_core.searching.pipeline import SearchRequest, retrieve
from dgs_langgraph.llm import get_llm
from dgs_langgraph.settings import langgraph_settings

log = logging.getLogger("dgs_langgraph")

END = "__end__"  # langgraph.graph.END, without importing langgraph
#: How often a step waiting for the LLM checks whether its stream's client went away (seconds).
CANCEL_POLL = 0.1


class PipelineState(TypedDict, total=False):
    request: SearchRequest
    deadline: float  # time.monotonic() by which every LLM and reranker call must be done
    query: str  # the query as the LLM steps see it (normalised, at most MAX_QUERY_LENGTH characters)
    queries: list[str]  # the original query, then its variants
    expand: bool
    rerank: bool
    candidates: list[VectorHit]  # fused, best first
    original_hits: list[VectorHit]  # the original query's own list: the fallback answer
    hits: list[VectorHit]
    fallback: Optional[str]  # why the LLM steps were abandoned


class StepFailed(Exception):
    """An LLM or reranker call failed or ran out of time."""


def call_with_timeout(fn: Callable[[], Any], seconds: float, what: str) -> Any:
    """``fn()`` in a helper thread, waited for at most ``seconds``; :class:`StepFailed` when it fails or is late.

    A call that runs late cannot be interrupted: its daemon thread finishes on its own when the backend
    answers (the OpenAI backend's HTTP timeout bounds that). Inside a stream, the wait ends as soon as the
    client goes away.
    """
    if seconds <= 0:
        raise StepFailed(f"{what}: TIMEOUT_SECONDS was used up before it started")
    done = threading.Event()
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # reported to the waiting step, whatever it is
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, daemon=True, name=f"dgs-llm-{what}").start()
    cancelled = cancel_event()
    deadline = time.monotonic() + seconds
    while not done.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise StepFailed(f"{what}: no answer within TIMEOUT_SECONDS")
        if cancelled is not None and cancelled.is_set():
            raise StreamCancelled("The client closed the stream.")
        done.wait(min(remaining, CANCEL_POLL) if cancelled is not None else remaining)
    if "error" in outcome:
        error = outcome["error"]
        raise StepFailed(f"{what}: {type(error).__name__}: {error}") from error
    return outcome["value"]


def _non_increasing(hits: list[VectorHit]) -> list[VectorHit]:
    """Hits with scores clipped into [0, 1] and capped by the score before them, so order and scores agree."""
    out, ceiling = [], 1.0
    for hit in hits:
        ceiling = min(ceiling, max(0.0, float(hit.score)))
        out.append(dataclasses.replace(hit, score=ceiling))
    return out


class Nodes:
    """The pipeline's steps for one configuration; the LLM backend and reranker are built on first use."""

    def __init__(self, config: GraphSearchConfig) -> None:
        self.config = config
        self.settings = langgraph_settings(config)

    # -- routing ----------------------------------------------------------------------------------------

    @staticmethod
    def after_analyze(state: PipelineState) -> str:
        return "expand_query" if state["expand"] else "vector_search"

    @staticmethod
    def after_vector_search(state: PipelineState) -> str:
        return "rerank" if state["rerank"] and state["candidates"] else "postprocess"

    def routes(self) -> dict[str, Callable[[PipelineState], str]]:
        """Each step -> the function choosing the next one (shared by the graph and the sequential runner)."""
        return {
            "analyze_query": self.after_analyze,
            "expand_query": lambda state: "vector_search",
            "vector_search": self.after_vector_search,
            "rerank": lambda state: "postprocess",
            "postprocess": lambda state: END,
        }

    # -- failure handling -------------------------------------------------------------------------------

    def _fall_back(self, step: str, error: StepFailed) -> dict[str, Any]:
        if not self.settings.fallback_on_error:
            raise BackendUnavailable(
                f"The {step} step failed ({error}) and GRAPH_SEARCH['LANGGRAPH']['FALLBACK_ON_ERROR'] is False."
            ) from error
        log.warning("The langgraph pipeline answers with plain vector search: %s", error)
        emit("fallback", {"step": step, "error": str(error)})
        return {"fallback": str(error), "rerank": False}

    # -- steps ------------------------------------------------------------------------------------------

    def analyze_query(self, state: PipelineState) -> dict[str, Any]:
        request = state["request"]
        text = " ".join(request.query.split())
        return {
            "query": text[: self.settings.max_query_length],
            "queries": [request.query],
            "expand": bool(self.settings.query_expansion and self.settings.max_expanded_queries > 0 and text
                           and request.vector is None),
            "rerank": self.settings.reranking,
            "deadline": time.monotonic() + self.settings.timeout_seconds,
            "fallback": None,
        }

    def expand_query(self, state: PipelineState) -> dict[str, Any]:
        request, query, limit = state["request"], state["query"], self.settings.max_expanded_queries
        models = request.models or [m.model_label for m in self.config.models]
        try:
            variants = call_with_timeout(lambda: get_llm().expand_query(query, list(models), limit),
                                         state["deadline"] - time.monotonic(), "expand_query")
            if not isinstance(variants, (list, tuple)):
                raise StepFailed(f"expand_query: returned {type(variants).__name__}, not a list of strings")
        except StepFailed as exc:
            return self._fall_back("expand_query", exc)
        seen = {query.lower()}
        queries = [request.query]
        for variant in variants:
            if not isinstance(variant, str):
                continue
            variant = " ".join(variant.split())[: self.settings.max_query_length]
            if variant and variant.lower() not in seen and len(queries) <= limit:
                seen.add(variant.lower())
                queries.append(variant)
        emit("expanded", {"queries": queries})
        return {"queries": queries}

    def vector_search(self, state: PipelineState) -> dict[str, Any]:
        request = state["request"]
        k = max(request.k, self.settings.rerank_top_k) if state["rerank"] else request.k
        queries = [request.query] if request.vector is not None else state["queries"]
        lists = [retrieve(request, k, query=q, announce=False) for q in queries]
        candidates = lists[0] if len(lists) == 1 else reciprocal_rank_fusion(lists, k, rrf_k=DEFAULT_RRF_K)
        emit("vector_search_completed", {"candidates": len(candidates), "queries": len(lists)})
        return {"candidates": candidates, "original_hits": lists[0]}

    def _reranker(self) -> Reranker:
        cfg = self.settings.reranker

        def build() -> Reranker:
            cls = engine.resolve_class("reranker", cfg.backend, Reranker)
            return cls(model_name=cfg.model_name, **cfg.options)

        return engine.shared(("langgraph-reranker", cfg.backend, cfg.model_name), build)

    def rerank(self, state: PipelineState) -> dict[str, Any]:
        candidates, top_k = state["candidates"], self.settings.rerank_top_k
        offered = candidates[:top_k]
        # A similar-search has no query text: the best candidate is the object itself (its own vector).
        query = state["query"] or offered[0].text
        try:
            ranked = call_with_timeout(lambda: list(self._reranker().rerank(query, offered, top_k)),
                                       state["deadline"] - time.monotonic(), "rerank")
            by_id = {hit.id: hit for hit in offered}
            kept = list({hit.id: hit for hit in ranked if getattr(hit, "id", None) in by_id}.values())[:top_k]
        except StepFailed as exc:
            return self._fall_back("rerank", exc)
        except (AttributeError, TypeError) as exc:  # the reranker answered something that is not hits
            return self._fall_back("rerank", StepFailed(f"rerank: unusable answer ({exc})"))
        ranked_ids = {hit.id for hit in kept}
        hits = _non_increasing(kept + [hit for hit in candidates if hit.id not in ranked_ids])
        request = state["request"]
        if request.vector is None and request.mode != "vector" and request.config.hybrid.field_match:
            hits = promote_field_matches(hits, request.query, request.config.hybrid.field_match_min_coverage)
        emit("reranked", {"reranker": self.settings.reranker.backend, "candidates": len(offered)})
        return {"hits": hits}

    def postprocess(self, state: PipelineState) -> dict[str, Any]:
        request = state["request"]
        if state.get("fallback"):
            return {"hits": state.get("original_hits", [])[: request.k]}
        hits = state.get("hits") if state.get("hits") is not None else state["candidates"]
        return {"hits": hits[: request.k]}
