"""Backend classes from settings: a ``BACKEND`` value resolved to its class, its options checked against the
class's declaration (:mod:`dgs_core.options`), and instances built from them."""

from __future__ import annotations

import re
from typing import Any, Optional

from django.utils.module_loading import import_string

from dgs_core.base import ConversationMemory, Embedder, Reranker, Transport, VectorStore
from dgs_core.conf import BackendConfig
from dgs_core.exceptions import ConfigurationError, PluginError
from dgs_core.plugins import get_registry

#: Embedder options that hold credentials (never recorded with a collection).
SECRET_OPTION = re.compile(r"key|secret|token|password", re.I)

#: The base class of each backend family, by registry family name.
FAMILIES: dict[str, type] = {"vector_store": VectorStore, "embedder": Embedder, "reranker": Reranker,
                             "memory": ConversationMemory, "transport": Transport}
#: How messages name the options of the configured store and embedding profiles.
STORE_OPTIONS = "GRAPH_SEARCH['VECTOR_STORE']['OPTIONS']"


def embedding_options(profile: str) -> str:
    """How messages name the options of embedding profile ``profile``."""
    return f"GRAPH_SEARCH['EMBEDDINGS'][{profile!r}]['OPTIONS']"


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


def keep_recorded_id(info: Optional[dict[str, Any]], embedder: Embedder) -> None:
    """Let ``embedder`` keep the id a collection recorded (``info``) when the collection's vectors are its own:
    the same class under another spelling (:func:`keep_recorded_spelling`), or vectors the embedder finds
    equivalent to what it makes (:meth:`Embedder.adopt_recorded_id`, e.g. the same model on another runtime).
    """
    keep_recorded_spelling(info, embedder)
    recorded = str((info or {}).get("embedder") or "")
    if recorded and recorded != embedder.id and (info or {}).get("dimension") == embedder.dimension:
        embedder.adopt_recorded_id(recorded)


def _arguments(cls: type, cfg: BackendConfig) -> dict[str, Any]:
    """The options ``cls`` is built with: ``cfg.options``, and ``model_name`` for the families that take one."""
    if issubclass(cls, (Embedder, Reranker)) and cfg.model_name is not None:
        return {**cfg.options, "model_name": cfg.model_name}
    return dict(cfg.options)


def option_problems(family: str, cfg: BackendConfig, setting: str) -> list[str]:
    """Every mistake in ``cfg``'s options, found from the class's declaration without building the backend.

    Raises :class:`PluginError` when ``cfg.backend`` names no usable class.
    """
    cls = resolve_class(family, cfg.backend, FAMILIES[family])
    return cls.option_problems(_arguments(cls, cfg), setting)


def build(family: str, cfg: BackendConfig, setting: str, **extra: Any) -> Any:
    """A backend of ``family`` built from ``cfg``; a :class:`ConfigurationError` naming ``setting`` lists every
    mistake in its options. ``extra`` are arguments core adds (a memory's ``max_items``)."""
    cls = resolve_class(family, cfg.backend, FAMILIES[family])
    arguments = _arguments(cls, cfg)
    problems = cls.option_problems(arguments, setting)
    if problems:
        raise ConfigurationError(" ".join(problems))
    return cls(**arguments, **extra)


def build_embedder(cfg: BackendConfig, profile: str = "default") -> Embedder:
    return build("embedder", cfg, embedding_options(profile))


def build_vector_store(cfg: BackendConfig) -> VectorStore:
    return build("vector_store", cfg, STORE_OPTIONS)
