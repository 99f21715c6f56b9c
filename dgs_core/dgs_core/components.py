"""The embedders and vector store of this process: built once from settings, shared by signals,
commands and views, and dropped when ``GRAPH_SEARCH`` changes (or by :func:`reset`)."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any, Optional

from django.utils.module_loading import import_string

from dgs_core.base import Embedder, VectorStore
from dgs_core.conf import BackendConfig, get_config
from dgs_core.exceptions import ConfigurationError, EmbedderMismatchError, PluginError
from dgs_core.generations import GenerationRouter
from dgs_core.plugins import get_registry

_lock = threading.RLock()
#: Embedder options that hold credentials (never recorded with a collection).
SECRET_OPTION = re.compile(r"key|secret|token|password", re.I)
_instances: dict[Any, Any] = {}


def resolve_class(family: str, backend: str, base: type) -> type:
    """The class a ``BACKEND`` value names: a registered plugin name or a dotted class path."""
    registry = get_registry()
    if backend in registry.registrations()[family] or "." not in backend:
        cls = registry.get_class(family, backend)
    else:
        try:
            cls = import_string(backend)
        except ImportError as exc:
            raise PluginError(f"BACKEND {backend!r} cannot be imported: {exc}") from exc
        if not vars(cls).get("registered_name"):  # own attribute: a subclass must not inherit its base's name
            cls.registered_name = backend
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise PluginError(f"BACKEND {backend!r} is not a subclass of {base.__module__}.{base.__name__}.")
    return cls


def build_embedder(cfg: BackendConfig) -> Embedder:
    cls = resolve_class("embedder", cfg.backend, Embedder)
    return cls(model_name=cfg.model_name, **cfg.options)


def build_vector_store(cfg: BackendConfig) -> VectorStore:
    cls = resolve_class("vector_store", cfg.backend, VectorStore)
    options = {cls.legacy_options.get(k, k): v for k, v in cfg.options.items()}
    return cls(**options)


def get_embedder(profile: Optional[str] = None) -> Embedder:
    """The shared embedder of ``profile`` (default: ``DEFAULT_EMBEDDING``)."""
    config = get_config()
    profile = profile or config.default_embedding
    if profile not in config.embeddings:
        raise ConfigurationError(
            f"Embedding profile {profile!r} is not in GRAPH_SEARCH['EMBEDDINGS'] "
            f"(profiles: {', '.join(sorted(config.embeddings))})."
        )
    return shared(("embedder", profile), lambda: build_embedder(config.embeddings[profile]))


def get_vector_store() -> GenerationRouter:
    """The shared vector store: a router over the live collection (see :mod:`dgs_core.generations`)."""
    config = get_config()
    return shared("store", lambda: GenerationRouter(config.vector_store))


def _mismatch(info: dict[str, Any], embedder: Embedder) -> EmbedderMismatchError:
    return EmbedderMismatchError(
        f"The vector store holds vectors of {info.get('embedder')!r} ({info.get('dimension')} dimensions), "
        f"but GRAPH_SEARCH embeds with {embedder.id!r} ({embedder.dimension} dimensions). Rebuild the index "
        "with `manage.py build_search_index --rebuild`, or switch the embedder back."
    )


def check_embedder(store: VectorStore, embedder: Embedder, *, writing: bool = False) -> None:
    """Refuse to mix vector spaces: the store must hold vectors of ``embedder`` (same id and dimension).

    An empty collection records the embedder on its first write. Checked once per process, pair and
    generation state.
    """
    state = store.state() if isinstance(store, GenerationRouter) else None
    key = ("embedder-checked", id(store), embedder.id, writing, state)
    if key in _instances:
        return
    if writing and isinstance(store, GenerationRouter):
        if not store.prepare_writes(embedder.id, embedder.dimension):
            raise _mismatch(store.embedder_info() or {}, embedder)
    else:
        info = store.embedder_info()
        if info is None and writing:
            store.record_embedder(embedder.id, embedder.dimension)
        elif info is not None and (info.get("embedder") != embedder.id or info.get("dimension") != embedder.dimension):
            raise _mismatch(info, embedder)
    with _lock:
        _instances[key] = True


def get_search_embedder(store: VectorStore) -> Embedder:
    """The embedder for queries against ``store``'s live collection.

    Normally the default profile's. While a rebuild switches embedders, the live collection still
    holds the previous embedder's vectors: it is searched with that embedder, recorded when the
    collection went live, so searches keep answering until the switch.
    """
    embedder = get_embedder()
    if isinstance(store, GenerationRouter):
        info = store.embedder_info()
        recorded = store.live_embedder_config()
        if (info and info.get("embedder") != embedder.id and recorded.get("id") == info.get("embedder")
                and recorded.get("backend")):
            secrets = {k: v for cfg in get_config().embeddings.values() if cfg.backend == recorded["backend"]
                       for k, v in cfg.options.items() if SECRET_OPTION.search(k)}
            cfg = BackendConfig(recorded["backend"], {**secrets, **recorded.get("options", {})},
                                recorded.get("model_name"))
            embedder = shared(("live-embedder", recorded["id"]), lambda: build_embedder(cfg))
    check_embedder(store, embedder)
    return embedder


def embedder_config(profile: Optional[str] = None) -> dict[str, Any]:
    """The default (or named) embedding profile as recorded with a collection that goes live."""
    config = get_config()
    cfg = config.embeddings[profile or config.default_embedding]
    # Never write credentials to the database: they are taken from settings (or the environment) again.
    options = {k: v for k, v in cfg.options.items() if not SECRET_OPTION.search(k)}
    return {"id": get_embedder(profile).id, "backend": cfg.backend, "model_name": cfg.model_name,
            "options": options}


def shared(key: Any, factory: Callable[[], Any]) -> Any:
    """A per-process object built once by ``factory`` and dropped by :func:`reset`."""
    with _lock:
        if key not in _instances:
            _instances[key] = factory()
        return _instances[key]


def reset() -> None:
    """Forget every shared component (closing stores, caches, transports), e.g. after settings change in tests."""
    with _lock:
        instances = list(_instances.values())
        _instances.clear()
    # Closed outside the lock: a transport's worker thread may be inside shared() while it finishes.
    for instance in instances:
        close = getattr(instance, "close", None)
        if callable(close):
            close()
