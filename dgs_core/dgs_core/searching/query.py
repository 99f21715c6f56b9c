"""One search, validated once: :class:`SearchQuery` is what every entry point builds and passes down.

The Python API (``search``/``asearch``), the REST views, the stream, the conversation and the admin page all
build a :class:`SearchQuery` from what they were given and hand it to :meth:`Searcher.run
<dgs_core.searching.searcher.Searcher.run>`; each rule (limits, ``min_score``, ``mode``, ``models``, filters,
query length) lives here once, and each error names the parameter at fault.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional, Union

from dgs_core import engine
from dgs_core.conf import SEARCH_MODES, GraphSearchConfig, get_config
from dgs_core.exceptions import InvalidParameterError, UnknownModelError
from dgs_core.filters import Condition
from dgs_core.searching.filters import parse_filters
from dgs_core.searching.text_input import clean_text

log = logging.getLogger("dgs_core.search")

#: An integer as text: ASCII digits only (str.isdigit() also accepts "²", which int() refuses).
_INTEGER = re.compile(r"-?[0-9]+")
#: Digits read as written; a longer number stands for 10**9 of its sign, beyond every bound, so int() never meets
#: Python's limit on the digits it converts and an enormous limit is clamped like any limit above the maximum.
_MAX_DIGITS = 9
#: The deepest page a client may ask for: deeper offsets cost the store k = offset + limit candidates.
MAX_OFFSET = 10_000


def _integer_text(text: str) -> int:
    digits = text.lstrip("-")
    value = int(digits) if len(digits) <= _MAX_DIGITS else 10**_MAX_DIGITS
    return -value if text.startswith("-") else value


def positive_int(name: str, value: Any, maximum: Optional[int] = None, minimum: int = 1) -> int:
    """``value`` as an integer of at least ``minimum`` (ASCII digits in a string are accepted, as a query string
    spells them); above ``maximum`` it is clamped with a logged warning."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
            value = _integer_text(value.strip())
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


def results_limit(config: GraphSearchConfig, limit: Any) -> int:
    """``limit``, else ``DEFAULT_RESULTS_LIMIT``; clamped to the configured maximum."""
    if limit is None:
        return config.default_results_limit
    return positive_int("limit", limit, config.max_results_limit)


def similar_limit(config: GraphSearchConfig, limit: Any) -> int:
    """``limit`` of a similar-objects query, else ``DEFAULT_RESULTS_LIMIT``; clamped to ``MAX_SIMILAR_LIMIT`` (and
    ``MAX_RESULTS_LIMIT``), a lower ceiling than search's: each request is a nearest-neighbour scan of that many."""
    ceiling = min(config.max_similar_limit, config.max_results_limit)
    if limit is None:
        return min(config.default_results_limit, ceiling)
    return positive_int("limit", limit, ceiling)


def resolve_models(config: GraphSearchConfig, models: Union[None, str, Sequence[str]]) -> list[str]:
    """Lower-case labels from a string (comma-separated) or a list; every one must be configured."""
    if models is None or models == "" or models == []:
        return [m.model_label for m in config.models]
    if isinstance(models, str):
        models = [m for m in (p.strip() for p in models.split(",")) if m]
    elif not (isinstance(models, (list, tuple, set)) and all(isinstance(m, str) for m in models)):
        raise InvalidParameterError("models", "'models' must be a model label or a list of labels.")
    labels = []
    for label in models:
        if config.model_config(label) is None:
            configured = ", ".join(m.label for m in config.models) or "none"
            raise UnknownModelError(f"'models': {label!r} is not configured for search (configured: {configured}).")
        labels.append(label.lower())
    return list(dict.fromkeys(labels))


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


def _mode(config: GraphSearchConfig, mode: Any) -> str:
    """``mode``, else ``HYBRID["DEFAULT_MODE"]`` (vector when the store has no keyword search)."""
    capabilities = engine.get_vector_store().capabilities
    if mode is None or mode == "":
        default = config.hybrid.default_mode
        return "vector" if default != "vector" and "keyword" not in capabilities else default
    if mode not in SEARCH_MODES:
        raise InvalidParameterError("mode", f"'mode' must be one of {', '.join(SEARCH_MODES)}; got {mode!r}.")
    if mode != "vector" and "keyword" not in capabilities:
        store = type(engine.get_vector_store()).__name__
        raise InvalidParameterError("mode", f"The vector store {store} has no keyword search, so mode={mode!r} "
                                            "cannot run; use mode='vector' or a store with keyword search.")
    return mode


def query_text(config: GraphSearchConfig, query: Any, parameter: str = "q") -> str:
    """The text to search for, stripped and without NUL characters (:mod:`~dgs_core.searching.text_input`); errors
    name ``parameter`` (the conversation's is ``query``)."""
    if isinstance(query, str):
        query = clean_text(parameter, query)
    if not isinstance(query, str) or not query.strip():
        raise InvalidParameterError(parameter, f"'{parameter}' is required: give the text to search for.")
    if len(query) > config.max_query_length:
        raise InvalidParameterError(
            parameter, f"'{parameter}' is longer than {config.max_query_length} characters; shorten the query."
        )
    return query.strip()


def _filters(config: GraphSearchConfig, filters: Mapping[str, Any], labels: list[str]
             ) -> tuple[list[Condition], list[str]]:
    conditions, searchable = parse_filters(filters, [config.model_config(label) for label in labels])
    store = engine.get_vector_store()
    if "filters" not in store.capabilities:
        raise InvalidParameterError(
            "filters", f"The vector store {type(store).__name__} cannot filter; choose a store that can."
        )
    return conditions, [m.model_label for m in searchable]


@dataclass(frozen=True)
class SearchQuery:
    """A validated search. ``models`` are the lower-case labels to search: those asked for, narrowed to the ones
    that declare every filtered field (so it may be empty: nothing can match)."""

    text: str
    models: tuple[str, ...]
    limit: int
    offset: int = 0
    min_score: Optional[float] = None
    filters: tuple[Condition, ...] = ()
    mode: str = "vector"

    @classmethod
    def build(
        cls,
        q: Any,
        *,
        models: Union[None, str, Sequence[str]] = None,
        limit: Any = None,
        min_score: Any = None,
        offset: Any = 0,
        filters: Optional[Mapping[str, Any]] = None,
        mode: Any = None,
        config: Optional[GraphSearchConfig] = None,
    ) -> SearchQuery:
        """Validate raw arguments (Python values or query-string text); raises :class:`InvalidParameterError`
        naming the parameter, or :class:`UnknownModelError` for a model that is not configured."""
        config = config or get_config()
        text = query_text(config, q)
        mode = _mode(config, mode)
        labels = resolve_models(config, models)
        limit = results_limit(config, limit)
        offset = positive_int("offset", 0 if offset is None else offset, minimum=0)
        if offset > MAX_OFFSET:
            raise InvalidParameterError("offset", f"'offset' must be at most {MAX_OFFSET}.")
        min_score = _min_score(min_score)
        conditions: list[Condition] = []
        if filters:
            conditions, labels = _filters(config, filters, labels)
        return cls(text, tuple(labels), limit, offset, min_score, tuple(conditions), mode)
