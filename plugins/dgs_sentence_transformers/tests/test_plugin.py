"""The plugin module registers the embedder, through the registry and the installed entry point, cheaply."""

import subprocess
import sys
import textwrap

import dgs_sentence_transformers.plugin
from dgs_core.testing.plugins import installed_registration, registered_by_hand
from dgs_sentence_transformers.embedder import SentenceTransformerEmbedder


def test_registry_resolves_the_name_with_the_plugin_registered_by_hand():
    registry = registered_by_hand(dgs_sentence_transformers.plugin, "sentence-transformers")
    assert registry.get_class("embedder", "sentence-transformers") is SentenceTransformerEmbedder
    assert "sentence-transformers" in registry.names("embedder")


def test_the_installed_entry_point_registers_the_name():
    registration = installed_registration("embedder", "sentence-transformers", "dgs_sentence_transformers.plugin")
    assert registration.cls is SentenceTransformerEmbedder
    assert registration.distribution == "dgs-sentence-transformers 0.1.0"


def test_registering_checking_and_constructing_import_neither_torch_nor_sentence_transformers(model_path):
    script = textwrap.dedent(
        f"""
        import sys
        import dgs_sentence_transformers.plugin
        from dgs_core.plugins import PluginRegistry

        registry = PluginRegistry(autoload=False)
        registry.register_plugin(dgs_sentence_transformers.plugin, name="sentence-transformers")
        cls = registry.get_class("embedder", "sentence-transformers")
        assert cls.check_options({model_path!r}, {{"batch_size": 8}}) == []
        embedder = cls(model_name={model_path!r}, batch_size=8)
        print(embedder.id)
        print(sorted(m for m in ("torch", "sentence_transformers", "transformers") if m in sys.modules))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines() == [f"sentence-transformers:{model_path}", "[]"]
