"""The chroma store passes the vector store contract, embedded at a PATH and against a real Chroma server."""

import uuid

import pytest

from dgs_chroma.store import ChromaVectorStore
from dgs_core.testing import VectorStoreContract


class TestChromaEmbedded(VectorStoreContract):
    @pytest.fixture
    def options(self, tmp_path):
        return {"path": str(tmp_path / "chroma")}

    @pytest.fixture
    def store(self, options):
        store = ChromaVectorStore(**options)
        yield store
        store.close()

    @pytest.fixture
    def reopen(self, options):
        return lambda: ChromaVectorStore(**options)

    @pytest.fixture
    def make_collection(self, options):
        return lambda name: ChromaVectorStore(**options, collection=name)


class TestChromaServer(TestChromaEmbedded):
    """The same suite over HTTP; each test uses its own collections on the session's server and drops them,
    and keeps its keyword index in its own KEYWORD_PATH."""

    @pytest.fixture
    def options(self, chroma_server, tmp_path):
        return {"host": "127.0.0.1", "port": chroma_server.port, "collection_name": f"test-{uuid.uuid4().hex}",
                "keyword_path": str(tmp_path / "keyword")}

    @pytest.fixture
    def store(self, options):
        store = ChromaVectorStore(**options)
        yield store
        store.drop()
        store.close()

    @pytest.fixture
    def make_collection(self, options):
        made = []

        def make(name):
            made.append(ChromaVectorStore(**options, collection=name))
            return made[-1]

        yield make
        for store in made:
            store.drop()
            store.close()
