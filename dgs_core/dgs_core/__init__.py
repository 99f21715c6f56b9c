"""dgs: graph-aware semantic search for Django.

The public API (``search``, ``asearch``, ``index``, ``delete``, ``get_similar``, ``Searcher``) is imported lazily so
that ``import dgs_core`` stays cheap and safe before Django's app registry is ready.
"""

from __future__ import annotations

from typing import Any

import pluggy

__version__ = "0.1.0"

#: Mark plugin functions with ``@dgs_core.hookimpl``.
hookimpl = pluggy.HookimplMarker("dgs")

_LAZY = {
    "search": "dgs_core.searching.searcher",
    "asearch": "dgs_core.searching.searcher",
    "get_similar": "dgs_core.searching.searcher",
    "aget_similar": "dgs_core.searching.searcher",
    "Searcher": "dgs_core.searching.searcher",
    "SearchHit": "dgs_core.searching.searcher",
    "index": "dgs_core.indexing.indexer",
    "delete": "dgs_core.indexing.indexer",
    "reindex_queryset": "dgs_core.indexing.indexer",
}

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
