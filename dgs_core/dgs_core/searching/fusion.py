"""Reciprocal rank fusion (RRF): how hybrid search, and query expansion, merge ranked lists.

RRF (Cormack, Clarke and Büttcher, 2009) scores a document ``sum(weight / (k + rank))`` over the lists
that hold it, ignoring the lists' own scores — which is what makes BM25's unbounded relevance and cosine
similarity combinable. dgs divides by the best possible total (first in every list), so a fused score
is in [0, 1] and 1 means "first everywhere".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from dgs_core.base import VectorHit

#: The ``k`` of the original paper; larger values flatten the difference between top ranks.
DEFAULT_RRF_K = 60


def reciprocal_rank_fusion(
    lists: Sequence[Sequence[VectorHit]],
    limit: int,
    *,
    weights: Sequence[float] | None = None,
    rrf_k: int = DEFAULT_RRF_K,
) -> list[VectorHit]:
    """The ``limit`` best hits of ``lists`` (each best first) by weighted RRF, scores scaled into [0, 1].

    A hit keeps the fields (text, metadata) of the first list that holds it; ties keep first-seen order.
    """
    weights = list(weights) if weights is not None else [1.0] * len(lists)
    if len(weights) != len(lists):
        raise ValueError(f"reciprocal_rank_fusion got {len(lists)} lists but {len(weights)} weights.")
    best = sum(w / (rrf_k + 1) for w in weights)
    if best <= 0:
        return []
    totals: dict[str, float] = {}
    hits: dict[str, VectorHit] = {}
    for ranked, weight in zip(lists, weights, strict=True):
        for rank, hit in enumerate(ranked, start=1):
            totals[hit.id] = totals.get(hit.id, 0.0) + weight / (rrf_k + rank)
            hits.setdefault(hit.id, hit)
    order = sorted(hits, key=lambda doc_id: -totals[doc_id])
    return [dataclasses.replace(hits[doc_id], score=min(1.0, totals[doc_id] / best)) for doc_id in order[:limit]]
