"""The plugin registry (dgs_core.plugins) with plugins registered by hand on fresh registries."""

from __future__ import annotations

from importlib.metadata import entry_points
from types import SimpleNamespace

import pluggy
import pytest

import dgs_core
from dgs_core import builtin
from dgs_core.backends import HashingEmbedder, MemoryVectorStore
from dgs_core.base import Embedder, VectorStore
from dgs_core.conf import GraphSearchConfig, ModelConfig
from dgs_core.documents import Section
from dgs_core.exceptions import PluginError
from dgs_core.indexing.text import classic_text
from dgs_core.indexing.transports import SyncTransport
from dgs_core.plugins import ENTRY_POINT_GROUP, FAMILIES, PluginRegistry
from dgs_core.searching.pipeline import VectorSearchPipeline


class EchoStore(MemoryVectorStore):
    """A distinct class per test registration, so identity checks mean something."""


class EchoEmbedder(HashingEmbedder):
    pass


def registering_plugin(family: str, name: str, cls: type) -> SimpleNamespace:
    """A plugin object whose registration hook of ``family`` registers ``cls`` as ``name``."""
    hook_name = FAMILIES[family][0]

    @dgs_core.hookimpl(specname=hook_name)
    def register_one(register):
        register(name, cls)

    return SimpleNamespace(register_one=register_one)


def fresh_registry() -> PluginRegistry:
    return PluginRegistry(autoload=False)


def test_core_is_registered_as_core_with_its_builtin_names():
    registry = fresh_registry()
    assert registry.pm.get_plugin("core") is builtin
    registrations = registry.registrations()
    assert registrations["embedder"]["hashing"].cls is HashingEmbedder
    assert registrations["vector_store"]["memory"].cls is MemoryVectorStore
    assert registrations["transport"]["sync"].cls is SyncTransport
    assert {reg.plugin for family in registrations.values() for reg in family.values()} == {"core"}
    assert registry.distribution_of("core") == f"dgs-core {dgs_core.__version__}"


def test_core_entry_point_is_not_loaded_a_second_time():
    core_points = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == "core"]
    assert core_points and core_points[0].value == "dgs_core.builtin", "dgs-core must declare its entry point"
    # Block every other installed plugin so only core's entry point is in play.
    others = tuple(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name != "core")
    registry = PluginRegistry(autoload=True, blocked=others)
    assert [plugin for plugin in registry.pm.get_plugins() if plugin is builtin] == [builtin]
    assert registry.names("vector_store") == ["memory"]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_family_registers_through_its_own_hook(family):
    registry = fresh_registry()
    registered_class = type(f"Example{family.title()}", (), {})
    registry.register_plugin(registering_plugin(family, "example", registered_class), name="example_plugin")
    registrations = registry.registrations()
    registration = registrations[family]["example"]
    assert (registration.cls, registration.plugin, registration.distribution) == (
        registered_class,
        "example_plugin",
        "example_plugin",  # registered by hand, so no distribution: the plugin name stands in
    )
    assert all("example" not in names for other, names in registrations.items() if other != family)


def test_registering_a_plugin_resets_the_cached_names():
    registry = fresh_registry()
    assert "echo" not in registry.names("vector_store")
    registry.register_plugin(registering_plugin("vector_store", "echo", EchoStore), name="echo_plugin")
    assert registry.names("vector_store") == ["echo", "memory"]
    registry.unregister_plugin("echo_plugin")
    assert registry.names("vector_store") == ["memory"]


def test_get_class_returns_the_class_and_records_its_own_name():
    registry = fresh_registry()
    registry.register_plugin(registering_plugin("embedder", "echo-embedder", EchoEmbedder), name="echo_plugin")
    assert registry.get_class("embedder", "hashing") is HashingEmbedder
    assert registry.get_class("embedder", "echo-embedder") is EchoEmbedder
    # A subclass of a registered class gets its own name, not the one it would inherit.
    assert (HashingEmbedder.registered_name, EchoEmbedder.registered_name) == ("hashing", "echo-embedder")
    assert issubclass(registry.get_class("vector_store", "memory"), VectorStore)


def test_get_class_of_an_unknown_name_lists_the_installed_names_and_the_setting():
    registry = fresh_registry()
    registry.register_plugin(registering_plugin("vector_store", "echo", EchoStore), name="echo_plugin")
    with pytest.raises(PluginError) as error:
        registry.get_class("vector_store", "ecco")
    message = str(error.value)
    assert "'ecco'" in message and 'VECTOR_STORE["BACKEND"]' in message
    assert "echo, memory" in message
    assert "pip install" not in message


def test_get_class_of_a_known_but_missing_plugin_gives_the_pip_command():
    registry = fresh_registry()  # no autoload: dgs-faiss is not loaded even when installed
    with pytest.raises(PluginError, match=r'pip install --find-links dist "dgs-core\[faiss\]"'):
        registry.get_class("vector_store", "faiss")
    missing = r'pip install --find-links dist "dgs-core\[sentence-transformers\]"'
    with pytest.raises(PluginError, match=missing) as error:
        registry.get_class("embedder", "sentence-transformers")
    assert "EMBEDDINGS[<profile>]" in str(error.value) and "hashing" in str(error.value)


def test_a_name_registered_twice_is_refused_naming_both_plugins():
    registry = fresh_registry()
    registry.register_plugin(registering_plugin("vector_store", "memory", EchoStore), name="rival_plugin")
    with pytest.raises(PluginError) as error:
        registry.registrations()
    message = str(error.value)
    assert f"dgs-core {dgs_core.__version__} (plugin 'core')" in message
    assert "(plugin 'rival_plugin')" in message
    assert "DGS_DISABLED_PLUGINS=" in message


