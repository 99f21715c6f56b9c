"""What the faiss store promises beyond the contract: shared directories, append-only writes, compaction."""

import glob
import os
import sqlite3

import pytest

from dgs_core.base import document_id
from dgs_core.exceptions import ConfigurationError, EmbedderMismatchError
from dgs_core.testing.vector_store import PRODUCT, REVIEW, make_doc, opener, random_vectors
from dgs_faiss.store import FaissVectorStore

DIMENSION = 16


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "vectors")


@pytest.fixture
def open_store(path):
    """Opens stores on ``path`` (as separate web workers would) and closes them after the test."""
    with opener(lambda: FaissVectorStore(path=path)) as open_one:
        yield open_one


def vectors_file(path):
    [name] = glob.glob(os.path.join(path, "vectors-*.f32"))
    return name


def upsert_products(store, vectors, pks):
    store.upsert([make_doc(PRODUCT, pk, vectors[pk]) for pk in pks])


def test_second_instance_on_the_same_path_sees_writes_replacements_and_deletes(open_store):
    writer, reader = open_store(), open_store()
    vectors = random_vectors(12, DIMENSION, seed=1)
    upsert_products(writer, vectors, range(10))
    assert reader.search(vectors[4], 1)[0].id == document_id(PRODUCT, 4)

    replacement = random_vectors(1, DIMENSION, seed=2)[0]
    writer.upsert([make_doc(PRODUCT, 1, replacement, text="replaced"), make_doc(PRODUCT, 11, vectors[11])])
    writer.delete([document_id(PRODUCT, 2)])

    assert reader.count() == 10
    best = reader.search(replacement, 1)[0]
    assert (best.id, best.text) == (document_id(PRODUCT, 1), "replaced")
    assert reader.search(vectors[11], 1)[0].id == document_id(PRODUCT, 11)
    assert document_id(PRODUCT, 2) not in {h.id for h in reader.search(vectors[2], 20)}
    assert len(reader.search(vectors[0], 20)) == 10


def test_single_upsert_appends_one_row_and_never_rewrites(open_store, path):
    store = open_store()
    stored = 5000
    vectors = random_vectors(stored + 1, DIMENSION, seed=3)
    upsert_products(store, vectors, range(stored))
    name = vectors_file(path)
    before = os.stat(name)
    with open(name, "rb") as f:
        earlier_bytes = f.read()

    upsert_products(store, vectors, [stored])  # a new document
    upsert_products(store, random_vectors(1, DIMENSION, seed=4), [0])  # a replaced one
    store.delete([document_id(PRODUCT, 1)])

    after = os.stat(name)
    assert vectors_file(path) == name
    assert after.st_ino == before.st_ino
    assert after.st_size == before.st_size + 2 * DIMENSION * 4
    with open(name, "rb") as f:
        assert f.read(len(earlier_bytes)) == earlier_bytes
    assert store.count() == stored


def test_compaction_drops_dead_rows_and_keeps_everything_searchable(open_store, path):
    store, other_process = open_store(), open_store()
    vectors = random_vectors(1500, DIMENSION, seed=5)
    upsert_products(store, vectors, range(1500))
    assert len(other_process.search(vectors[0], 5)) == 5  # loads the index before the compaction
    first_file = vectors_file(path)

    # 1200 dead rows outnumber the 300 live ones: the delete compacts in the same commit.
    store.delete([document_id(PRODUCT, pk) for pk in range(1200)])

    assert vectors_file(path) != first_file
    assert os.path.getsize(vectors_file(path)) == 300 * DIMENSION * 4
    for reader in (store, other_process):
        assert reader.count() == 300
        for pk in (1200, 1350, 1499):
            assert reader.search(vectors[pk], 1)[0].id == document_id(PRODUCT, pk)
        assert sorted(int(h.pk) for h in reader.search(vectors[5], 1000)) == list(range(1200, 1500))


def test_explicit_compaction_after_replacements(open_store, path):
    store = open_store()
    vectors = random_vectors(20, DIMENSION, seed=6)
    upsert_products(store, vectors, range(10))
    store.upsert([make_doc(PRODUCT, pk, vectors[pk + 10], text=f"v2 {pk}") for pk in range(10)])
    assert os.path.getsize(vectors_file(path)) == 20 * DIMENSION * 4

    store.compact()

    assert os.path.getsize(vectors_file(path)) == 10 * DIMENSION * 4
    for pk in range(10):
        best = store.search(vectors[pk + 10], 1)[0]
        assert (best.id, best.text) == (document_id(PRODUCT, pk), f"v2 {pk}")


