"""The embedders and vector store of this process: built once from settings, shared by signals,
commands and views, and dropped when ``GRAPH_SEARCH`` changes (or by :func:`reset`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Optional

from django.utils.module_loading import import_string

from dgs_core.base import Embedder, VectorStore
from dgs_core.conf import BackendConfig, get_config
from dgs_core.exceptions import ConfigurationError, PluginError
from dgs_core.plugins import get_registry

_lock = threading.RLock()
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
        if not getattr(cls, "registered_name", None):
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


def get_vector_store() -> VectorStore:
    """The shared vector store."""
    config = get_config()
    return shared("store", lambda: build_vector_store(config.vector_store))


def shared(key: Any, factory: Callable[[], Any]) -> Any:
    """A per-process object built once by ``factory`` and dropped by :func:`reset`."""
    with _lock:
        if key not in _instances:
            _instances[key] = factory()
        return _instances[key]


def reset() -> None:
    """Forget every shared component (closing stores), e.g. after settings change in tests."""
    with _lock:
        for instance in _instances.values():
            if isinstance(instance, VectorStore):
                instance.close()
        _instances.clear()
