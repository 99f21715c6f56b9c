"""The plugin manager: loads the ``dgs`` entry point group once per process and keeps the name registries.

Core's own implementations (``dgs_core.builtin``) register first under the plugin name ``core``, the
same name core's distribution declares in the entry point group, so the entry point is not loaded twice.
Set ``DGS_DISABLE_PLUGIN_AUTOLOAD=1`` to load only core (plus what tests register by hand).
"""

from __future__ import annotations

import difflib
import functools
import importlib
import os
import sys
import threading
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Optional

import pluggy
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from dgs_core import hookspecs
from dgs_core.exceptions import PluginError

ENTRY_POINT_GROUP = "dgs"
#: Core's own hook implementations (also its ``dgs`` entry point ``core``).
BUILTIN_PLUGIN = "dgs_core.builtin"

#: Name families with a registration hook: family -> (hook name, the settings key that selects a name).
FAMILIES = {
    "embedder": ("dgs_register_embedders", 'EMBEDDINGS[<profile>]["BACKEND"]'),
    "vector_store": ("dgs_register_vector_stores", 'VECTOR_STORE["BACKEND"]'),
    "reranker": ("dgs_register_rerankers", 'RERANKER["BACKEND"]'),
    "memory": ("dgs_register_memories", 'CONVERSATIONAL["MEMORY_BACKEND"]'),
    "transport": ("dgs_register_transports", 'ASYNC_INDEXING["BACKEND"]'),
    "stream_format": ("dgs_register_stream_formats", 'STREAMING["FORMAT"]'),
    "settings_section": ("dgs_register_settings_sections", "GRAPH_SEARCH[<section>]"),
}
#: The distribution whose extras name the plugin distributions of this project.
CORE_DISTRIBUTION = "dgs-core"


@functools.lru_cache(maxsize=1)
def _core_extras() -> dict[str, str]:
    """dgs-core's extras that install one dgs plugin: the plugin's name (``dgs-`` cut off, normalised) -> extra."""
    try:
        core = metadata.metadata(CORE_DISTRIBUTION)
    except metadata.PackageNotFoundError:  # running from a source tree that was never installed
        return {}
    requirements = [Requirement(text) for text in core.get_all("Requires-Dist") or []]
    found = {}
    for extra in core.get_all("Provides-Extra") or []:
        provided = [r.name for r in requirements if r.marker is not None and r.marker.evaluate({"extra": extra})]
        plugins = [canonicalize_name(name) for name in provided if canonicalize_name(name).startswith("dgs-")]
        if len(plugins) == 1 and plugins[0] != CORE_DISTRIBUTION:
            found[plugins[0].removeprefix("dgs-")] = extra
    return found


def install_hint(name: str) -> Optional[str]:
    """The command that installs the dgs plugin distribution named after ``name`` (a backend name or a settings
    section; ``"faiss"`` -> dgs-faiss), from dgs-core's extras; ``None`` when none is.

    dgs is not on PyPI: the command installs from the wheels ``make dist`` builds in a checkout of the dgs
    repository (README, "Quickstart"); when dgs-core itself runs from a checkout, that plugin's folder is named too.
    """
    extra = _core_extras().get(canonicalize_name(name))
    if extra is None:
        return None
    command = f'pip install --find-links dist "{CORE_DISTRIBUTION}[{extra}]" (in the dgs checkout, after `make dist`'
    folder = Path(__file__).resolve().parents[2] / "plugins" / f"dgs_{canonicalize_name(name).replace('-', '_')}"
    if (folder / "pyproject.toml").is_file():
        command += f"; or, from this checkout: pip install -e {folder}"
    return command + ")"


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
        self._registrations: dict[str, dict[str, Registration]] = {}  # family -> its names, collected on demand
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
        self._registrations = {}

    def unregister_plugin(self, name: str) -> None:
        self.pm.unregister(name=name)
        self._registrations = {}

    def distribution_of(self, plugin_name: str) -> str:
        if plugin_name in self._distributions:
            return self._distributions[plugin_name]
        if plugin_name == "core":
            from dgs_core import __version__

            return f"dgs-core {__version__}"
        return plugin_name

    def registrations(self) -> dict[str, dict[str, Registration]]:
        """``{family: {name: Registration}}``; raises :class:`PluginError` for a name claimed twice."""
        return {family: self.registered(family) for family in FAMILIES}

    def registered(self, family: str) -> dict[str, Registration]:
        """``{name: Registration}`` of one family, whose registration hook alone is called (parsing settings asks
        for the settings sections without importing every backend's module); :class:`PluginError` for a name
        claimed twice."""
        with self._lock:
            if family not in self._registrations:
                found: dict[str, Registration] = {}
                for impl in getattr(self.pm.hook, FAMILIES[family][0]).get_hookimpls():
                    impl.function(register=self._register_callback(family, found, impl.plugin_name))
                self._registrations[family] = found
            return self._registrations[family]

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
            if isinstance(cls, type):
                _name_once(cls, name)

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
            _name_once(cls, name)
            return cls
        setting = FAMILIES[family][1]
        hint = install_hint(name)
        installed = ", ".join(sorted(registered)) or "none"
        if hint:
            raise PluginError(
                f"{setting} is {name!r}, but the plugin that provides it is not installed. "
                f"Run: {hint}   (installed {family.replace('_', ' ')} names: {installed})"
            )
        # A misspelt name: the closest installed name, or of a dgs plugin not installed yet (whose hint then follows).
        close = difflib.get_close_matches(name, [*registered, *_core_extras()], n=1, cutoff=0.75)
        raise PluginError(
            f"{setting} is {name!r}, which no installed plugin registers. "
            + (f"Did you mean {close[0]!r}? " if close else "")
            + f"Installed {family.replace('_', ' ')} names: {installed}; or give a dotted path to a class."
        )


    def name_of(self, family: str, cls: type) -> Optional[str]:
        """The name ``cls`` is registered under in ``family``, or ``None``; imports no lazily registered class."""
        for name, registration in self.registrations()[family].items():
            if registration.cls is cls or (isinstance(registration.cls, str) and _imported(registration.cls) is cls):
                return name
        return None

    def name_class(self, family: str, cls: type) -> None:
        """Name ``cls``, reached by a dotted path: the name it is registered under, else where it is defined.

        Either way the name does not depend on how the settings spell the class, so neither does the id of
        an embedder, which begins with it.
        """
        _name_once(cls, self.name_of(family, cls) or f"{cls.__module__}.{cls.__qualname__}")


def _name_once(cls: type, name: str) -> None:
    """Set ``cls.registered_name`` unless the class has its own already: set once, and a subclass of a
    registered class gets its own name, not the one it would inherit."""
    if not vars(cls).get("registered_name"):
        cls.registered_name = name


def _imported(path: str) -> object:
    """What the dotted path ``path`` (``module.attribute`` or ``module:attribute``) names, if its module is
    imported already; ``None`` otherwise."""
    module, _, attribute = path.replace(":", ".").rpartition(".")
    return getattr(sys.modules.get(module), attribute, None)


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
