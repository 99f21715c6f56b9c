"""Settings sections and checks that plugins declare (dgs_register_settings_sections, dgs_system_checks), the
options of a transport in ASYNC_INDEXING, and install hints read from dgs-core's own extras."""

from dataclasses import dataclass, field
from typing import Optional

import pytest
from django.core import checks
from django.test import override_settings

import dgs_core
from dgs_core import plugins
from dgs_core.backends import MemoryVectorStore
from dgs_core.conf import BackendConfig, Problem, parse_config
from dgs_core.engine import get_transport
from dgs_core.indexing.transports import SyncTransport

BASE = {"VECTOR_STORE": {"BACKEND": "memory"}, "EMBEDDINGS": {"default": {"BACKEND": "hashing"}}}


@dataclass(frozen=True)
class Scoring:
    boost: int = 2
    fields: list = field(default_factory=list)


@dataclass(frozen=True)
class ExampleSettings:
    enabled: bool = False
    top_k: int = 20
    label: Optional[str] = None
    scoring: Scoring = field(default_factory=Scoring)
    reranker: BackendConfig = field(default_factory=lambda: BackendConfig("keyword-overlap"))


class ExamplePlugin:
    @dgs_core.hookimpl
    def dgs_register_settings_sections(self, register):
        register("EXAMPLE", ExampleSettings)

    @dgs_core.hookimpl
    def dgs_system_checks(self, config):
        settings = config.section("EXAMPLE") or ExampleSettings()
        if settings.enabled and settings.top_k > 100:
            return [Problem("dgs.E002", "GRAPH_SEARCH['EXAMPLE']['TOP_K'] must be at most 100.")]
        return []


class CacheSectionPlugin:
    @dgs_core.hookimpl
    def dgs_register_settings_sections(self, register):
        register("CACHE", ExampleSettings)


class CountingStorePlugin:
    """Counts the calls of its vector store registration hook."""

    calls = 0

    @dgs_core.hookimpl
    def dgs_register_vector_stores(self, register):
        CountingStorePlugin.calls += 1
        register("counting", MemoryVectorStore)


@pytest.fixture
def registry(monkeypatch):
    """A site with dgs-core and the example plugin installed, nothing else."""
    registry = plugins.PluginRegistry(autoload=False)
    registry.register_plugin(ExamplePlugin(), name="example")
    monkeypatch.setattr(plugins, "_registry", registry)
    return registry


def ids(problems):
    return sorted(p.id for p in problems)


def test_a_plugin_section_is_parsed_typed_and_defaulted(registry):
    config, problems = parse_config({"EXAMPLE": {
        "ENABLED": True, "LABEL": 3, "SCORING": {"BOOST": 5, "FIELDS": ("name",)},
        "RERANKER": {"BACKEND": "cross-encoder", "MODEL_NAME": "ms-marco", "OPTIONS": {"BATCH_SIZE": 8}}}})
    assert problems == []
    settings = config.section("EXAMPLE")
    assert (settings.enabled, settings.top_k, settings.label) == (True, 20, 3)
    assert settings.scoring == Scoring(5, ("name",))
    assert settings.reranker == BackendConfig("cross-encoder", {"batch_size": 8}, "ms-marco")
    assert parse_config({})[0].section("EXAMPLE") == ExampleSettings()


@pytest.mark.parametrize("raw, expected, key", [
    ({"EXAMPLE": {"TOP_K": "20"}}, ["dgs.E002"], "GRAPH_SEARCH['EXAMPLE']['TOP_K']"),
    ({"EXAMPLE": {"TOP_K": -1}}, ["dgs.E002"], "GRAPH_SEARCH['EXAMPLE']['TOP_K']"),
    ({"EXAMPLE": "on"}, ["dgs.E002"], "GRAPH_SEARCH['EXAMPLE']"),
    ({"EXAMPLE": {"SCORING": {"BOOST": 1.5}}}, ["dgs.E002"], "GRAPH_SEARCH['EXAMPLE']['SCORING']['BOOST']"),
    ({"EXAMPLE": {"SCORING": []}}, ["dgs.E002"], "GRAPH_SEARCH['EXAMPLE']['SCORING']"),
    ({"EXAMPLE": {"RERANKER": {"OPTIONS": {}}}}, ["dgs.E002"], "GRAPH_SEARCH['EXAMPLE']['RERANKER']"),
    ({"EXAMPLE": {"TOPK": 5}}, ["dgs.W001"], "GRAPH_SEARCH['EXAMPLE']['TOPK']"),
    ({"EXAMPLE": {"SCORING": {"BOST": 5}}}, ["dgs.W001"], "GRAPH_SEARCH['EXAMPLE']['SCORING']['BOST']"),
    ({"EXAMPL": {}}, ["dgs.W001"], "GRAPH_SEARCH['EXAMPL']"),
])
def test_mistakes_in_a_plugin_section_name_the_key(registry, raw, expected, key):
    _config, problems = parse_config(raw)
    assert ids(problems) == expected
    assert key in problems[0].msg


