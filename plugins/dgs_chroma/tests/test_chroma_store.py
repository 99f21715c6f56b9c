"""What the chroma store promises beyond the contract, on embedded Chroma: metrics, naming, batching, errors."""

import shutil
import subprocess
import sys

import chromadb
import pytest
from chromadb.config import Settings

from dgs_chroma.metadata import where_clause
from dgs_chroma.store import ChromaVectorStore
from dgs_core.base import cosine_to_score, document_id
from dgs_core.conf import BackendConfig
from dgs_core.engine import build_vector_store
from dgs_core.exceptions import CollectionMissing, ConfigurationError, EmbedderMismatchError
from dgs_core.filters import Condition
from dgs_core.testing.vector_store import PRODUCT, REVIEW, at_cosines, cosine, make_doc, random_vectors

DIMENSION = 16


@pytest.fixture
def raw_client(path):
    """chromadb's own client on the same directory, to look at what the store wrote."""
    client = chromadb.PersistentClient(path=path, settings=Settings(anonymized_telemetry=False))
    yield client
    client.close()


def assert_cosine_scores(store, vectors, query):
    hits = store.search(query, len(vectors))
    assert len(hits) == len(vectors)
    for hit in hits:
        assert hit.score == pytest.approx(cosine_to_score(cosine(query, vectors[int(hit.pk)])), abs=0.01), hit.id
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


@pytest.mark.parametrize("metric", ["cosine", "l2", "ip"])
def test_every_metric_scores_cosine_similarity(open_store, raw_client, metric):
    """A collection created with METRIC uses that Chroma space, and its distances map back to cosine."""
    store = open_store(metric=metric)
    vectors = random_vectors(30, DIMENSION, seed=1)
    store.upsert([make_doc(PRODUCT, i, vectors[i]) for i in range(30)])

    assert raw_client.get_collection("dgs").configuration["hnsw"]["space"] == metric
    assert_cosine_scores(store, vectors, random_vectors(1, DIMENSION, seed=2)[0] * 3.5)
    assert store.search(vectors[7], 1)[0].score == pytest.approx(1.0, abs=0.01)


def test_an_existing_collection_keeps_its_metric_and_scores_follow_it(open_store, raw_client):
    vectors = random_vectors(20, DIMENSION, seed=3)
    open_store(metric="l2").upsert([make_doc(PRODUCT, i, vectors[i]) for i in range(20)])

    reopened = open_store(metric="ip")
    assert_cosine_scores(reopened, vectors, random_vectors(1, DIMENSION, seed=4)[0])
    assert raw_client.get_collection("dgs").configuration["hnsw"]["space"] == "l2"


def test_collections_of_rebuilds_are_named_after_the_base_collection(open_store, raw_client):
    vectors = random_vectors(2, DIMENSION, seed=5)
    open_store(collection_name="shop").upsert([make_doc(PRODUCT, 1, vectors[0])])
    rebuild = open_store(collection_name="shop", collection="g1")
    rebuild.upsert([make_doc(PRODUCT, 2, vectors[1])])
    assert sorted(c.name for c in raw_client.list_collections()) == ["shop", "shop-g1"]

    rebuild.drop()
    assert [c.name for c in raw_client.list_collections()] == ["shop"]


def test_drop_by_another_instance_leaves_this_one_working(open_store):
    """``drop()`` deletes the collection; a process still holding it finds the new one on its next call."""
    vectors = random_vectors(3, DIMENSION, seed=6)
    web, command = open_store(), open_store()
    web.upsert([make_doc(PRODUCT, 1, vectors[0], text="first")])
    assert web.count() == 1
    command.record_embedder("test:model-a", DIMENSION)
    command.drop()

    assert web.count() == 0 and web.embedder_info() is None and web.keyword_search("first", 5) == []
    web.upsert([make_doc(REVIEW, 2, vectors[1], text="second")])
    assert [h.id for h in command.search(vectors[1], 5)] == [document_id(REVIEW, 2)]
    assert [h.id for h in command.keyword_search("second", 5)] == [document_id(REVIEW, 2)]


