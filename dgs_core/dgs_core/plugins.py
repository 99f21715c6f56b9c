"""The plugin manager: loads the ``dgs`` entry point group once per process and keeps the name registries.

Core's own implementations (``dgs_core.builtin``) register first under the plugin name ``core``, the
same name core's distribution declares in the entry point group, so the entry point is not loaded twice.
Set ``DGS_DISABLE_PLUGIN_AUTOLOAD=1`` to load only core (plus what tests register by hand).
"""

from __future__ import annotations

import importlib
import os
import threading
from dataclasses import dataclass
from typing import Optional

import pluggy

from dgs_core import hookspecs
from dgs_core.exceptions import PluginError

ENTRY_POINT_GROUP = "dgs"
#: Core's own hook implementations (also its ``dgs`` entry point ``core``).
BUILTIN_PLUGIN = "dgs_core.builtin"

#: Backend families with a registration hook: family -> (hook name, the settings key that selects it).
FAMILIES = {
    "embedder": ("dgs_register_embedders", 'EMBEDDINGS[<profile>]["BACKEND"]'),
    "vector_store": ("dgs_register_vector_stores", 'VECTOR_STORE["BACKEND"]'),
    "reranker": ("dgs_register_rerankers", 'LANGGRAPH["RERANKER"]["BACKEND"]'),
    "memory": ("dgs_register_memories", 'CONVERSATIONAL["MEMORY_BACKEND"]'),
    "transport": ("dgs_register_transports", 'ASYNC_INDEXING["BACKEND"]'),
    "stream_format": ("dgs_register_stream_formats", 'STREAMING["FORMAT"]'),
}

#: Names provided by this monorepo's distributions, so a missing one is reported with its pip command.
KNOWN_PLUGIN_NAMES = {
    ("vector_store", "faiss"): "faiss",
    ("vector_store", "chroma"): "chroma",
    ("vector_store", "qdrant"): "qdrant",
    ("vector_store", "pgvector"): "pgvector",
    ("embedder", "sentence-transformers"): "sentence-transformers",
    ("embedder", "openai"): "openai",
    ("embedder", "cohere"): "cohere",
    ("reranker", "cross-encoder"): "sentence-transformers",
    ("reranker", "bi-encoder"): "sentence-transformers",
    ("transport", "celery"): "celery",
}


def install_hint(family: str, name: str) -> Optional[str]:
    """The pip command that provides ``name``, when it belongs to a known dgs distribution."""
    extra = KNOWN_PLUGIN_NAMES.get((family, name))
    return f'pip install "dgs-core[{extra}]"' if extra else None


@dataclass(frozen=True)
class Registration:
    name: str
    cls: type
    plugin: str  # pluggy plugin name (the entry point name)
    distribution: str  # "dgs-faiss 0.1.0", or the plugin name when not from a distribution


