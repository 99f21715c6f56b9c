"""``VECTOR_STORE["OPTIONS"]`` of the qdrant store, checked once so that every mistake names its option."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Optional

from dgs_core.exceptions import ConfigurationError
from dgs_qdrant.clients import MEMORY, Location

#: Characters Qdrant refuses in collection names.
_FORBIDDEN_IN_NAMES = set('<>:"/\\|?*\0\x1f')
_SERVER_ONLY = ("api_key", "prefer_grpc", "grpc_port", "timeout", "on_disk", "hnsw_ef")
_ACCEPTED = (
    "URL, API_KEY, PREFER_GRPC, GRPC_PORT, TIMEOUT, ON_DISK, HNSW_EF (a Qdrant server), PATH (local mode: a "
    "directory or ':memory:'), COLLECTION_NAME"
)


def _option(name: str) -> str:
    return f"VECTOR_STORE['OPTIONS']['{name.upper()}']"


@dataclass(frozen=True)
class QdrantOptions:
    """The parsed options; ``collection`` is the rebuild generation core passes (``""``: the default one)."""

    location: Location
    collection_name: str = "dgs"
    collection: str = ""
    on_disk: Optional[bool] = None
    hnsw_ef: Optional[int] = None

    @property
    def qdrant_collection(self) -> str:
        """``<COLLECTION_NAME>`` for the default collection, ``<COLLECTION_NAME>_<collection>`` for a rebuild."""
        return f"{self.collection_name}_{self.collection}" if self.collection else self.collection_name

    @classmethod
    def parse(cls, options: dict[str, Any]) -> QdrantOptions:
        options = dict(options)
        url, path = options.pop("url", None), options.pop("path", None)
        distance = options.pop("distance", None)  # django_graph_search's option; dgs always uses cosine
        if distance is not None and str(distance).lower() not in ("cosine", "cos"):
            raise ConfigurationError(
                f"{_option('distance')} is {distance!r}; dgs-qdrant always uses cosine distance, so that scores "
                "compare across stores. Remove the option."
            )
        server = {k: options.pop(k) for k in _SERVER_ONLY if options.get(k) is not None}
        collection_name = options.pop("collection_name", "dgs")
        collection = options.pop("collection", "") or ""
        if options:
            raise ConfigurationError(
                f"VECTOR_STORE['OPTIONS'] for the qdrant store has unknown keys {sorted(k.upper() for k in options)}; "
                f"it accepts {_ACCEPTED}."
            )
        if bool(url) == bool(path):
            raise ConfigurationError(
                f"The qdrant store needs exactly one of {_option('url')} (a Qdrant server or cluster, e.g. "
                f"'http://localhost:6333') and {_option('path')} (local mode: a directory, or ':memory:')."
            )
        if path and server:
            raise ConfigurationError(
                f"{', '.join(_option(k) for k in server)} apply to a Qdrant server (URL); local mode (PATH) has no "
                "connection to configure and always searches exactly. Remove them, or use URL."
            )
        location = Location(
            url=_text("url", url) if url else None,
            api_key=_text("api_key", server["api_key"]) if "api_key" in server else None,
            prefer_grpc=_flag("prefer_grpc", server.get("prefer_grpc", False)),
            grpc_port=_positive("grpc_port", server.get("grpc_port", 6334)),
            timeout=_positive("timeout", server["timeout"]) if "timeout" in server else None,
            path=_local_path(path) if path else None,
        )
        return cls(
            location=location,
            collection_name=_name("collection_name", collection_name),
            collection=_name("collection", collection) if collection else "",
            on_disk=_flag("on_disk", server["on_disk"]) if "on_disk" in server else None,
            hnsw_ef=_positive("hnsw_ef", server["hnsw_ef"]) if "hnsw_ef" in server else None,
        )


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{_option(name)} must be a non-empty string, not {value!r}.")
    return value


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigurationError(f"{_option(name)} must be True or False, not {value!r}.")
    return value


def _positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigurationError(f"{_option(name)} must be a positive whole number, not {value!r}.")
    return value


def _name(name: str, value: Any) -> str:
    value = _text(name, value)
    if _FORBIDDEN_IN_NAMES & set(value) or len(value) > 200:
        raise ConfigurationError(
            f"{_option(name)} is {value!r}; Qdrant collection names are at most 255 characters (dgs appends a "
            "rebuild suffix) and contain none of < > : \" / \\ | ? *."
        )
    return value


def _local_path(path: Any) -> str:
    path = os.fspath(path)
    if path == MEMORY:
        return MEMORY
    if os.path.isfile(path):
        raise ConfigurationError(
            f"{_option('path')} is {path!r}, a file; local mode keeps a directory there. Point PATH at a "
            "directory (it is created if missing), or use ':memory:'."
        )
    return os.path.abspath(path)
