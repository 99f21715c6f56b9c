"""Row-level visibility: a model's ``search_queryset`` hook decides which of its rows a request may see.

``{"model": "shop.Product", "search_queryset": "shop.search.visible_products"}`` names a callable
``(request, queryset) -> queryset``. REST search and similar and the admin pass the request; the hook then
filters hits *before* ``limit`` applies: candidates are fetched from the store in growing rounds until
``limit`` visible hits are found or the store has no more. Without a request (the Python API called
from code) every row of a configured model is visible.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional

from django.db.models import QuerySet
from django.utils.module_loading import import_string

from dgs_core.base import VectorHit
from dgs_core.conf import GraphSearchConfig, ModelConfig

#: How far down the ranking results for a restricted user are looked for, in candidates.
MAX_CANDIDATES = 10_000
#: Each round asks the store for this many times more candidates than the last.
GROWTH = 4


def visible_queryset(model_config: ModelConfig, request: Any) -> QuerySet:
    """The rows of ``model_config``'s model that ``request`` may see (all rows without a hook or request)."""
    queryset = model_config.model._default_manager.all()
    if model_config.search_queryset and request is not None:
        queryset = import_string(model_config.search_queryset)(request, queryset)
    return queryset


def _keep_visible(hits: list[VectorHit], request: Any, config: GraphSearchConfig) -> list[VectorHit]:
    """``hits`` without those whose rows the hooks hide; one query per restricted model."""
    allowed: dict[str, set[str]] = {}
    for label in {h.model for h in hits}:
        model_config = config.model_config(label)
        if model_config is None or not model_config.search_queryset:
            continue
        pk_field = model_config.model._meta.pk
        pks = []
        for hit in hits:
            if hit.model == label:
                try:
                    pks.append(pk_field.to_python(hit.pk))
                except Exception:  # a stored pk the field no longer parses cannot be shown
                    continue
        rows = visible_queryset(model_config, request).filter(pk__in=pks).values_list("pk", flat=True)
        allowed[label] = {str(pk) for pk in rows}
    return [h for h in hits if h.model not in allowed or _stored_pk(h, config) in allowed[h.model]]


def _stored_pk(hit: VectorHit, config: GraphSearchConfig) -> Optional[str]:
    try:
        return str(config.model_config(hit.model).model._meta.pk.to_python(hit.pk))
    except Exception:
        return None


def visible_hits(
    run: Callable[[int], list[VectorHit]],
    wanted: int,
    request: Any,
    config: GraphSearchConfig,
    exclude_id: Optional[str] = None,
) -> list[VectorHit]:
    """Up to ``wanted`` hits that ``request`` may see, best first.

    ``run(k)`` returns the best ``k`` candidates; ``exclude_id`` (the object of a similar-search) is
    never returned. Without a request or any hook on the searched models this is one call of ``run``.
    """
    restricted = request is not None and any(m.search_queryset for m in config.models)
    k = wanted + (1 if exclude_id else 0)
    while True:
        hits = run(k)
        candidates = [h for h in hits if h.id != exclude_id]
        visible = _keep_visible(candidates, request, config) if restricted else candidates
        if len(visible) >= wanted or len(hits) < k or k >= MAX_CANDIDATES:
            return visible[:wanted]
        k = min(k * GROWTH, MAX_CANDIDATES)