class PluginRegistry:
    """Owns a pluggy manager and the name -> class registries built from its registration hooks."""

    def __init__(self, autoload: bool = True, blocked: tuple[str, ...] = ()) -> None:
        self.pm = pluggy.PluginManager("dgs")
        self.pm.add_hookspecs(hookspecs)
        # Core registers like any plugin, by module name: the registry is the kernel and must not import
        # core's outer layers, whose backends the built-in plugin registers.
        self.pm.register(importlib.import_module(BUILTIN_PLUGIN), name="core")
        self._distributions: dict[str, str] = {}  # plugin name -> "distribution version"
        for name in blocked:
            self.pm.set_blocked(name)
        if autoload:
            self._load_entry_points()
        self.pm.check_pending()
        self._registrations: Optional[dict[str, dict[str, Registration]]] = None
        self._lock = threading.Lock()

    def _load_entry_points(self) -> None:
        """Load the ``dgs`` entry points; a broken plugin is an error naming its distribution and the fix."""
        from importlib.metadata import distributions

        for dist in distributions():
            for ep in dist.entry_points:
                if ep.group != ENTRY_POINT_GROUP or self.pm.get_plugin(ep.name) or self.pm.is_blocked(ep.name):
                    continue
                try:
                    plugin = ep.load()
                except Exception as exc:
                    raise PluginError(
                        f"The dgs plugin {ep.name!r} of {dist.metadata['name']} {dist.version} failed to load: "
                        f"{type(exc).__name__}: {exc}. Reinstall or uninstall it, or set "
                        f"DGS_DISABLED_PLUGINS={ep.name}."
                    ) from exc
                self.pm.register(plugin, name=ep.name)
                self._distributions[ep.name] = f"{dist.metadata['name']} {dist.version}"

    @property
    def hook(self):
        return self.pm.hook

    def register_plugin(self, plugin: object, name: str) -> None:
        """Register a plugin object by hand (tests, project-local plugins); resets the registries."""
        self.pm.register(plugin, name=name)
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError:
            self.pm.unregister(name=name)
            raise
        self._registrations = None

    def unregister_plugin(self, name: str) -> None:
        self.pm.unregister(name=name)
        self._registrations = None

    def distribution_of(self, plugin_name: str) -> str:
        if plugin_name in self._distributions:
            return self._distributions[plugin_name]
        if plugin_name == "core":
            from dgs_core import __version__

            return f"dgs-core {__version__}"
        return plugin_name

    def registrations(self) -> dict[str, dict[str, Registration]]:
        """``{family: {name: Registration}}``; raises :class:`PluginError` for a name claimed twice."""
        with self._lock:
            if self._registrations is None:
                self._registrations = self._collect()
            return self._registrations

    def _collect(self) -> dict[str, dict[str, Registration]]:
        result: dict[str, dict[str, Registration]] = {}
        for family, (hook_name, _setting) in FAMILIES.items():
            found: dict[str, Registration] = {}
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                impl.function(register=self._register_callback(family, found, impl.plugin_name))
            result[family] = found
        return result

    def _register_callback(self, family: str, found: dict[str, Registration], plugin: str):
        """The ``register(name, cls)`` handed to one plugin's registration hook."""

        def register(name: str, cls: type) -> None:
            if name in found:
                first = found[name]
                raise PluginError(
                    f"The {family.replace('_', ' ')} name {name!r} is registered twice: by "
                    f"{first.distribution} (plugin {first.plugin!r}) and by "
                    f"{self.distribution_of(plugin)} (plugin {plugin!r}). Uninstall one of them, "
                    f"or block one with DGS_DISABLED_PLUGINS={plugin}."
                )
            found[name] = Registration(name, cls, plugin, self.distribution_of(plugin))

        return register

    def names(self, family: str) -> list[str]:
        return sorted(self.registrations()[family])

    def get_class(self, family: str, name: str) -> type:
        """The class registered as ``name``, or a :class:`PluginError` naming the fix."""
        registered = self.registrations()[family]
        if name in registered:
            cls = registered[name].cls
            if isinstance(cls, str):  # registered by dotted path: import the engine only now
                from django.utils.module_loading import import_string

                cls = import_string(cls.replace(":", "."))
            if not vars(cls).get("registered_name"):  # own attribute: a subclass must not inherit its base's name
                cls.registered_name = name
            return cls
        setting = FAMILIES[family][1]
        hint = install_hint(family, name)
        installed = ", ".join(sorted(registered)) or "none"
        if hint:
            raise PluginError(
                f"{setting} is {name!r}, but the plugin that provides it is not installed. "
                f"Run: {hint}   (installed {family.replace('_', ' ')} names: {installed})"
            )
        raise PluginError(
            f"{setting} is {name!r}, which no installed plugin registers. "
            f"Installed {family.replace('_', ' ')} names: {installed}; or give a dotted path to a class."
        )


_registry: Optional[PluginRegistry] = None
_registry_lock = threading.Lock()


def get_registry() -> PluginRegistry:
    """The process-wide registry; entry points are loaded on the first call only."""
    global _registry
    if _registry is None:
        with _registry_lock:
            if _registry is None:
                blocked = os.environ.get("DGS_DISABLED_PLUGINS", "")
                _registry = PluginRegistry(
                    autoload=not os.environ.get("DGS_DISABLE_PLUGIN_AUTOLOAD"),
                    blocked=tuple(n.strip() for n in blocked.split(",") if n.strip() and n.strip() != "core"),
                )
    return _registry


def get_plugin_manager() -> pluggy.PluginManager:
    return get_registry().pm
