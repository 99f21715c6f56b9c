"""The search API: ``search``, ``get_similar`` and the ``Searcher`` behind them."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Optional, Union

import numpy as np
from asgiref.sync import sync_to_async
from django.db import models

from dgs_core import engine
from dgs_core.base import VectorHit, document_id
from dgs_core.conf import GraphSearchConfig, get_config
from dgs_core.exceptions import BackendUnavailable, GraphSearchError
from dgs_core.indexing.chunking import SHOWN_FROM_KEY, shown_text
from dgs_core.indexing.indexer import build_documents, get_plan, model_config_for
from dgs_core.indexing.text import weight_prefix
from dgs_core.plugins import get_registry
from dgs_core.searching.explain import Match, explain
from dgs_core.searching.pipeline import SearchRequest
from dgs_core.searching.query import SearchQuery, resolve_models, similar_limit
from dgs_core.searching.visibility import visible_hits

log = logging.getLogger("dgs_core.search")

_NOT_LOADED = object()


class SearchHit:
    """One result. ``object`` loads the model instance lazily, one query per model for a whole result list."""

    __slots__ = ("model", "pk", "score", "text", "id", "metadata", "_object", "_results", "_matched")

    def __init__(self, hit: VectorHit, pk: Any, results: SearchResults) -> None:
        self.id = hit.id
        self.model = hit.model
        self.pk = pk
        self.score = hit.score
        # Users see the text without the weight prefix (dgs_core.indexing.chunking.shown_text).
        self.text = shown_text(hit.text, hit.metadata)
        self.metadata = {k: v for k, v in hit.metadata.items() if k != SHOWN_FROM_KEY}
        self._object = _NOT_LOADED
        self._matched = _NOT_LOADED
        self._results = results

    @property
    def matched(self) -> Optional[Match]:
        """Why this hit matched: ``.path`` (e.g. ``album__artist__name``) and ``.snippet`` of its best chunk.

        Computed for the whole result list on first access (see :mod:`dgs_core.searching.explain`); ``None`` when
        no value of the hit shares a query word or comes close enough by meaning (the match floor), and when
        ``EXPLAIN_MATCHES`` is "off".
        """
        if self._matched is _NOT_LOADED:
            self._results.explain()
        return self._matched

    @property
    def object(self) -> Optional[models.Model]:
        """The instance, or ``None`` if its row was deleted since it was indexed."""
        if self._object is _NOT_LOADED:
            self._results.hydrate(self.model)
        return self._object

    def as_dict(self) -> dict[str, Any]:
        matched = self.matched
        return {"model": self.model, "pk": self.pk, "score": round(self.score, 6), "text": self.text,
                "matched": matched.as_dict() if matched else None}

    def __repr__(self) -> str:
        return f"<SearchHit {self.model}:{self.pk} score={self.score:.3f}>"


class SearchResults(list):
    """A list of :class:`SearchHit` that loads their objects with one query per model."""

    def __init__(self, config: GraphSearchConfig, query: str = "", mode: str = "vector",
                 query_vector: Optional[np.ndarray] = None) -> None:
        super().__init__()
        self.config = config
        self.query = query
        self.mode = mode  # the mode the hits were found by
        self._query_vector = query_vector  # a similar-search's stored vector, to explain its hits by

    def explain(self) -> None:
        """Set ``matched`` of every hit at once (one batch of value embeddings at most)."""
        hits = [h for h in self if h._matched is _NOT_LOADED]
        if not hits:
            return
        embedder = None
        if self.config.explain_matches == "semantic":
            embedder = engine.get_search_embedder(engine.get_vector_store())
        try:
            found = explain(hits, self.query, self.config.explain_matches, embedder, self._query_vector,
                            self.config.explain_min_similarity)
        except Exception as exc:  # an explanation is a courtesy: never fail the search over it
            log.warning("Explaining %d hits failed: %s", len(hits), exc)
            found = explain(hits, self.query, "lexical")
        for hit, match in zip(hits, found, strict=True):
            hit._matched = match

    @property
    def no_close_match(self) -> bool:
        """True when there are hits but none of them matched the query (by its words, or by meaning above the
        match floor): the nearest rows of a nonsense query, to be shown as "no close match", not as answers.
        Always False when ``EXPLAIN_MATCHES`` is "off", which gives no reasons to judge by."""
        if not self or self.config.explain_matches == "off":
            return False
        return all(hit.matched is None for hit in self)

    def as_body(self, min_score: Optional[float] = None) -> dict[str, Any]:
        """The JSON body of ``GET /api/search/`` for these results (the streamed ``results`` event too)."""
        body: dict[str, Any] = {"query": self.query, "mode": self.mode, "results": [hit.as_dict() for hit in self],
                                "total": len(self)}
        if min_score is not None:
            body["min_score_applied"] = min_score
        return body

    def load_objects(self) -> None:
        """Load every hit's ``object`` now: one query per model."""
        for label in dict.fromkeys(h.model for h in self):
            self.hydrate(label)

    def hydrate(self, model_label: str) -> None:
        hits = [h for h in self if h.model == model_label and h._object is _NOT_LOADED]
        if not hits:
            return
        model = model_config_for(model_label, self.config).model
        found = model._default_manager.in_bulk([h.pk for h in hits])
        for hit in hits:
            hit._object = found.get(hit.pk)


