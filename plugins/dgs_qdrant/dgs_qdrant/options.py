"""``VECTOR_STORE["OPTIONS"]`` of the qdrant store, declared once (see :mod:`dgs_core.options`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Optional

from dgs_core.base import VectorStore
from dgs_core.options import option
from dgs_qdrant.clients import MEMORY, Location

#: Characters Qdrant refuses in collection names.
_FORBIDDEN_IN_NAMES = set('<>:"/\\|?*\0\x1f')
#: Options of a connection to a server, which embedded (local) mode has none of.
_SERVER_ONLY = ("api_key", "prefer_grpc", "grpc_port", "timeout", "on_disk", "hnsw_ef")


@dataclass(frozen=True)
class QdrantOptions(VectorStore.Options):
    """The options; ``collection`` is the rebuild generation core passes (``""``: the default one)."""

    url: Optional[str] = option(None, min=1, help="a Qdrant server or cluster, e.g. 'http://localhost:6333'")
    api_key: Optional[str] = option(None, min=1, help="the server's API key")
    prefer_grpc: Optional[bool] = option(None, help="talk gRPC to the server (default False)")
    grpc_port: Optional[int] = option(None, positive=True, help="the server's gRPC port (default 6334)")
    timeout: Optional[int] = option(None, positive=True, unit="seconds", help="of each request to the server")
    on_disk: Optional[bool] = option(None, help="keep the vectors of new collections on disk")
    hnsw_ef: Optional[int] = option(None, positive=True, help="HNSW search breadth")
    path: Optional[str] = option(None, min=1, help="embedded mode (Qdrant Edge): a directory, or ':memory:'")
    collection_name: str = option("dgs", min=1, help="the Qdrant collection (and the alias of rebuilds)")
    distance: Any = option(None, listed=False, help="django_graph_search's option; dgs always uses cosine")

    def __post_init__(self) -> None:
        if self.distance is not None and str(self.distance).lower() not in ("cosine", "cos"):
            raise ValueError(f"{{distance}} is {self.distance!r}; dgs-qdrant always uses cosine distance, so that "
                             "scores compare across stores. Remove the option.")
        if bool(self.url) == bool(self.path):
            raise ValueError("The qdrant store needs exactly one of {url} (a Qdrant server or cluster, e.g. "
                             "'http://localhost:6333') and {path} (embedded mode, Qdrant Edge: a directory, or "
                             "':memory:').")
        server = [name for name in _SERVER_ONLY if getattr(self, name) is not None]
        if self.path and server:
            raise ValueError(f"{', '.join(f'{{{name}}}' for name in server)} apply to a Qdrant server (URL); embedded "
                             "mode (PATH) runs Qdrant Edge in this process: there is no connection to configure. "
                             "Remove them, or use URL.")
        for name in ("collection_name", "collection"):
            value = getattr(self, name)
            if _FORBIDDEN_IN_NAMES & set(value) or len(value) > 200:
                raise ValueError(f"{{{name}}} is {value!r}; Qdrant collection names are at most 255 characters (dgs "
                                 "appends a rebuild suffix) and contain none of < > : \" / \\ | ? *.")
        if self.path and self.path != MEMORY and os.path.isfile(self.path):
            raise ValueError(f"{{path}} is {self.path!r}, a file; local mode keeps a directory there. Point PATH at "
                             "a directory (it is created if missing), or use ':memory:'.")

    @property
    def location(self) -> Location:
        """Where the collections live."""
        path = None if self.path is None else MEMORY if self.path == MEMORY else os.path.abspath(self.path)
        return Location(url=self.url, api_key=self.api_key, prefer_grpc=bool(self.prefer_grpc),
                        grpc_port=self.grpc_port or 6334, timeout=self.timeout, path=path)

    @property
    def qdrant_collection(self) -> str:
        """``<COLLECTION_NAME>`` for the default collection, ``<COLLECTION_NAME>_<collection>`` for a rebuild."""
        return f"{self.collection_name}_{self.collection}" if self.collection else self.collection_name