def test_blocked_plugins_are_not_registered():
    registry = PluginRegistry(autoload=False, blocked=("rival_plugin",))
    registry.register_plugin(registering_plugin("vector_store", "memory", EchoStore), name="rival_plugin")
    assert registry.get_class("vector_store", "memory") is MemoryVectorStore


def test_check_pending_rejects_a_misspelled_hook():
    registry = fresh_registry()

    @dgs_core.hookimpl
    def dgs_register_vectorstores(register):  # the spec is dgs_register_vector_stores
        register("echo", EchoStore)

    with pytest.raises(pluggy.PluginValidationError, match="dgs_register_vectorstores"):
        registry.register_plugin(SimpleNamespace(dgs_register_vectorstores=dgs_register_vectorstores), name="typo")


def test_an_argument_the_spec_does_not_have_is_rejected():
    registry = fresh_registry()

    @dgs_core.hookimpl
    def dgs_build_text(instance, document):  # the spec has no "document"
        return "text"

    with pytest.raises(pluggy.PluginValidationError, match="document"):
        registry.register_plugin(SimpleNamespace(dgs_build_text=dgs_build_text), name="bad_args")


# -- override hooks (firstresult) --------------------------------------------------------------------


@pytest.fixture
def build_text_call():
    """Arguments of one dgs_build_text call for an unsaved product, with two weighted sections."""
    from tests.shop.models import Product

    sections = [
        Section("name", "Name", ["Red phone"], 2.0),
        Section("category__name", "Category", ["Phones"], 1.0),
    ]
    return {
        "instance": Product(name="Red phone"),
        "sections": sections,
        "model_config": ModelConfig("shop.Product", fields=("name", "category__name")),
        "config": GraphSearchConfig(),
    }


def test_core_builds_classic_text_when_no_plugin_overrides(build_text_call):
    registry = fresh_registry()
    assert registry.hook.dgs_build_text(**build_text_call) == classic_text(build_text_call["sections"])


def test_a_plugin_build_text_wins_over_core_and_none_falls_back(build_text_call):
    @dgs_core.hookimpl
    def dgs_build_text(sections, model_config):
        if model_config.model_label != "shop.product":
            return None
        return " | ".join(f"{s.label}={s.text}" for s in sections)

    registry = fresh_registry()
    registry.register_plugin(SimpleNamespace(dgs_build_text=dgs_build_text), name="labels")
    assert registry.hook.dgs_build_text(**build_text_call) == "Name=Red phone | Category=Phones"

    review_call = {**build_text_call, "model_config": ModelConfig("shop.Review", fields=("title",))}
    assert registry.hook.dgs_build_text(**review_call) == classic_text(build_text_call["sections"])


def test_a_plugin_field_text_wins_and_none_falls_back_to_core():
    from tests.shop.models import Product

    @dgs_core.hookimpl
    def dgs_field_text(value, path):
        return [value.upper()] if path == "sku" else None

    registry = fresh_registry()
    registry.register_plugin(SimpleNamespace(dgs_field_text=dgs_field_text), name="shout_sku")
    sku, name = Product._meta.get_field("sku"), Product._meta.get_field("name")
    assert registry.hook.dgs_field_text(value="ab-12", field=sku, path="sku") == ["AB-12"]
    assert registry.hook.dgs_field_text(value="  Red   phone ", field=name, path="name") == ["Red phone"]


def test_a_plugin_search_pipeline_wins_only_when_it_answers():
    class NamedPipeline(VectorSearchPipeline):
        pass

    @dgs_core.hookimpl
    def dgs_search_pipeline(config):
        return NamedPipeline() if config.smart_indexing.enabled else None

    registry = fresh_registry()
    registry.register_plugin(SimpleNamespace(dgs_search_pipeline=dgs_search_pipeline), name="named_pipeline")
    from dgs_core.conf import SmartIndexingConfig

    enabled = GraphSearchConfig(smart_indexing=SmartIndexingConfig(enabled=True))
    assert type(registry.hook.dgs_search_pipeline(config=enabled)) is NamedPipeline
    assert type(registry.hook.dgs_search_pipeline(config=GraphSearchConfig())) is VectorSearchPipeline


def test_extra_field_paths_of_every_plugin_are_collected():
    from tests.shop.models import Product

    def paths_plugin(paths):
        @dgs_core.hookimpl
        def dgs_extra_field_paths(model):
            return paths

        return SimpleNamespace(dgs_extra_field_paths=dgs_extra_field_paths)

    registry = fresh_registry()
    registry.register_plugin(paths_plugin(["tags__name"]), name="tags")
    registry.register_plugin(paths_plugin(["brand__name"]), name="brand")
    model_config = ModelConfig("shop.Product", fields=("name",))
    collected = registry.hook.dgs_extra_field_paths(model=Product, model_config=model_config)
    assert sorted(path for paths in collected for path in paths) == ["brand__name", "tags__name"]


def test_registered_classes_must_subclass_the_family_base():
    from dgs_core.engine import resolve_class

    # resolve_class works on the process registry; a dotted path to a non-embedder is refused by name.
    with pytest.raises(PluginError, match="not a subclass of dgs_core.base.Embedder"):
        resolve_class("embedder", "tests.test_plugins.EchoStore", Embedder)
