"""The search pipeline contract, the retrieval legs every pipeline uses, and core's default pipeline.

A search ``mode`` chooses the legs: ``vector`` (nearest neighbours of the query embedding), ``keyword``
(the store's lexical engine, :meth:`~dgs_core.base.VectorStore.keyword_search`) or ``hybrid`` (both,
fused by reciprocal rank, :mod:`dgs_core.searching.fusion`). In the keyword and hybrid modes, candidates
holding a field value the query names whole come first (:mod:`dgs_core.searching.phrases`). Stores hold one
entry per chunk of a long document (:mod:`dgs_core.indexing.chunking`); each leg collapses them to one hit per
object, its best chunk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Optional, Protocol

import numpy as np

from dgs_core.base import Embedder, VectorHit, VectorStore
from dgs_core.conf import GraphSearchConfig
from dgs_core.filters import Condition
from dgs_core.indexing.chunking import collapse
from dgs_core.searching.events import emit
from dgs_core.searching.fusion import reciprocal_rank_fusion
from dgs_core.searching.phrases import promote_field_matches

#: A leg asks for at most this many times ``k`` entries while collapsing chunks into ``k`` objects.
MAX_OVERFETCH = 64


@dataclass
class SearchRequest:
    """What a pipeline is asked: ``k`` candidates for ``query`` (or for ``vector`` when given)."""

    query: str
    k: int
    models: Optional[list[str]]  # lower-case labels; None means every configured model
    min_score: Optional[float]
    config: GraphSearchConfig
    embedder: Embedder
    store: VectorStore
    vector: Optional[np.ndarray] = None
    filters: Optional[list[Condition]] = None
    mode: str = "vector"  # one of conf.SEARCH_MODES; a request with a ``vector`` is always searched by vector
    #: Embeddings of query texts made for this search, shared by every request of one search (visibility
    #: filtering may ask again for more candidates) and by its explanations: a paid embedder is called once.
    query_vectors: dict[str, np.ndarray] = field(default_factory=dict)

    def embed_query(self, text: str) -> np.ndarray:
        """The embedding of ``text`` (a query or one of its expansions), made at most once per search."""
        if text not in self.query_vectors:
            self.query_vectors[text] = self.embedder.embed_query(text)
        return self.query_vectors[text]


@dataclass(frozen=True)
class RerankedSearch:
    """A plugin's answer to ``dgs_reranked_search``: the configuration whose pipeline reranks, and what it does."""

    config: GraphSearchConfig
    note: str  # what reranks what, e.g. "<plugin> reranker 'cross-encoder' over the best 20 candidates"
    unavailable: Optional[str] = None  # why it cannot run here, e.g. its reranker's plugin is not installed


class SearchPipeline(Protocol):
    """What ``dgs_search_pipeline`` returns. A pipeline whose steps call slow services (a language model) also has
    ``time_budget``: the seconds those calls of one search may take together, which a stream waits for."""

    def search(self, request: SearchRequest) -> list[VectorHit]:
        """Hits for the request, best first, at most ``request.k``, none under ``min_score``."""


def _objects(fetch: Callable[[int], list[VectorHit]], k: int) -> list[VectorHit]:
    """``k`` objects from a leg whose entries may be several chunks of one object: ask for more entries
    until ``k`` distinct objects come back or the leg has no more."""
    wanted = k
    while True:
        entries = fetch(wanted)
        hits = collapse(entries)
        if len(hits) >= k or len(entries) < wanted or wanted >= k * MAX_OVERFETCH:
            return hits[:k]
        wanted *= 4


def probe(request: SearchRequest, vector: np.ndarray, k: int, *, apply_min_score: bool = True) -> list[VectorHit]:
    """The ``k`` nearest objects to ``vector`` under the request's models and filters (none under
    ``min_score`` unless ``apply_min_score`` is false)."""
    store, models, filters = request.store, request.models, request.filters

    def fetch(n: int) -> list[VectorHit]:
        return store.search(vector, n, models=models, filters=filters) if filters else store.search(
            vector, n, models=models)

    hits = _objects(fetch, k)
    if apply_min_score and request.min_score is not None:
        hits = [h for h in hits if h.score >= request.min_score]
    return hits


def keyword_probe(request: SearchRequest, query: str, k: int) -> list[VectorHit]:
    """The ``k`` best objects for ``query`` by the store's lexical engine, under the request's models and filters."""
    store, models, filters = request.store, request.models, request.filters
    return _objects(lambda n: store.keyword_search(query, n, models=models, filters=filters), k)


def retrieve(request: SearchRequest, k: int, query: Optional[str] = None, vector: Optional[np.ndarray] = None,
             announce: bool = True) -> list[VectorHit]:
    """The ``k`` best objects for ``query`` (default: the request's) by the request's mode.

    ``vector`` is the query's embedding when the caller has it; a request's own ``vector`` (similar
    search) is always searched by vector. Fused scores are in [0, 1] and ``min_score`` applies to them.
    Each leg emits ``vector_search_completed`` / ``keyword_search_completed`` unless ``announce`` is
    false (a pipeline that runs several retrievals reports them itself).
    """
    def report(event: str, hits: list[VectorHit]) -> None:
        if announce:
            emit(event, {"candidates": len(hits)})

    query = request.query if query is None else query
    mode = "vector" if request.vector is not None else request.mode
    if mode != "keyword" and vector is None:
        vector = request.vector if request.vector is not None else request.embed_query(query)
    if mode == "vector":
        hits = probe(request, vector, k)
        report("vector_search_completed", hits)
        return hits
    settings = request.config.hybrid
    # Field matching reorders a pool deeper than the page: rows naming the query whole may rank below it.
    depth = max(k, settings.candidates) if mode == "hybrid" or settings.field_match else k
    if mode == "keyword":
        lists, weights = [keyword_probe(request, query, depth)], [1.0]
    else:
        lists = [probe(request, vector, depth, apply_min_score=False), keyword_probe(request, query, depth)]
        weights = [settings.weights.get("vector", 1.0), settings.weights.get("keyword", 1.0)]
        report("vector_search_completed", lists[0])
    report("keyword_search_completed", lists[-1])
    hits = reciprocal_rank_fusion(lists, sum(map(len, lists)), weights=weights, rrf_k=settings.rrf_k)
    if settings.field_match:
        hits = promote_field_matches(hits, query, settings.field_match_min_coverage)
    hits = hits[:k]
    if request.min_score is not None:
        hits = [h for h in hits if h.score >= request.min_score]
    return hits


class VectorSearchPipeline:
    """Core's pipeline: retrieve by the request's mode (vector, keyword or hybrid), nothing else."""

    def search(self, request: SearchRequest) -> list[VectorHit]:
        return retrieve(request, request.k)
