"""What the qdrant store promises beyond the contract: its point ids and payload as another Qdrant Edge
program sees them, the embedder record beside the shard, collections per rebuild, and the errors."""

import json
import os
import socket
import subprocess
import sys
import textwrap
import uuid

import numpy as np
import pytest
import qdrant_edge as edge

from dgs_core.base import document_id
from dgs_core.exceptions import BackendUnavailable, EmbedderMismatchError
from dgs_core.filters import Condition
from dgs_core.testing.vector_store import PRODUCT, REVIEW, make_doc, opener, random_vectors
from dgs_qdrant.store import KEYWORD_VECTOR, POINT_ID_NAMESPACE, QdrantVectorStore, point_id

DIMENSION = 16


@pytest.fixture
def raw_shard(local_dir):
    """Opens a collection's shard with Qdrant Edge itself, as another tool would (the stores must be closed)."""
    with opener(lambda name="dgs": edge.EdgeShard.load(os.path.join(local_dir, name))) as open_raw:
        yield open_raw


def shard_config(local_dir, name):
    with open(os.path.join(local_dir, name, "edge_config.json")) as config:
        return json.load(config)


def collections(local_dir):
    """The shards in the directory (aliases, which are links, left out)."""
    return sorted(entry.name for entry in os.scandir(local_dir)
                  if not entry.is_symlink() and os.path.exists(os.path.join(entry.path, "edge_config.json")))


def test_point_ids_are_uuid5_of_the_document_id_and_never_change():
    doc_id = document_id(PRODUCT, 42)
    assert point_id(doc_id) == str(uuid.uuid5(POINT_ID_NAMESPACE, "shop.product:42"))
    # Pinned: points written by earlier versions must keep being found and replaced.
    assert point_id(doc_id) == "8f861f6c-1617-5d84-bb27-3f34c48e6060"
    assert uuid.UUID(point_id(doc_id)).version == 5
    assert point_id(document_id(PRODUCT, "42")) == point_id(doc_id)
    assert point_id(document_id(REVIEW, 42)) != point_id(doc_id)


def test_points_as_another_client_sees_them(local_dir, raw_shard):
    vectors = random_vectors(2, DIMENSION, seed=1)
    metadata = {"genre__name": "Rock", "tags__name": [None, "live"], "album__title": None}
    store = QdrantVectorStore(path=local_dir)
    store.upsert([
        make_doc(PRODUCT, 7, vectors[0], text="Stairway", metadata=metadata),
        make_doc(REVIEW, 1, vectors[1]),
    ])
    store.record_embedder("test-embedder:model-a", DIMENSION)
    store.close()

    config = shard_config(local_dir, "dgs")
    assert config["vectors"][""] == {"size": DIMENSION, "distance": "Cosine"}
    assert config["sparse_vectors"][KEYWORD_VECTOR]["modifier"] == "idf"
    with open(os.path.join(local_dir, "dgs.dgs.json")) as record:
        assert json.load(record) == {"dgs_embedder": "test-embedder:model-a", "dgs_dimension": DIMENSION}
    [point] = raw_shard(name="dgs").retrieve([point_id(document_id(PRODUCT, 7))], with_payload=True, with_vector=True)
    assert point.payload == {
        "id": "shop.product:7", "model": PRODUCT, "pk": "7", "text": "Stairway", "content_hash": "hash-7",
        "metadata": metadata,
        "filter_values": {"genre__name": "Rock", "tags__name": ["live"], "album__title": None},
    }
    unit = vectors[0] / np.linalg.norm(vectors[0])
    assert np.allclose(point.vector[""], unit, atol=1e-5)
    # Pinned: the MurmurHash3 of the stem "stairway", so terms written by earlier versions keep matching.
    assert point.vector[KEYWORD_VECTOR].indices == [2209261978]
    assert point.vector[KEYWORD_VECTOR].values == pytest.approx([2.2 / (1 + 1.2 * (0.25 + 0.75 / 256))])


def test_embedder_record_lives_in_the_collection_metadata_and_guards_the_dimension(local_dir):
    store = QdrantVectorStore(path=local_dir)
    store.record_embedder("test-embedder:model-a", DIMENSION)  # creates the empty collection
    assert store.count() == 0
    store.close()
    store = QdrantVectorStore(path=local_dir)
    assert store.embedder_info() == {"embedder": "test-embedder:model-a", "dimension": DIMENSION}
    with pytest.raises(EmbedderMismatchError, match=r"holds 16-dimensional vectors, but 8-dimensional.*--rebuild"):
        store.upsert([make_doc(PRODUCT, 1, random_vectors(1, 8, seed=2)[0])])
    with pytest.raises(EmbedderMismatchError, match="8-dimensional"):
        store.search(random_vectors(1, 8, seed=2)[0], 3)
    with pytest.raises(EmbedderMismatchError, match="being filled by 'test-embedder:model-a'"):
        store.record_embedder("test-embedder:model-b", DIMENSION)
    store.clear()  # clearing keeps the collection, so the record (and the guard) stay
    assert store.embedder_info() == {"embedder": "test-embedder:model-a", "dimension": DIMENSION}
    store.close()


