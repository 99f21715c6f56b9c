"""The plugin module registers the embedder, through the registry and the installed entry point, cheaply."""

import subprocess
import sys
import textwrap

import dgs_cohere.plugin
from dgs_cohere.embedder import CohereEmbedder
from dgs_core.testing.plugins import installed_registration, registered_by_hand


def test_registry_resolves_the_name_with_the_plugin_registered_by_hand():
    registry = registered_by_hand(dgs_cohere.plugin, "cohere")
    assert registry.get_class("embedder", "cohere") is CohereEmbedder


def test_the_installed_entry_point_registers_the_name():
    registration = installed_registration("embedder", "cohere", "dgs_cohere.plugin")
    assert registration.cls is CohereEmbedder
    assert registration.distribution == "dgs-cohere 0.1.0"


def test_registering_checking_and_constructing_do_not_import_the_sdk():
    script = textwrap.dedent(
        """
        import sys
        import dgs_cohere.plugin
        from dgs_core.plugins import PluginRegistry

        registry = PluginRegistry(autoload=False)
        registry.register_plugin(dgs_cohere.plugin, name="cohere")
        cls = registry.get_class("embedder", "cohere")
        assert cls.check_options("embed-english-v3.0", {"api_key": "co-test"}) == []
        embedder = cls(model_name="embed-english-v3.0", api_key="co-test")
        print(embedder.id, embedder.dimension)
        print(sorted(m for m in ("cohere", "httpx") if m in sys.modules))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines() == ["cohere:embed-english-v3.0|dimensions=1024 1024", "[]"]
