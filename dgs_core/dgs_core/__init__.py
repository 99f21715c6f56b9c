"""dgs: graph-aware semantic search for Django.

The public API (``search``, ``asearch``, ``index``, ``delete``, ``get_similar``, ``Searcher``) is imported lazily so
that ``import dgs_core`` stays cheap and safe before Django's app registry is ready.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

__version__ = "0.1.0"

#: Mark plugin functions with ``@dgs_core.hookimpl``.
hookimpl = pluggy.HookimplMarker("dgs")

_LAZY = {
    "search": "dgs_core.searching",
    "asearch": "dgs_core.searching",
    "get_similar": "dgs_core.searching",
    "aget_similar": "dgs_core.searching",
    "Searcher": "dgs_core.searching",
    "SearchHit": "dgs_core.searching",
    "index": "dgs_core.indexing",
    "delete": "dgs_core.indexing",
    "reindex_queryset": "dgs_core.indexing",
}

if TYPE_CHECKING:
    from dgs_core.indexing import delete, index, reindex_queryset
    from dgs_core.searching import Searcher, SearchHit, aget_similar, asearch, get_similar, search


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dgs_core' has no attribute {name!r}")


__all__ = [
    "Searcher",
    "SearchHit",
    "aget_similar",
    "asearch",
    "delete",
    "get_similar",
    "hookimpl",
    "index",
    "reindex_queryset",
    "search",
]