def test_the_section_is_none_for_a_configuration_parsed_without_its_plugin(monkeypatch):
    monkeypatch.setattr(plugins, "_registry", plugins.PluginRegistry(autoload=False))
    config, _ = parse_config({})
    assert config.section("EXAMPLE") is None
    replaced = config.with_section("EXAMPLE", ExampleSettings(enabled=True))
    assert replaced.section("EXAMPLE").enabled and config.section("EXAMPLE") is None


def test_parsing_settings_asks_for_the_sections_only(registry):
    # Registration hooks import their backends' modules: parsing settings (at every Django start) must not.
    registry.register_plugin(CountingStorePlugin(), name="counting")
    CountingStorePlugin.calls = 0
    parse_config({"EXAMPLE": {"ENABLED": True}})
    assert CountingStorePlugin.calls == 0
    assert "counting" in registry.names("vector_store") and CountingStorePlugin.calls == 1


def test_a_plugin_cannot_take_a_key_of_core(registry):
    registry.register_plugin(CacheSectionPlugin(), name="cache_section")
    config, problems = parse_config({"CACHE": {"BACKEND": "db"}})
    assert ids(problems) == ["dgs.E008"] and "'cache_section'" in problems[0].msg
    assert config.cache.backend == "db" and "CACHE" not in config.sections


def test_a_section_registered_twice_is_a_name_conflict(registry):
    registry.register_plugin(type("Rival", (ExamplePlugin,), {})(), name="rival")
    with override_settings(GRAPH_SEARCH=BASE):
        messages = [m for m in checks.run_checks() if m.id.startswith("dgs.")]
    assert [m.id for m in messages] == ["dgs.E008"] and "'EXAMPLE' is registered twice" in messages[0].msg


def test_plugin_checks_are_reported_by_manage_py_check(registry):
    with override_settings(GRAPH_SEARCH={**BASE, "EXAMPLE": {"ENABLED": True, "TOP_K": 500}}):
        messages = [(m.id, m.msg) for m in checks.run_checks() if m.id.startswith("dgs.")]
    assert messages == [("dgs.E002", "GRAPH_SEARCH['EXAMPLE']['TOP_K'] must be at most 100.")]


class QueueTransport(SyncTransport):
    """A transport whose own option is a constructor parameter, as dgs-celery's ``celery_queue``."""

    def __init__(self, queue: str = "indexing", **options):
        super().__init__(**options)
        self.queue = queue


def test_the_keys_of_a_transport_go_to_it_and_unknown_ones_are_warned_about():
    config, problems = parse_config({"ASYNC_INDEXING": {"THREAD_POOL_SIZE": 2, "QUEUE": "fast"}})
    assert problems == [] and config.async_indexing.options == {"queue": "fast"}
    transport = {"ENABLED": True, "BACKEND": "tests.test_plugin_settings.QueueTransport"}
    with override_settings(GRAPH_SEARCH={**BASE, "ASYNC_INDEXING": {**transport, "QUEUE": "fast"}}):
        assert [m for m in checks.run_checks() if m.id.startswith("dgs.")] == []
        assert get_transport().queue == "fast"
    with override_settings(GRAPH_SEARCH={**BASE, "ASYNC_INDEXING": {**transport, "QUEUES": "fast", "QUEUE": 3}}):
        messages = sorted((m.id, m.msg) for m in checks.run_checks() if m.id.startswith("dgs."))
    assert [id_ for id_, _ in messages] == ["dgs.E002", "dgs.W001"]
    assert "GRAPH_SEARCH['ASYNC_INDEXING']['QUEUE'] must be a string" in messages[0][1]
    assert "GRAPH_SEARCH['ASYNC_INDEXING']['QUEUES']" in messages[1][1]


def test_install_hints_come_from_dgs_cores_extras():
    hint = plugins.install_hint("django_q")
    assert hint.startswith('pip install --find-links dist "dgs-core[django-q]"')
    assert plugins.install_hint("LANGGRAPH").startswith('pip install --find-links dist "dgs-core[langgraph]"')
    assert plugins.install_hint("Sentence_Transformers").startswith(
        'pip install --find-links dist "dgs-core[sentence-transformers]"')
    assert plugins.install_hint("memory") is None and plugins.install_hint("all") is None
