"""Backend classes from settings: a ``BACKEND`` value resolved to its class, and instances built from options."""

from __future__ import annotations

import re

from django.utils.module_loading import import_string

from dgs_core.base import Embedder, VectorStore
from dgs_core.conf import BackendConfig
from dgs_core.exceptions import PluginError
from dgs_core.plugins import get_registry

#: Embedder options that hold credentials (never recorded with a collection).
SECRET_OPTION = re.compile(r"key|secret|token|password", re.I)


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
