"""The search pipeline contract and core's default: plain vector search."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Protocol

import numpy as np

from dgs_core.base import Embedder, VectorHit, VectorStore
from dgs_core.conf import GraphSearchConfig
from dgs_core.filters import Condition
from dgs_core.streaming import emit


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


class SearchPipeline(Protocol):
    def search(self, request: SearchRequest) -> list[VectorHit]:
        """Hits for the request, best first, at most ``request.k``, none under ``min_score``."""


def probe(request: SearchRequest, vector: np.ndarray, k: int) -> list[VectorHit]:
    """The ``k`` nearest documents to ``vector`` under the request's models and filters, none under ``min_score``."""
    if request.filters:
        hits = request.store.search(vector, k, models=request.models, filters=request.filters)
    else:
        hits = request.store.search(vector, k, models=request.models)
    if request.min_score is not None:
        hits = [h for h in hits if h.score >= request.min_score]
    return hits


class VectorSearchPipeline:
    """Embed the query (unless a vector is given), probe the store, drop hits under ``min_score``."""

    def search(self, request: SearchRequest) -> list[VectorHit]:
        vector = request.vector if request.vector is not None else request.embedder.embed_query(request.query)
        hits = probe(request, vector, request.k)
        emit("vector_search_completed", {"candidates": len(hits)})
        return hits
