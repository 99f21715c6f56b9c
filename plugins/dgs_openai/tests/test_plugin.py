"""The plugin module registers the embedder, through the registry and the installed entry point, cheaply."""

import subprocess
import sys
import textwrap

import dgs_openai.plugin
from dgs_core.testing.plugins import installed_registration, registered_by_hand
from dgs_openai.embedder import OpenAIEmbedder


def test_registry_resolves_the_name_with_the_plugin_registered_by_hand():
    registry = registered_by_hand(dgs_openai.plugin, "openai")
    assert registry.get_class("embedder", "openai") is OpenAIEmbedder


def test_the_installed_entry_point_registers_the_name():
    registration = installed_registration("embedder", "openai", "dgs_openai.plugin")
    assert registration.cls is OpenAIEmbedder
    assert registration.distribution == "dgs-openai 0.1.0"


def test_registering_checking_and_constructing_import_neither_the_sdk_nor_tiktoken():
    script = textwrap.dedent(
        """
        import sys
        import dgs_openai.plugin
        from dgs_core.plugins import PluginRegistry

        registry = PluginRegistry(autoload=False)
        registry.register_plugin(dgs_openai.plugin, name="openai")
        cls = registry.get_class("embedder", "openai")
        assert cls.check_options("text-embedding-3-small", {"api_key": "sk-test"}) == []
        embedder = cls(model_name="text-embedding-3-small", api_key="sk-test")
        print(embedder.id, embedder.dimension)
        print(sorted(m for m in ("openai", "tiktoken", "httpx", "httpx2") if m in sys.modules))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines() == ["openai:text-embedding-3-small|dimensions=1536 1536", "[]"]
