"""Core's built-in ``memory`` store passes the vector store contract."""

import pytest

from dgs_core.backends import MemoryVectorStore
from dgs_core.testing import VectorStoreContract


class TestMemoryVectorStore(VectorStoreContract):
    @pytest.fixture
    def store(self):
        store = MemoryVectorStore(location="contract")
        yield store
        store.close()

    @pytest.fixture
    def make_collection(self):
        return lambda name: MemoryVectorStore(location="contract", collection=name)