def test_vectors_of_another_dimension_are_refused_until_the_store_is_emptied(open_store):
    store = open_store()
    store.upsert([make_doc(PRODUCT, 1, random_vectors(1, DIMENSION, seed=7)[0])])
    other = random_vectors(1, 8, seed=8)[0]

    with pytest.raises(
        EmbedderMismatchError, match=r"holds 16-dimensional .* received 8-dimensional.*build_search_index --rebuild"
    ):
        store.upsert([make_doc(REVIEW, 1, other)])
    with pytest.raises(EmbedderMismatchError, match="build_search_index --rebuild"):
        store.search(other, 5)
    assert store.embedder_info() is None  # nothing recorded: the dimension of the data is no embedder record

    store.clear([PRODUCT])  # an emptied store without an embedder record accepts any dimension
    store.upsert([make_doc(REVIEW, 1, other)])
    assert store.search(other, 5)[0].id == document_id(REVIEW, 1)


def test_embedder_record_binds_the_dimension_and_survives_clear_and_reopening(open_store):
    store = open_store()
    store.record_embedder("sentence-transformers:model-a", DIMENSION)
    store.upsert([make_doc(PRODUCT, 1, random_vectors(1, DIMENSION, seed=7)[0])])
    store.clear()

    with pytest.raises(EmbedderMismatchError, match=r"holds 16-dimensional .* received 8-dimensional"):
        store.upsert([make_doc(PRODUCT, 1, random_vectors(1, 8, seed=8)[0])])
    store.close()
    assert open_store().embedder_info() == {"embedder": "sentence-transformers:model-a", "dimension": DIMENSION}


def test_unknown_options_and_a_pickle_file_path_are_configuration_errors(tmp_path):
    with pytest.raises(ConfigurationError, match=r"unknown keys PAHT.*only PATH"):
        FaissVectorStore(paht=str(tmp_path))
    old_pickle = tmp_path / "faiss_index.pkl"
    old_pickle.write_bytes(b"\x80\x04old pickle")
    with pytest.raises(ConfigurationError, match="never loads pickles"):
        FaissVectorStore(path=str(old_pickle))


def test_persistence_is_declared_only_with_a_path(path):
    assert "persistence" in FaissVectorStore(path=path).capabilities
    assert "persistence" not in FaissVectorStore().capabilities


def test_in_memory_store_keeps_nothing_after_close():
    store = FaissVectorStore()
    vector = random_vectors(1, DIMENSION, seed=9)[0]
    store.upsert([make_doc(PRODUCT, 1, vector)])
    store.close()
    assert store.count() == 0
    assert store.search(vector, 1) == []
    store.close()


def test_named_collections_live_in_their_own_directory_and_drop_removes_it(path, open_store):
    default = open_store()
    vectors = random_vectors(4, DIMENSION, seed=10)
    upsert_products(default, vectors, range(2))
    rebuild = FaissVectorStore(path=path, collection="g1")
    upsert_products(rebuild, vectors, range(2, 4))
    rebuild.record_embedder("sentence-transformers:new", DIMENSION)
    assert os.path.exists(os.path.join(path, "collections", "g1", "documents.sqlite3"))

    rebuild.drop()
    assert not os.path.exists(os.path.join(path, "collections", "g1"))
    assert rebuild.count() == 0 and rebuild.embedder_info() is None  # a dropped collection starts empty
    rebuild.close()
    assert default.count() == 2


def test_dropping_the_default_collection_keeps_the_others(path):
    default = FaissVectorStore(path=path)
    upsert_products(default, random_vectors(2, DIMENSION, seed=11), range(2))
    default.record_embedder("sentence-transformers:old", DIMENSION)
    live = FaissVectorStore(path=path, collection="g2")
    upsert_products(live, random_vectors(3, DIMENSION, seed=12), range(3))

    default.drop()

    assert sorted(os.listdir(path)) == ["collections"]
    assert default.count() == 0 and default.embedder_info() is None
    assert live.count() == 3
    default.close()
    live.close()


def test_collection_names_that_are_not_plain_directory_names_are_refused(path):
    for name in ("../escape", "a/b", ".", ".hidden", "x" * 101):
        with pytest.raises(ConfigurationError, match="'collection' option"):
            FaissVectorStore(path=path, collection=name)


def test_an_index_written_before_embedder_records_existed_still_opens(path):
    """Files written before embedder records existed have no embedder table: it is added on open."""
    store = FaissVectorStore(path=path)
    vectors = random_vectors(3, DIMENSION, seed=13)
    upsert_products(store, vectors, range(3))
    store.close()
    with sqlite3.connect(os.path.join(path, "documents.sqlite3")) as conn:
        conn.execute("DROP TABLE embedder")

    reopened = FaissVectorStore(path=path)
    assert reopened.embedder_info() is None
    assert reopened.search(vectors[1], 1)[0].id == document_id(PRODUCT, 1)
    reopened.record_embedder("sentence-transformers:model", DIMENSION)
    assert reopened.embedder_info() == {"embedder": "sentence-transformers:model", "dimension": DIMENSION}
    reopened.close()
