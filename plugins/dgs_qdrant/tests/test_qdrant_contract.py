"""The qdrant store passes the vector store contract in embedded mode (Qdrant Edge): in memory and in a directory.

No Qdrant server can run in CI here, so the server mode (URL) shares every code path with these runs
except the client construction and the transport, which tests/test_qdrant_store.py covers.
"""

import uuid

import pytest

from dgs_core.testing import VectorStoreContract
from dgs_qdrant.store import QdrantVectorStore


class TestQdrantInMemory(VectorStoreContract):
    """The in-memory Qdrant lives as long as the process, so each test takes collections of its own."""

    @pytest.fixture
    def base_name(self):
        return f"test_{uuid.uuid4().hex}"

    @pytest.fixture
    def store(self, base_name):
        store = QdrantVectorStore(path=":memory:", collection_name=base_name)
        yield store
        store.drop()
        store.close()

    @pytest.fixture
    def make_collection(self, base_name):
        return lambda name: QdrantVectorStore(path=":memory:", collection_name=base_name, collection=name)


class TestQdrantLocalDirectory(VectorStoreContract):
    """Edge locks each shard to one process; stores on one PATH share the process's client,
    and ``reopen`` works because the suite closes ``store`` (the client's last user) first."""

    @pytest.fixture
    def store(self, local_dir):
        store = QdrantVectorStore(path=local_dir)
        yield store
        store.close()

    @pytest.fixture
    def reopen(self, local_dir):
        return lambda: QdrantVectorStore(path=local_dir)

    @pytest.fixture
    def make_collection(self, local_dir):
        return lambda name: QdrantVectorStore(path=local_dir, collection=name)
