"""Backend classes from settings: a ``BACKEND`` value resolved to its class, and instances built from options."""

from __future__ import annotations

import re
from typing import Any, Optional

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
        if isinstance(cls, type):
            registry.name_class(family, cls)
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise PluginError(f"BACKEND {backend!r} is not a subclass of {base.__module__}.{base.__name__}.")
    return cls


def keep_recorded_spelling(info: Optional[dict[str, Any]], embedder: Embedder) -> None:
    """Let ``embedder`` keep the id a collection recorded (``info``) when it differs only in how it spelled
    the backend.

    An embedder id begins with the backend's name. That name used to be whichever ``BACKEND`` value
    resolved the class first in the process, a registered name or a dotted path, so an index may hold
    ``"dgs_core.backends.HashingEmbedder:hashing-512"`` for what is now ``"hashing:hashing-512"``. Its
    vectors are the same: keeping the recorded id needs no rebuild, and keeps valid the content hashes
    (which include the id), so nothing is embedded again.
    """
    name, _, rest = embedder.id.partition(":")
    spelling, separator, recorded_rest = str((info or {}).get("embedder") or "").partition(":")
    if not separator or spelling == name or recorded_rest != rest:
        return
    try:
        same_class = resolve_class("embedder", spelling, Embedder) is type(embedder)
    except PluginError:  # no longer importable or registered: another embedder, as far as anyone can tell
        return
    if same_class:
        embedder.recorded_name = spelling


def build_embedder(cfg: BackendConfig) -> Embedder:
    cls = resolve_class("embedder", cfg.backend, Embedder)
    return cls(model_name=cfg.model_name, **cfg.options)


def build_vector_store(cfg: BackendConfig) -> VectorStore:
    cls = resolve_class("vector_store", cfg.backend, VectorStore)
    options = {cls.legacy_options.get(k, k): v for k, v in cfg.options.items()}
    return cls(**options)
