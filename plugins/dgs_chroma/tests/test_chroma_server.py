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
