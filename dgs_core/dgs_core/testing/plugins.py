"""How a plugin's tests check that it registers its names: by hand, and through its installed entry point."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

from dgs_core.plugins import PluginRegistry, Registration


def registered_by_hand(plugin: object, name: str) -> PluginRegistry:
    """A registry of ``plugin`` (a ``plugin`` module) alone, registered as ``name``, as a project-local plugin is."""
    registry = PluginRegistry(autoload=False)
    registry.register_plugin(plugin, name=name)
    return registry


def installed_registration(family: str, name: str, module: str) -> Registration:
    """The registration of ``name`` through the installed ``dgs`` entry point, which must name ``module``;
    skips the test, saying how to install it, when the distribution is not installed."""
    declared = [ep for ep in entry_points(group="dgs") if ep.name == name]
    if not declared:
        folder = module.split(".")[0]
        pytest.skip(f"the plugin {name!r} is not installed; run: pip install -e plugins/{folder}")
    assert declared[0].value == module
    return PluginRegistry(autoload=True).registrations()[family][name]