def test_the_embedder_record_survives_other_instances_writes_and_clear_of_models(open_store):
    vectors = random_vectors(3, DIMENSION, seed=7)
    store = open_store()
    store.record_embedder("test:model-a", DIMENSION)
    open_store().upsert([make_doc(PRODUCT, 1, vectors[0]), make_doc(REVIEW, 1, vectors[1])])
    store.clear([PRODUCT])
    assert list(store.iter_ids()) == [document_id(REVIEW, 1)]
    assert open_store().embedder_info() == {"embedder": "test:model-a", "dimension": DIMENSION}


def test_a_where_reaches_chroma_only_when_too_few_of_the_nearest_documents_pass(open_store, monkeypatch):
    """Chroma reads every id a ``where`` matches before searching, so the models restriction core sends with
    every search, or a filter most documents pass, would cost more than the search. Those searches are
    answered from the nearest documents without a ``where``; a selective filter still finds its k hits
    through Chroma's ``where``, first on the filters alone, then with the models too."""
    wheres = []
    query = random_vectors(1, DIMENSION, seed=14)[0]
    near = at_cosines(query, [0.95 - i * 0.01 for i in range(40)], seed=15)
    far = at_cosines(query, [0.1, 0.09, 0.08], seed=16)
    store = open_store()
    store.upsert([make_doc(PRODUCT, i, v, metadata={"genre": "Pop", "side": i % 2}) for i, v in enumerate(near)])
    store.upsert([make_doc(REVIEW, i, v, metadata={"genre": "Rare"}) for i, v in enumerate(far)])
    query_chroma = chromadb.Collection.query
    monkeypatch.setattr(chromadb.Collection, "query",
                        lambda self, **kwargs: wheres.append(kwargs.get("where")) or query_chroma(self, **kwargs))

    hits = store.search(query, 5, models=[PRODUCT])
    assert [h.id for h in hits] == [document_id(PRODUCT, i) for i in range(5)] and wheres == [None]
    wheres.clear()
    assert len(store.search(query, 5, models=[PRODUCT], filters=[Condition("genre", "exact", "Pop")])) == 5
    assert wheres == [None]
    wheres.clear()
    hits = store.search(query, 5, models=[PRODUCT], filters=[Condition("side", "exact", 1)])  # half the nearest pass
    assert [h.id for h in hits] == [document_id(PRODUCT, i) for i in range(1, 10, 2)] and wheres == [None, None]
    wheres.clear()
    rare = [Condition("genre", "exact", "Rare")]
    hits = store.search(query, 3, models=[PRODUCT, REVIEW], filters=rare)
    assert [h.id for h in hits] == [document_id(REVIEW, i) for i in range(3)]
    assert wheres == [None, where_clause(None, rare)]
    wheres.clear()
    assert store.search(query, 3, models=[PRODUCT], filters=rare) == []
    assert wheres == [None, where_clause(None, rare), where_clause([PRODUCT], rare)]


def test_vectors_of_another_dimension_are_an_embedder_mismatch(open_store):
    store = open_store()
    store.upsert([make_doc(PRODUCT, 1, random_vectors(1, DIMENSION, seed=8)[0])])
    other = random_vectors(1, 8, seed=9)[0]
    with pytest.raises(EmbedderMismatchError, match="build_search_index --rebuild"):
        store.upsert([make_doc(PRODUCT, 2, other)])
    with pytest.raises(EmbedderMismatchError, match="dimension"):
        store.search(other, 3)


