"""The faiss store passes the vector store contract, persisted to a directory and in memory."""

import pytest

from dgs_core.testing import VectorStoreContract
from dgs_faiss.store import FaissVectorStore


class TestFaissOnDisk(VectorStoreContract):
    @pytest.fixture
    def store(self, tmp_path):
        store = FaissVectorStore(path=str(tmp_path / "vectors"))
        yield store
        store.close()

    @pytest.fixture
    def reopen(self, tmp_path):
        return lambda: FaissVectorStore(path=str(tmp_path / "vectors"))

    @pytest.fixture
    def make_collection(self, tmp_path):
        return lambda name: FaissVectorStore(path=str(tmp_path / "vectors"), collection=name)


class TestFaissInMemory(VectorStoreContract):
    @pytest.fixture
    def store(self):
        store = FaissVectorStore()
        yield store
        store.close()

    @pytest.fixture
    def make_collection(self):
        # Without PATH every instance keeps its own temporary directory, whatever its collection.
        return lambda name: FaissVectorStore(collection=name)
