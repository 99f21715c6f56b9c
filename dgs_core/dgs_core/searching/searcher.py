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
from dgs_core.conf import SEARCH_MODES, GraphSearchConfig, get_config
from dgs_core.exceptions import BackendUnavailable, GraphSearchError, InvalidParameterError, UnknownModelError
from dgs_core.filters import Condition
from dgs_core.indexing.indexer import build_documents, get_plan, model_config_for
from dgs_core.plugins import get_registry
from dgs_core.searching.explain import Match, explain
from dgs_core.searching.filters import parse_filters
from dgs_core.searching.pipeline import SearchRequest
from dgs_core.searching.visibility import visible_hits

log = logging.getLogger("dgs_core.search")

_NOT_LOADED = object()
#: The deepest page a client may ask for: deeper offsets cost the store k = offset + limit candidates.
MAX_OFFSET = 10_000


class SearchHit:
    """One result. ``object`` loads the model instance lazily, one query per model for a whole result list."""

    __slots__ = ("model", "pk", "score", "text", "id", "metadata", "_object", "_results", "_matched")

    def __init__(self, hit: VectorHit, pk: Any, results: SearchResults) -> None:
        self.id = hit.id
        self.model = hit.model
        self.pk = pk
        self.score = hit.score
        self.text = hit.text
        self.metadata = hit.metadata
        self._object = _NOT_LOADED
        self._matched = _NOT_LOADED
        self._results = results

    @property
    def matched(self) -> Optional[Match]:
        """Why this hit matched: ``.path`` (e.g. ``album__artist__name``) and ``.snippet`` of its best chunk.

        Computed for the whole result list on first access (see :mod:`dgs_core.searching.explain`); ``None`` when
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
            found = explain(hits, self.query, self.config.explain_matches, embedder, self._query_vector)
        except Exception as exc:  # an explanation is a courtesy: never fail the search over it
            log.warning("Explaining %d hits failed: %s", len(hits), exc)
            found = explain(hits, self.query, "lexical")
        for hit, match in zip(hits, found, strict=True):
            hit._matched = match

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


def _positive_int(name: str, value: Any, maximum: Optional[int] = None, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        else:
            raise InvalidParameterError(name, f"'{name}' must be a positive integer." if minimum else
                                        f"'{name}' must be a non-negative integer.")
    if value < minimum:
        raise InvalidParameterError(name, f"'{name}' must be a positive integer." if minimum else
                                    f"'{name}' must be a non-negative integer.")
    if maximum is not None and value > maximum:
        log.warning("'%s' of %d is above the maximum of %d; using %d.", name, value, maximum, maximum)
        value = maximum
    return value


class Searcher:
    """Answers queries against the configured models with the shared embedder, store and pipeline."""

    def __init__(self, config: Optional[GraphSearchConfig] = None) -> None:
        self.config = config or get_config()

    # -- argument validation ----------------------------------------------------------------------

    def resolve_models(self, models: Union[None, str, Sequence[str]]) -> list[str]:
        """Lower-case labels from a string (comma-separated) or a list; every one must be configured."""
        if models is None or models == "" or models == []:
            return [m.model_label for m in self.config.models]
        if isinstance(models, str):
            models = [m for m in (p.strip() for p in models.split(",")) if m]
        elif not (isinstance(models, (list, tuple, set)) and all(isinstance(m, str) for m in models)):
            raise InvalidParameterError("models", "'models' must be a model label or a list of labels.")
        labels = []
        for label in models:
            if self.config.model_config(label) is None:
                configured = ", ".join(m.label for m in self.config.models) or "none"
                raise UnknownModelError(f"'models': {label!r} is not configured for search (configured: {configured}).")
            labels.append(label.lower())
        return list(dict.fromkeys(labels))

    def _limit(self, limit: Any) -> int:
        if limit is None:
            return self.config.default_results_limit
        return _positive_int("limit", limit, self.config.max_results_limit)

    @staticmethod
    def _min_score(min_score: Any) -> Optional[float]:
        if min_score is None:
            return None
        try:
            value = float(min_score)
        except (TypeError, ValueError):
            raise InvalidParameterError("min_score", "'min_score' must be a number between 0 and 1.") from None
        if isinstance(min_score, bool) or not 0.0 <= value <= 1.0:
            raise InvalidParameterError("min_score", "'min_score' must be a number between 0 and 1.")
        return value

    def _filters(self, filters: Mapping[str, Any], labels: list[str]) -> tuple[list[Condition], list[str]]:
        conditions, searchable = parse_filters(filters, [self.config.model_config(label) for label in labels])
        store = engine.get_vector_store()
        if "filters" not in store.capabilities:
            raise InvalidParameterError(
                "filters", f"The vector store {type(store).__name__} cannot filter; choose a store that can."
            )
        return conditions, [m.model_label for m in searchable]

    def _mode(self, mode: Any) -> str:
        """``mode``, else ``HYBRID["DEFAULT_MODE"]`` (vector when the store has no keyword search)."""
        if mode is None or mode == "":
            default = self.config.hybrid.default_mode
            if default != "vector" and "keyword" not in engine.get_vector_store().capabilities:
                return "vector"
            return default
        if mode not in SEARCH_MODES:
            raise InvalidParameterError("mode", f"'mode' must be one of {', '.join(SEARCH_MODES)}; got {mode!r}.")
        if mode != "vector" and "keyword" not in engine.get_vector_store().capabilities:
            store = type(engine.get_vector_store()).__name__
            raise InvalidParameterError("mode", f"The vector store {store} has no keyword search, so mode={mode!r} "
                                                "cannot run; use mode='vector' or a store with keyword search.")
        return mode

    def _query(self, query: Any) -> str:
        if not isinstance(query, str) or not query.strip():
            raise InvalidParameterError("q", "'q' is required: give the text to search for.")
        if len(query) > self.config.max_query_length:
            raise InvalidParameterError(
                "q", f"'q' is longer than {self.config.max_query_length} characters; shorten the query."
            )
        return query.strip()

    # -- search -----------------------------------------------------------------------------------

    def _run(self, request_kwargs: dict[str, Any]) -> list[VectorHit]:
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
        query = self._query(query)
        mode = self._mode(mode)
        labels = self.resolve_models(models)
        limit = self._limit(limit)
        offset = _positive_int("offset", offset, minimum=0)
        min_score = self._min_score(min_score)
        conditions = None
        if filters:
            conditions, labels = self._filters(filters, labels)
            if not labels:  # no searched model declares all the filtered fields together
                return SearchResults(self.config, query)
        base = {"query": query, "models": labels, "min_score": min_score, "filters": conditions, "mode": mode}
        hits = visible_hits(lambda k: self._run({**base, "k": k}), offset + limit, request, self.config)
        return self._results(hits[offset : offset + limit], query, mode)

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
        limit = self._limit(limit)
        labels = self.resolve_models(models) if models else [model_config.model_label]
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
            try:
                store = engine.get_vector_store()
                vector = engine.get_search_embedder(store).embed_documents([query])[0]
            except Exception as exc:
                raise BackendUnavailable(f"The embedder failed: {type(exc).__name__}: {exc}") from exc
        base = {"query": query, "models": labels, "min_score": None, "vector": vector}
        hits = visible_hits(lambda k: self._run({**base, "k": k}), limit, request, self.config, exclude_id=own_id)
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
