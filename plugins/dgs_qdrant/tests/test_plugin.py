"""The distribution's entry point registers the store, and settings reach it (with every mistake named)."""

import os
import subprocess
import sys

import pytest

from dgs_core.conf import BackendConfig
from dgs_core.engine import build_vector_store
from dgs_core.exceptions import ConfigurationError
from dgs_core.plugins import PluginRegistry
from dgs_qdrant.store import QdrantVectorStore


def test_entry_point_registers_the_qdrant_store():
    registry = PluginRegistry()
    registration = registry.registrations()["vector_store"]["qdrant"]
    assert registration.cls == "dgs_qdrant.store.QdrantVectorStore"  # by path: imported when selected
    assert registration.distribution.startswith("dgs-qdrant ")
    assert registry.get_class("vector_store", "qdrant") is QdrantVectorStore


def test_registering_every_plugin_does_not_import_qdrant_client():
    """Sites that select another store never pay for qdrant_client."""
    script = ("import sys; from dgs_core.plugins import PluginRegistry; PluginRegistry().registrations(); "
              "assert 'qdrant_client' not in sys.modules, 'qdrant_client was imported'")
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                           env={**os.environ, "DJANGO_SETTINGS_MODULE": ""})
    assert child.returncode == 0, child.stderr


def test_loading_the_plugin_does_not_import_qdrant_client():
    """Django start-up loads every plugin module; the engine is imported when the store is first built."""
    script = "import sys, dgs_qdrant.plugin; assert 'qdrant_client' not in sys.modules, 'qdrant_client was imported'"
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr


def test_options_select_the_server_and_the_collection():
    store = build_vector_store(BackendConfig("qdrant", {
        "url": "https://qdrant.example:6333", "api_key": "k", "prefer_grpc": True, "grpc_port": 7334, "timeout": 5,
        "on_disk": True, "hnsw_ef": 128, "collection_name": "shop", "collection": "g2",
    }))
    assert store.name == "shop_g2"
    location = store.location
    assert (location.url, location.api_key, location.prefer_grpc) == ("https://qdrant.example:6333", "k", True)
    assert (location.grpc_port, location.timeout) == (7334, 5)
    assert (store.settings.on_disk, store.settings.hnsw_ef) == (True, 128)


def test_local_mode_paths_and_the_default_collection(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = QdrantVectorStore(path="var/qdrant")
    assert store.location.path == os.path.join(str(tmp_path), "var", "qdrant")
    assert (store.name, store.capabilities) == ("dgs", {"filters", "keyword", "persistence"})
    assert QdrantVectorStore(path=":memory:").capabilities == {"filters", "keyword"}


def test_legacy_django_graph_search_options():
    store = QdrantVectorStore(path=":memory:", collection_name="django_search", distance="Cosine")
    assert store.name == "django_search"
    with pytest.raises(ConfigurationError, match=r"\['DISTANCE'\] is 'Dot'; dgs-qdrant always uses cosine"):
        QdrantVectorStore(path=":memory:", distance="Dot")


@pytest.mark.parametrize(("options", "message"), [
    ({"path": ":memory:", "host": "localhost"}, r"unknown keys HOST; .* accepts URL, API_KEY"),
    ({}, r"exactly one of VECTOR_STORE\['OPTIONS'\]\['URL'\].*and VECTOR_STORE\['OPTIONS'\]\['PATH'\]"),
    ({"url": "http://localhost:6333", "path": "/tmp/q"}, "exactly one of"),
    ({"path": ":memory:", "hnsw_ef": 64, "api_key": "k"}, r"\['API_KEY'\], .*\['HNSW_EF'\] apply to a Qdrant server"),
    ({"url": "http://localhost:6333", "prefer_grpc": "yes"}, r"\['PREFER_GRPC'\] must be True or False"),
    ({"url": "http://localhost:6333", "timeout": 0}, r"\['TIMEOUT'\] must be a positive integer"),
    ({"url": "http://localhost:6333", "hnsw_ef": 1.5}, r"\['HNSW_EF'\] must be a positive integer"),
    ({"path": ":memory:", "collection_name": "a/b"}, r"\['COLLECTION_NAME'\] is 'a/b'"),
    ({"path": ":memory:", "collection_name": ""}, r"\['COLLECTION_NAME'\] must be a non-empty string"),
], ids=["unknown", "neither", "both", "server-only", "flag", "timeout", "hnsw-ef", "bad-name", "empty-name"])
def test_mistakes_name_the_option(options, message):
    with pytest.raises(ConfigurationError, match=message):
        QdrantVectorStore(**options)


def test_path_that_is_a_file_is_refused(tmp_path):
    file = tmp_path / "index.pkl"
    file.write_bytes(b"")
    with pytest.raises(ConfigurationError, match="a file; local mode keeps a directory there"):
        QdrantVectorStore(path=str(file))