def test_rebuild_collections_are_named_after_the_base_and_drop_deletes_one(local_dir):
    vectors = random_vectors(2, DIMENSION, seed=3)
    live = QdrantVectorStore(path=local_dir, collection_name="shop")
    pending = QdrantVectorStore(path=local_dir, collection_name="shop", collection="g1")
    live.upsert([make_doc(PRODUCT, 1, vectors[0])])
    pending.upsert([make_doc(PRODUCT, 2, vectors[1])])
    live.drop()
    assert live.count() == 0 and live.search(vectors[0], 5) == []
    assert [h.id for h in pending.search(vectors[0], 5)] == [document_id(PRODUCT, 2)]
    live.close()
    pending.close()
    assert collections(local_dir) == ["shop_g1"]


def test_the_in_memory_qdrant_outlives_its_stores_until_dropped():
    """Core rebuilds its store objects when settings change; the in-memory data must not vanish with them."""
    vector = random_vectors(1, DIMENSION, seed=6)[0]
    first = QdrantVectorStore(path=":memory:", collection_name="outlives")
    first.upsert([make_doc(PRODUCT, 1, vector)])
    first.record_embedder("test-embedder:model-a", DIMENSION)
    first.close()
    second = QdrantVectorStore(path=":memory:", collection_name="outlives")
    assert [h.id for h in second.search(vector, 3)] == [document_id(PRODUCT, 1)]
    assert second.embedder_info() == {"embedder": "test-embedder:model-a", "dimension": DIMENSION}
    second.drop()
    assert second.count() == 0 and second.embedder_info() is None
    second.close()


def test_a_second_process_on_the_same_path_gets_a_clear_error(local_dir):
    store = QdrantVectorStore(path=local_dir)
    store.upsert([make_doc(PRODUCT, 1, random_vectors(1, DIMENSION, seed=4)[0])])
    script = textwrap.dedent(
        """
        import sys
        from dgs_core.exceptions import BackendUnavailable
        from dgs_qdrant.store import QdrantVectorStore

        try:
            QdrantVectorStore(path=sys.argv[1]).count()
        except BackendUnavailable as exc:
            print(exc)
        """
    )
    child = subprocess.run([sys.executable, "-c", script, local_dir], capture_output=True, text=True, timeout=120)
    store.close()
    assert child.returncode == 0, child.stderr
    assert "already open in another process" in child.stdout
    assert "set VECTOR_STORE['OPTIONS']['URL'] instead of PATH" in child.stdout


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("prefer_grpc", [False, True], ids=["rest", "grpc"])
def test_unreachable_server_raises_backend_unavailable_naming_the_url(prefer_grpc):
    port = closed_port()
    url = f"https://127.0.0.1:{port}"
    options = {"prefer_grpc": True, "grpc_port": closed_port()} if prefer_grpc else {}
    store = QdrantVectorStore(url=url, api_key="secret", timeout=2, **options)  # connects lazily: no error yet
    assert store.capabilities == {"filters", "keyword", "persistence"}
    assert "secret" not in repr(store.location)
    vector = random_vectors(1, DIMENSION, seed=5)[0]
    calls = [
        lambda: store.search(vector, 3),
        lambda: store.upsert([make_doc(PRODUCT, 1, vector)]),
        lambda: store.count(),
        lambda: store.embedder_info(),
    ]
    for call in calls:
        with pytest.raises(BackendUnavailable, match=f"Cannot reach the Qdrant server at URL '{url}'") as raised:
            call()
        assert "VECTOR_STORE['OPTIONS']['URL']" in str(raised.value)
        assert ("GRPC_PORT" in str(raised.value)) == prefer_grpc
    store.close()


def test_a_collection_without_the_sparse_vector_keeps_working_and_says_rebuild(local_dir, caplog):
    """Collections created before keyword search have only the dense vector: writes and vector search go on,
    keyword search finds nothing (a hybrid search still answers) and the log names the rebuild."""
    config = edge.EdgeConfig(vectors=edge.EdgeVectorParams(size=DIMENSION, distance=edge.Distance.Cosine))
    edge.EdgeShard.create(os.path.join(local_dir, "dgs"), config).close()
    vectors = random_vectors(2, DIMENSION, seed=7)
    store = QdrantVectorStore(path=local_dir)
    store.upsert([make_doc(PRODUCT, 1, vectors[0], text="Whole Lotta Love"), make_doc(PRODUCT, 2, vectors[1])])
    assert [h.id for h in store.search(vectors[0], 1)] == [document_id(PRODUCT, 1)]
    assert np.allclose(store.get_vectors([document_id(PRODUCT, 1)])[document_id(PRODUCT, 1)],
                       vectors[0] / np.linalg.norm(vectors[0]), atol=1e-5)
    with caplog.at_level("WARNING", logger="dgs_qdrant"):
        assert store.keyword_search("love", 5) == []
        assert store.keyword_search("love", 5) == []
    [warning] = caplog.records
    assert "no sparse vector 'text'" in warning.getMessage()
    assert "build_search_index --rebuild" in warning.getMessage()
    store.close()


