"""Qdrant clients shared per location within a process, and engine failures turned into dgs errors.

A rebuild makes core build one store instance per collection on the same location. They share one
client: embedded mode (Qdrant Edge) opens each shard once per process (it locks the shard's write-ahead
log), ``:memory:`` is only one storage when it is one client, and a server is best reached through one
connection pool. The client is
closed when the last store using it closes, except the in-memory one (see :func:`release`).
"""

from __future__ import annotations

import atexit
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Optional

import grpc
import httpx
from qdrant_client import QdrantClient
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from dgs_core.exceptions import BackendUnavailable
from dgs_qdrant.edge import Description, EdgeClient

MEMORY = ":memory:"

_UNREACHABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}
_REFUSED = {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED}


@dataclass(frozen=True)
class Location:
    """Where the collections live: a server (``url``) or embedded mode (``path``, a directory or ``:memory:``)."""

    url: Optional[str] = None
    api_key: Optional[str] = field(default=None, repr=False)
    prefer_grpc: bool = False
    grpc_port: int = 6334
    timeout: Optional[int] = None
    path: Optional[str] = None

    @property
    def local(self) -> bool:
        return self.path is not None

    def describe(self) -> str:
        if self.path == MEMORY:
            return "the in-memory Qdrant Edge (PATH ':memory:')"
        if self.path:
            return f"the embedded Qdrant Edge at PATH {self.path!r}"
        return f"the Qdrant server at URL {self.url!r}" + (" (gRPC)" if self.prefer_grpc else "")

    def connect(self) -> QdrantClient | EdgeClient:
        if self.path:
            return EdgeClient(None if self.path == MEMORY else self.path, self.describe())
        # No version check: it costs a request per process and only warns; the one server feature dgs needs
        # beyond the basics (collection metadata, Qdrant 1.16) is verified when the embedder is recorded.
        return QdrantClient(
            url=self.url, api_key=self.api_key, prefer_grpc=self.prefer_grpc, grpc_port=self.grpc_port,
            timeout=self.timeout, check_compatibility=False,
        )


def describe(client: QdrantClient | EdgeClient, name: str) -> Optional[Description]:
    """What the store needs to know of collection ``name``; ``None`` when it does not exist (a server raises)."""
    if isinstance(client, EdgeClient):
        return client.describe(name)
    info = client.get_collection(name)
    return Description(info.config.params.vectors.size, info.config.metadata or {}, set(info.payload_schema),
                       set(info.config.params.sparse_vectors or {}))


class SharedClient:
    """One client and the lock its calls take: embedded mode's client keeps open shards in a plain dict, server
    clients lock themselves."""

    def __init__(self, location: Location) -> None:
        self.location = location
        self.client = location.connect()
        self.lock: Any = threading.RLock() if location.local else contextlib.nullcontext()
        self.users = 0
        #: Alias name -> collection: aliases a store's ``publish()`` could not create because a collection
        #: still had that name; dropping that collection creates them.
        self.aliases_awaiting_drop: dict[str, str] = {}

    @contextlib.contextmanager
    def calling(self) -> Iterator[QdrantClient]:
        """The client, with engine failures raised as :class:`BackendUnavailable` naming the option to check."""
        with self.lock, engine_errors(self.location):
            yield self.client


_shared: dict[Location, SharedClient] = {}
_shared_lock = threading.Lock()


def acquire(location: Location) -> SharedClient:
    """The process's client for ``location``, opened on first use; pair with :func:`release`."""
    with _shared_lock:
        shared = _shared.get(location)
        if shared is None:
            shared = _shared[location] = SharedClient(location)
        shared.users += 1
        return shared


def release(shared: SharedClient) -> None:
    """Give back a client from :func:`acquire`; the last user closes it (and unlocks an embedded directory).

    The in-memory client stays open for the life of the process, like a server: its collections survive
    core rebuilding its components (a settings change), and ``drop()`` is what deletes one.
    """
    with _shared_lock:  # held while closing, so a new client for the folder waits for its lock to be free
        shared.users -= 1
        if shared.users > 0 or shared.location.path == MEMORY:
            return
        _shared.pop(shared.location, None)
        with shared.lock:
            shared.client.close()


@atexit.register
def _close_all() -> None:
    """Close the clients still open at exit while imports still work; qdrant-client's ``__del__`` runs too
    late to unlock an embedded directory cleanly."""
    with _shared_lock:
        for shared in _shared.values():
            shared.client.close()
        _shared.clear()


@contextlib.contextmanager
def engine_errors(location: Location) -> Iterator[None]:
    """Connection failures and rejected credentials as :class:`BackendUnavailable` (REST answers 503)."""
    try:
        yield
    except (ResponseHandlingException, httpx.TransportError) as exc:
        raise _unreachable(location, exc) from exc
    except UnexpectedResponse as exc:
        if exc.status_code in (401, 403):
            raise _refused(location, exc) from exc
        raise
    except grpc.RpcError as exc:
        code = exc.code() if isinstance(exc, grpc.Call) else None
        if code in _UNREACHABLE:
            raise _unreachable(location, exc) from exc
        if code in _REFUSED:
            raise _refused(location, exc) from exc
        raise


def _unreachable(location: Location, exc: Exception) -> BackendUnavailable:
    detail = exc.details() if isinstance(exc, grpc.Call) else exc
    port = f" and GRPC_PORT ({location.grpc_port})" if location.prefer_grpc else ""
    return BackendUnavailable(
        f"Cannot reach {location.describe()}: {detail}. Start the server or correct "
        f"VECTOR_STORE['OPTIONS']['URL']{port}."
    )


def _refused(location: Location, exc: Exception) -> BackendUnavailable:
    return BackendUnavailable(
        f"{location.describe()} refused the request ({exc}). Check VECTOR_STORE['OPTIONS']['API_KEY']."
    )
