"""Server mode beyond the contract: servers that are not running, or stop while the store is in use."""

import pytest

from dgs_chroma.store import ChromaVectorStore
from dgs_core.base import document_id
from dgs_core.exceptions import BackendUnavailable
from dgs_core.testing.vector_store import PRODUCT, make_doc, random_vectors
from tests.conftest import ChromaServer, free_port

DIMENSION = 16


def test_a_server_that_is_not_running_is_reported_with_its_address():
    port = free_port()
    store = ChromaVectorStore(host="127.0.0.1", port=port)
    with pytest.raises(BackendUnavailable, match=rf"http://127\.0\.0\.1:{port} \(HOST/PORT/SSL\)"):
        store.search(random_vectors(1, DIMENSION, seed=1)[0], 3)
    with pytest.raises(BackendUnavailable, match="chroma run"):
        store.upsert([make_doc(PRODUCT, 1, random_vectors(1, DIMENSION, seed=1)[0])])


def test_a_server_that_goes_away_is_reported_and_the_store_recovers_when_it_is_back(tmp_path):
    data = tmp_path / "data"
    server = ChromaServer.start(data)
    store = ChromaVectorStore(host="127.0.0.1", port=server.port)
    vector = random_vectors(1, DIMENSION, seed=2)[0]
    try:
        store.upsert([make_doc(PRODUCT, 1, vector)])
        server.stop()
        with pytest.raises(BackendUnavailable, match="Cannot reach the Chroma server"):
            store.search(vector, 3)
        server = ChromaServer.start(data, port=server.port)
        assert [h.id for h in store.search(vector, 3)] == [document_id(PRODUCT, 1)]
    finally:
        store.close()
        server.stop()


def test_writes_the_server_refuses_leave_the_keyword_index_as_it_was(tmp_path):
    """The keyword index is local: it answers while the server is down, and a write the server did not take
    (upsert or delete) is rolled back there too."""
    server = ChromaServer.start(tmp_path / "data")
    store = ChromaVectorStore(host="127.0.0.1", port=server.port, keyword_path=str(tmp_path / "keyword"))
    vectors = random_vectors(2, DIMENSION, seed=3)
    try:
        store.upsert([make_doc(PRODUCT, 1, vectors[0], text="guitar")])
        server.stop()
        with pytest.raises(BackendUnavailable):
            store.upsert([make_doc(PRODUCT, 2, vectors[1], text="xylophone")])
        with pytest.raises(BackendUnavailable):
            store.delete([document_id(PRODUCT, 1)])
        assert store.keyword_search("xylophone", 5) == []
        assert [h.id for h in store.keyword_search("guitar", 5)] == [document_id(PRODUCT, 1)]
    finally:
        store.close()
        server.stop()
