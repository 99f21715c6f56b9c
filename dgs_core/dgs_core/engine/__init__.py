"""The embedders and vector store of this process: built once from settings, shared by signals,
commands and views, and dropped when ``GRAPH_SEARCH`` changes (or by :func:`reset`)."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from typing import Any, Optional

from django.dispatch import receiver

from dgs_core.base import Embedder, Transport, VectorStore
from dgs_core.conf import BackendConfig, GraphSearchConfig, config_reset, get_config, transport_name
from dgs_core.documents import TEXT_FORMAT
from dgs_core.engine.backends import (
    SECRET_OPTION,
    build,
    build_embedder,
    build_vector_store,
    keep_recorded_id,
    option_problems,
    resolve_class,
)
from dgs_core.engine.generations import GenerationRouter
from dgs_core.exceptions import ConfigurationError, EmbedderMismatchError, PluginError

__all__ = ["build", "build_embedder", "build_vector_store", "check_embedder", "embedder_config", "get_embedder",
           "get_search_embedder", "get_transport", "get_vector_store", "option_problems", "reset", "resolve_class",
           "shared", "transport_config"]

_lock = threading.RLock()
_instances: dict[Any, Any] = {}
log = logging.getLogger("dgs_core.engine")
#: (store, embedder id, writing, generation state) combinations check_embedder has passed in this process.
_checked_embedders: set[tuple[int, str, bool, Any]] = set()


def get_embedder(profile: Optional[str] = None) -> Embedder:
    """The shared embedder of ``profile`` (default: ``DEFAULT_EMBEDDING``)."""
    config = get_config()
    profile = profile or config.default_embedding
    if profile not in config.embeddings:
        raise ConfigurationError(
            f"Embedding profile {profile!r} is not in GRAPH_SEARCH['EMBEDDINGS'] "
            f"(profiles: {', '.join(sorted(config.embeddings))})."
        )
    return shared(("embedder", profile), lambda: build_embedder(config.embeddings[profile], profile))


def get_vector_store() -> GenerationRouter:
    """The shared vector store: a router over the live collection (see :mod:`dgs_core.engine.generations`)."""
    config = get_config()
    return shared("store", lambda: GenerationRouter(config.vector_store))


#: How messages name the options of the index transport.
TRANSPORT_OPTIONS = "GRAPH_SEARCH['ASYNC_INDEXING']"


def transport_config(config: GraphSearchConfig) -> BackendConfig:
    """The transport ``config`` selects, with its options: the keys of ``ASYNC_INDEXING`` core does not know
    (e.g. dgs-celery's ``CELERY_QUEUE``), and those of core's keys it declares (``THREAD_POOL_SIZE``); a
    transport that declares no ``Options`` is given all of core's keys."""
    name = transport_name(config)
    settings = config.async_indexing
    core = {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)
            if f.name not in ("enabled", "backend", "options")}
    try:
        cls: Optional[type] = resolve_class("transport", name, Transport)
    except PluginError:  # building it, and `manage.py check`, report the missing transport
        cls = None
    if cls is not None and cls.declares_options():
        declared = {f.name for f in dataclasses.fields(cls.Options)}
        core = {key: value for key, value in core.items() if key in declared}
    # The transport's own keys belong to ASYNC_INDEXING['BACKEND'], not to the thread or sync fallback.
    own = settings.options if name == settings.backend else {}
    return BackendConfig(name, {**core, **own})


def get_transport() -> Transport:
    """The shared index transport of this process (closed by :func:`reset`)."""
    cfg = transport_config(get_config())
    return shared(("transport", cfg.backend), lambda: build("transport", cfg, TRANSPORT_OPTIONS))


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
    key = (id(store), embedder.id, writing, state)
    if key in _checked_embedders:
        return
    keep_recorded_id(store.embedder_info(), embedder)
    if writing and isinstance(store, GenerationRouter):
        if not store.prepare_writes(embedder.id, embedder.dimension):
            raise _mismatch(store.embedder_info() or {}, embedder)
    else:
        info = store.embedder_info()
        if info is None and writing:
            store.record_embedder(embedder.id, embedder.dimension)
        elif info is not None and (info.get("embedder") != embedder.id or info.get("dimension") != embedder.dimension):
            raise _mismatch(info, embedder)
    if not writing and (problem := text_format_problem(store)):
        log.warning("%s Run `manage.py build_search_index --rebuild`.", problem)
    with _lock:
        _checked_embedders.add(key)


def text_format_problem(store: VectorStore) -> Optional[str]:
    """Why the live index's documents are not in this version's text format, or ``None`` (also for an empty
    index, or a store outside core's router)."""
    if not isinstance(store, GenerationRouter):
        return None
    try:
        recorded = store.text_format()
    except Exception:  # an unreachable or vanished store is reported on its own (503, its health check)
        return None
    if recorded is None or recorded == TEXT_FORMAT:
        return None
    return (f"The search index was built with text format {recorded}; this version of dgs builds documents in "
            f"format {TEXT_FORMAT} (docs/search_quality.md, \"Text for the embedder\"). Searches still work, but "
            f"the stored texts and vectors are the old ones until the index is rebuilt.")


def get_search_embedder(store: VectorStore) -> Embedder:
    """The embedder for queries against ``store``'s live collection.

    Normally the default profile's. While a rebuild switches embedders, the live collection still
    holds the previous embedder's vectors: it is searched with that embedder, recorded when the
    collection went live, so searches keep answering until the switch.
    """
    embedder = get_embedder()
    if isinstance(store, GenerationRouter):
        info = store.embedder_info()
        keep_recorded_id(info, embedder)
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
        _checked_embedders.clear()
    # Closed outside the lock: a transport's worker thread may be inside shared() while it finishes.
    for instance in instances:
        close = getattr(instance, "close", None)
        if callable(close):
            close()


@receiver(config_reset)
def _on_config_reset(**kwargs: Any) -> None:
    reset()
