"""The distribution's entry point registers the store, and loading it stays cheap."""

import subprocess
import sys
import textwrap

from dgs_chroma.store import ChromaVectorStore
from dgs_core.plugins import PluginRegistry


def test_entry_point_registers_the_chroma_store():
    registration = PluginRegistry().registrations()["vector_store"]["chroma"]
    assert registration.cls is ChromaVectorStore
    assert registration.distribution.startswith("dgs-chroma ")


def test_chromadb_loads_on_first_use_and_its_embedding_model_never(tmp_path):
    """Django start-up (plugin module, store construction) does not import chromadb, and no store call
    runs Chroma's default embedding function, which would load onnxruntime and download a model."""
    script = textwrap.dedent(
        """
        import sys
        import dgs_chroma.plugin
        from dgs_chroma.store import ChromaVectorStore
        from dgs_core.filters import Condition
        from dgs_core.testing.vector_store import PRODUCT, make_doc, random_vectors

        store = ChromaVectorStore(path=sys.argv[1])
        assert "chromadb" not in sys.modules, "chromadb was imported before the store was used"
        vectors = random_vectors(2, 16, seed=0)
        store.record_embedder("test:model", 16)
        store.upsert([make_doc(PRODUCT, i, vectors[i], metadata={"tag": "a"}) for i in range(2)])
        assert store.search(vectors[0], 1, filters=[Condition("tag", "exact", "a")])[0].pk == "0"
        assert len(store.get_vectors([d for d in store.iter_ids()])) == 2
        store.close()
        assert "onnxruntime" not in sys.modules, "Chroma's default embedding function ran"
        """
    )
    child = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True)
    assert child.returncode == 0, child.stderr