class Searcher:
    """Answers queries against the configured models with the shared embedder, store and pipeline."""

    def __init__(self, config: Optional[GraphSearchConfig] = None) -> None:
        self.config = config or get_config()

    # -- search -----------------------------------------------------------------------------------

    def _retrieve(self, request_kwargs: dict[str, Any]) -> list[VectorHit]:
        try:
            store = engine.get_vector_store()
            embedder = engine.get_search_embedder(store)
            pipeline = get_registry().hook.dgs_search_pipeline(config=self.config)
            return pipeline.search(SearchRequest(config=self.config, embedder=embedder, store=store, **request_kwargs))
        except GraphSearchError:
            raise
        except Exception as exc:
            # Engines raise their own error types (connection refused, timeouts, missing files).
            raise BackendUnavailable(f"The search backend failed: {type(exc).__name__}: {exc}") from exc

    def _results(self, hits: list[VectorHit], query: str, mode: str = "vector",
                 query_vector: Optional[np.ndarray] = None) -> SearchResults:
        """``query_vector``: the query's embedding (or a similar-search's stored vector), to explain hits by."""
        results = SearchResults(self.config, query, mode, query_vector)
        for hit in hits:
            pk_field = model_config_for(hit.model, self.config).model._meta.pk
            try:
                pk = pk_field.to_python(hit.pk)
            except Exception:  # a stored pk the field can no longer parse: keep the stored string
                pk = hit.pk
            results.append(SearchHit(hit, pk if not hasattr(pk, "hex") else str(pk), results))
        return results

    def search(
        self,
        query: str,
        models: Union[None, str, Sequence[str]] = None,
        limit: Optional[int] = None,
        min_score: Optional[float] = None,
        offset: int = 0,
        filters: Optional[Mapping[str, Any]] = None,
        request: Any = None,
        mode: Optional[str] = None,
    ) -> SearchResults:
        """Hits for ``query``, best first; ``filters`` use Django-style lookups on declared ``filter_fields``.

        ``mode`` is "vector", "keyword" or "hybrid" (both, fused by reciprocal rank); the default is
        ``HYBRID["DEFAULT_MODE"]``. With ``request``, each model's ``search_queryset`` hook hides the rows
        that request may not see. Each hit's ``matched`` says which path matched, with a snippet.
        """
        return self.run(SearchQuery.build(query, models=models, limit=limit, min_score=min_score, offset=offset,
                                          filters=filters, mode=mode, config=self.config), request)

    def run(self, query: SearchQuery, request: Any = None) -> SearchResults:
        """Hits for a validated :class:`SearchQuery`; with ``request``, only the rows it may see.

        The query is embedded once per search, however often visibility filtering asks the pipeline for more
        candidates, and ``matched`` explains the hits with that same vector.
        """
        if not query.models:  # no searched model declares all the filtered fields together
            return SearchResults(self.config, query.text)
        query_vectors: dict[str, np.ndarray] = {}
        base = {"query": query.text, "models": list(query.models), "min_score": query.min_score,
                "filters": list(query.filters) or None, "mode": query.mode, "query_vectors": query_vectors}
        end = query.offset + query.limit
        hits = visible_hits(lambda k: self._retrieve({**base, "k": k}), end, request, self.config)
        return self._results(hits[query.offset : end], query.text, query.mode, query_vectors.get(query.text))

    def similar(
        self,
        instance: models.Model,
        limit: Optional[int] = None,
        models: Union[None, str, Sequence[str]] = None,
        request: Any = None,
    ) -> SearchResults:
        """Nearest neighbours of ``instance`` (default: of its own model), never the instance itself.

        Reuses the stored vector; an instance that is not indexed yet is embedded on the fly. With
        ``request``, each model's ``search_queryset`` hook hides the rows that request may not see.
        """
        model_config = model_config_for(instance, self.config)
        limit = similar_limit(self.config, limit)
        labels = resolve_models(self.config, models) if models else [model_config.model_label]
        own_id = document_id(model_config.model_label, instance.pk)
        try:
            vector = engine.get_vector_store().get_vectors([own_id]).get(own_id)
        except Exception as exc:
            raise BackendUnavailable(f"The vector store failed: {type(exc).__name__}: {exc}") from exc
        query = ""
        if vector is None:
            plan = get_plan(model_config)
            documents = build_documents(plan, list(plan.queryset().filter(pk=instance.pk)), self.config)
            query = documents[0].text if documents and documents[0].text else str(instance)
            read = weight_prefix(documents[0].sections) + query if documents and documents[0].text else query
            try:
                store = engine.get_vector_store()
                vector = engine.get_search_embedder(store).embed_documents([read])[0]
            except Exception as exc:
                raise BackendUnavailable(f"The embedder failed: {type(exc).__name__}: {exc}") from exc
        base = {"query": query, "models": labels, "min_score": None, "vector": vector}
        hits = visible_hits(lambda k: self._retrieve({**base, "k": k}), limit, request, self.config, exclude_id=own_id)
        return self._results(hits, "", "vector", vector)