def aliases(local_dir):
    """Embedded mode's aliases: symbolic links to the shard, which any Edge program opens by the alias."""
    return {entry.name: os.readlink(entry.path) for entry in os.scandir(local_dir) if entry.is_symlink()}


def test_publish_points_the_base_name_at_each_live_collection(local_dir, raw_shard):
    """The rebuild sequence of core (publish the new live collection, then drop the old one), twice."""
    vectors = random_vectors(3, DIMENSION, seed=8)
    unversioned = QdrantVectorStore(path=local_dir, collection_name="shop")
    unversioned.upsert([make_doc(PRODUCT, 0, vectors[0])])
    unversioned.publish()  # carries the name itself: nothing to alias
    first = QdrantVectorStore(path=local_dir, collection_name="shop", collection="g1")
    first.upsert([make_doc(PRODUCT, i, vectors[i]) for i in (1, 2)])
    first.publish()  # "shop" is still a collection: the alias waits for its drop
    assert unversioned.count() == 1
    unversioned.drop()
    assert unversioned.count() == 2  # the name now reads the live collection through the alias
    second = QdrantVectorStore(path=local_dir, collection_name="shop", collection="g2")
    second.upsert([make_doc(PRODUCT, 2, vectors[2])])
    second.publish()
    first.drop()
    for store in (unversioned, first, second):
        store.close()

    assert aliases(local_dir) == {"shop": "shop_g2"}
    assert collections(local_dir) == ["shop_g2"]
    query = edge.QueryRequest(limit=1, query=edge.Query.Nearest(vectors[2].tolist()), with_payload=["id"])
    [point] = raw_shard(name="shop").query(query)
    assert point.payload["id"] == document_id(PRODUCT, 2)


def test_publish_failures_are_logged_not_raised(caplog):
    """Core's pointer has switched already when it publishes: a refused alias must not abort the rebuild."""
    store = QdrantVectorStore(path=":memory:", collection_name=f"test_{uuid.uuid4().hex}", collection="g1")
    with caplog.at_level("WARNING", logger="dgs_qdrant"):
        store.publish()  # the collection does not exist, so the alias cannot point at it
    [warning] = caplog.records
    assert f"Could not point the Qdrant alias {store.settings.collection_name!r}" in warning.getMessage()
    store.close()


def test_metadata_conditions_come_before_the_models_restriction():
    """Local mode checks a point's conditions in order and stops at the first that fails, and metadata
    filters usually reject more points than the models restriction (Chinook p50 76 ms -> 56 ms)."""
    store = QdrantVectorStore(path=":memory:")
    must = store._conditions([PRODUCT], [Condition("genre__name", "exact", "Rock")])
    assert [condition.key for condition in must] == ["filter_values.genre__name", "model"]
    assert store._conditions([PRODUCT], [Condition("genre__name", "in", [None])]) is None  # nothing can match
    store.close()


def test_an_index_of_the_old_local_layout_is_refused_with_the_rebuild_command(local_dir):
    """dgs-qdrant before Qdrant Edge kept PATH in qdrant-client's local mode, which Edge cannot read: the old
    collection says how to rebuild, the rebuild's collection works beside it, and dropping the old one (the end
    of the rebuild) deletes it."""
    from qdrant_client import QdrantClient
    from qdrant_client import models as qm

    old = QdrantClient(path=local_dir)
    old.create_collection("dgs", vectors_config=qm.VectorParams(size=DIMENSION, distance=qm.Distance.COSINE))
    old.close()
    vector = random_vectors(1, DIMENSION, seed=9)[0]
    live = QdrantVectorStore(path=local_dir)
    for call in (lambda: live.search(vector, 3), live.count, live.embedder_info,
                 lambda: live.upsert([make_doc(PRODUCT, 1, vector)])):
        with pytest.raises(BackendUnavailable, match="layout of qdrant-client's local mode") as raised:
            call()
        assert "`python manage.py build_search_index --rebuild`" in str(raised.value)
    pending = QdrantVectorStore(path=local_dir, collection="g1")
    pending.upsert([make_doc(PRODUCT, 1, vector)])
    pending.publish()
    live.drop()
    assert not os.path.exists(os.path.join(local_dir, "collection", "dgs"))
    assert [h.id for h in live.search(vector, 3)] == [document_id(PRODUCT, 1)]  # the alias reads the rebuild
    live.close()
    pending.close()


def test_a_rebuild_ends_with_the_shard_optimised(local_dir):
    """Edge optimises only when called; publish() (the end of a rebuild) calls it, and search stays exact."""
    vectors = random_vectors(3, DIMENSION, seed=10)
    store = QdrantVectorStore(path=local_dir, collection="g1")
    store.upsert([make_doc(PRODUCT, i, vectors[i]) for i in range(3)])
    with store._client() as client:
        shard = client._shard(store.name)
        before = shard.info().segments_count
        store.publish()
        assert shard.info().segments_count <= before
        assert client.optimize(store.name) is False  # nothing left to do
    assert [h.id for h in store.search(vectors[2], 1)] == [document_id(PRODUCT, 2)]
    store.close()
