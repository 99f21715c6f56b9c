"""The distribution's entry point registers the store, and settings reach it (legacy names included)."""

from dgs_core.conf import BackendConfig
from dgs_core.engine import build_vector_store
from dgs_core.plugins import PluginRegistry
from dgs_faiss.store import FaissVectorStore


def test_entry_point_registers_the_faiss_store():
    registration = PluginRegistry().registrations()["vector_store"]["faiss"]
    assert registration.cls is FaissVectorStore
    assert registration.distribution.startswith("dgs-faiss ")


def test_legacy_persist_path_option_is_accepted_as_path(tmp_path):
    store = build_vector_store(BackendConfig("faiss", {"persist_path": str(tmp_path / "index")}))
    assert isinstance(store, FaissVectorStore)
    assert store.path == str(tmp_path / "index")
    assert "persistence" in store.capabilities