def search(
    query: str,
    models: Union[None, str, Sequence[str]] = None,
    limit: Optional[int] = None,
    min_score: Optional[float] = None,
    offset: int = 0,
    filters: Optional[Mapping[str, Any]] = None,
    request: Any = None,
    mode: Optional[str] = None,
) -> SearchResults:
    """Search the configured models for ``query``; see :meth:`Searcher.search`."""
    return Searcher().search(query, models=models, limit=limit, min_score=min_score, offset=offset, filters=filters,
                             request=request, mode=mode)


def get_similar(instance: models.Model, limit: Optional[int] = None, models=None, request: Any = None) -> SearchResults:
    """Objects most like ``instance``; see :meth:`Searcher.similar`."""
    return Searcher().similar(instance, limit=limit, models=models, request=request)


def _complete(results: SearchResults) -> SearchResults:
    """Everything a hit may load lazily, loaded now (async code cannot touch the database later)."""
    results.explain()
    results.load_objects()
    return results


async def asearch(
    query: str,
    models: Union[None, str, Sequence[str]] = None,
    limit: Optional[int] = None,
    min_score: Optional[float] = None,
    offset: int = 0,
    filters: Optional[Mapping[str, Any]] = None,
    request: Any = None,
    mode: Optional[str] = None,
) -> SearchResults:
    """:func:`search` for async code: embedding, store and database calls run in a worker thread (Django's
    ``sync_to_async``, one thread per request under ASGI), so the event loop keeps serving while a search
    runs. ``matched`` and ``object`` of every hit are loaded there too."""
    def run() -> SearchResults:
        return _complete(search(query, models=models, limit=limit, min_score=min_score, offset=offset,
                                filters=filters, request=request, mode=mode))

    return await sync_to_async(run)()


async def aget_similar(instance: models.Model, limit: Optional[int] = None, models=None,
                       request: Any = None) -> SearchResults:
    """:func:`get_similar` for async code (see :func:`asearch`)."""
    def run() -> SearchResults:
        return _complete(get_similar(instance, limit=limit, models=models, request=request))

    return await sync_to_async(run)()