def test_a_collection_not_written_by_dgs_is_refused(open_store, raw_client):
    foreign = raw_client.create_collection("legacy", embedding_function=None)
    foreign.add(ids=["x"], embeddings=random_vectors(1, DIMENSION, seed=10), metadatas=[{"text": "old"}])
    with pytest.raises(ConfigurationError, match="COLLECTION_NAME"):
        open_store(collection_name="legacy").search(random_vectors(1, DIMENSION, seed=11)[0], 3)


def test_writes_and_reads_above_the_clients_max_batch_size(open_store, raw_client):
    """Upsert, content_hashes, get_vectors, iter_ids and delete split what Chroma accepts in one request."""
    total = raw_client.get_max_batch_size() + 7
    store = open_store()
    vectors = random_vectors(total, DIMENSION, seed=12)
    ids = [document_id(PRODUCT, i) for i in range(total)]
    store.upsert([make_doc(PRODUCT, i, vectors[i]) for i in range(total)])

    assert store.count() == total
    assert sorted(store.iter_ids()) == sorted(ids)
    assert len(store.content_hashes(ids)) == total
    assert len(store.get_vectors(ids)) == total
    store.delete(ids[5:])
    assert sorted(store.iter_ids()) == sorted(ids[:5])


@pytest.mark.parametrize(("options", "named"), [
    ({"path": "x", "host": "localhost"}, "PATH"),
    ({}, "HOST"),
    ({"path": "x", "metric": "manhattan"}, "METRIC"),
    ({"path": "x", "collection_name": "a b"}, "COLLECTION_NAME"),
    ({"host": "localhost", "port": "eighty"}, "PORT"),
    ({"host": "localhost", "headers": "Bearer x"}, "HEADERS"),
    ({"host": "localhost", "ssl": "false"}, "SSL"),
    ({"path": "x", "persist": True}, "PERSIST"),
])
def test_bad_options_name_the_option(options, named):
    with pytest.raises(ConfigurationError, match=named):
        ChromaVectorStore(**options)


def test_legacy_django_graph_search_options_are_accepted(path):
    store = build_vector_store(BackendConfig("chroma", {
        "persist_directory": path, "collection_name": "django_graph_search", "distance_metric": "euclidean",
    }))
    assert (store.path, store.name, store.metric) == (path, "django_graph_search", "l2")


def test_a_document_another_process_deleted_is_never_a_hit(open_store, path):
    """Embedded Chroma keeps each process's vector index in memory, so it can still hold a document that
    another process deleted; the SQLite side no longer has it, and the store leaves it out."""
    vectors = random_vectors(20, DIMENSION, seed=13)
    store = open_store()
    store.upsert([make_doc(PRODUCT, i, vectors[i]) for i in range(20)])
    assert store.search(vectors[5], 1)[0].id == document_id(PRODUCT, 5)  # loads the index in this process

    script = "import sys; from dgs_chroma.store import ChromaVectorStore as S; S(path=sys.argv[1]).delete(sys.argv[2:])"
    child = subprocess.run([sys.executable, "-c", script, path, document_id(PRODUCT, 5)], capture_output=True,
                           text=True)
    assert child.returncode == 0, child.stderr

    hits = store.search(vectors[5], 3)
    assert len(hits) == 3 and document_id(PRODUCT, 5) not in {h.id for h in hits}


def test_a_deleted_directory_is_not_served_from_the_open_client(open_store, path):
    """Embedded Chroma's open client goes on reading the files of a deleted PATH; once dgs recorded a build
    (``must_exist``), the store looks at the database file and reports the index missing (REST 503) instead."""
    vectors = random_vectors(3, DIMENSION, seed=7)
    web = open_store()
    web.upsert([make_doc(PRODUCT, i, vectors[i], text=f"text {i}") for i in range(3)])
    web.must_exist = True
    assert web.count() == 3 and web.exists()
    shutil.rmtree(path)
    assert web.exists() is False
    for read in (lambda: web.search(vectors[0], 3), web.count, lambda: web.keyword_search("text", 3)):
        with pytest.raises(CollectionMissing):
            read()
