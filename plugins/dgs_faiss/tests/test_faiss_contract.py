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


class TestFaissInMemory(VectorStoreContract):
    @pytest.fixture
    def store(self):
        store = FaissVectorStore()
        yield store
        store.close()
