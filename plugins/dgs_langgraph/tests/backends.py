"""LLM backends a project could write itself: plain classes with the two methods, no dgs base class."""

import dataclasses


class ReversingLLM:
    """Offers no variants and ranks the candidates it is given in reverse order."""

    def __init__(self, model=None, **options):
        self.model = model

    def expand_query(self, query, models, max_variants):
        return []

    def rerank(self, query, candidates, top_k):
        ranked = list(reversed(candidates))[:top_k]
        return [dataclasses.replace(hit, score=1.0 - i / len(ranked)) for i, hit in enumerate(ranked)]


class InventingLLM(ReversingLLM):
    """Ranks a document it was never offered first, then the real candidates."""

    def rerank(self, query, candidates, top_k):
        invented = dataclasses.replace(candidates[0], id="catalog.track:999999", pk="999999")
        return [invented, *super().rerank(query, candidates, top_k)]
