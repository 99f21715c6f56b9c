"""The keyword index beyond the contract: where it lives, one per collection, and never ahead of Chroma."""

import logging
import sqlite3

import pytest

from dgs_chroma.keyword import FILE_NAME, table_name
from dgs_chroma.store import ChromaVectorStore
from dgs_core.base import document_id
from dgs_core.exceptions import ConfigurationError, EmbedderMismatchError
from dgs_core.testing.vector_store import PRODUCT, REVIEW, make_doc, random_vectors

DIMENSION = 16


def keyword_tables(file):
    with sqlite3.connect(file) as conn:
        return sorted(name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                      if name.startswith("dgs_keyword_") and name.endswith("_docs"))


def ids(hits):
    return sorted(h.id for h in hits)


def test_the_keyword_index_lives_under_path_or_keyword_path(open_store, path, tmp_path):
    vectors = random_vectors(2, DIMENSION, seed=1)
    open_store().upsert([make_doc(PRODUCT, 1, vectors[0], text="under path")])
    assert keyword_tables(f"{path}/{FILE_NAME}") == [table_name("dgs") + "_docs"]

    elsewhere = tmp_path / "keywords"
    store = open_store(collection_name="other", keyword_path=str(elsewhere))
    store.upsert([make_doc(PRODUCT, 2, vectors[1], text="elsewhere")])
    assert keyword_tables(elsewhere / FILE_NAME) == [table_name("other") + "_docs"]
    assert ids(store.keyword_search("elsewhere", 5)) == [document_id(PRODUCT, 2)]


def test_each_rebuild_collection_has_its_own_keyword_tables_and_drop_removes_them(open_store, path):
    vectors = random_vectors(2, DIMENSION, seed=2)
    live, rebuild = open_store(), open_store(collection="g1")
    live.upsert([make_doc(PRODUCT, 1, vectors[0], text="old catalogue")])
    rebuild.upsert([make_doc(PRODUCT, 1, vectors[1], text="new catalogue")])
    assert ids(live.keyword_search("old new", 5)) == ids(rebuild.keyword_search("old new", 5))
    assert live.keyword_search("new", 5) == [] and rebuild.keyword_search("old", 5) == []

    live.drop()
    assert keyword_tables(f"{path}/{FILE_NAME}") == [table_name("dgs-g1") + "_docs"]
    assert ids(rebuild.keyword_search("catalogue", 5)) == [document_id(PRODUCT, 1)]


def test_clear_of_models_removes_only_their_keywords(open_store):
    vectors = random_vectors(2, DIMENSION, seed=3)
    store = open_store()
    store.upsert([make_doc(PRODUCT, 1, vectors[0], text="rock"), make_doc(REVIEW, 1, vectors[1], text="rock")])
    store.clear([PRODUCT.upper()])
    assert ids(store.keyword_search("rock", 5)) == [document_id(REVIEW, 1)]


def test_a_failed_chroma_write_leaves_the_keyword_index_as_it_was(open_store):
    """Chroma refuses vectors of another dimension; the keyword transaction around the write rolls back."""
    store = open_store()
    store.upsert([make_doc(PRODUCT, 1, random_vectors(1, DIMENSION, seed=4)[0], text="guitar")])
    with pytest.raises(EmbedderMismatchError):
        store.upsert([make_doc(PRODUCT, 1, random_vectors(1, 8, seed=5)[0], text="xylophone")])
    assert store.keyword_search("xylophone", 5) == []
    assert ids(store.keyword_search("guitar", 5)) == [document_id(PRODUCT, 1)]


def test_documents_missing_from_the_keyword_index_are_reported_once(open_store, tmp_path, caplog):
    """A collection filled without this keyword index (older dgs-chroma, another KEYWORD_PATH) says how to fix it."""
    open_store(keyword_path=str(tmp_path / "a")).upsert(
        [make_doc(PRODUCT, 1, random_vectors(1, DIMENSION, seed=6)[0], text="rock")])
    store = open_store(keyword_path=str(tmp_path / "b"))
    with caplog.at_level(logging.WARNING, logger="dgs_chroma"):
        assert store.keyword_search("rock", 5) == []
        assert store.keyword_search("rock", 5) == []
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "build_search_index --rebuild" in warnings[0]


def test_a_server_store_without_keyword_path_has_no_keyword_search():
    store = ChromaVectorStore(host="127.0.0.1")
    assert "keyword" not in store.capabilities and {"filters", "persistence"} <= store.capabilities
    assert "keyword" in ChromaVectorStore.capabilities
    with pytest.raises(ConfigurationError, match="KEYWORD_PATH"):
        store.keyword_search("rock", 5)


def test_keyword_path_must_be_a_path():
    with pytest.raises(ConfigurationError, match="KEYWORD_PATH"):
        ChromaVectorStore(host="127.0.0.1", keyword_path=3)


def test_table_names_are_identifiers_and_tell_similar_collection_names_apart():
    names = ["dgs", "shop-g1", "shop.g1", "shop_g1", "x" * 512, "x" * 511 + "y"]
    tables = [table_name(name) for name in names]
    assert len(set(tables)) == len(names)
    assert all(t.isidentifier() and len(t) <= 63 for t in tables)


def test_vector_hits_read_text_and_metadata_from_the_keyword_index_and_from_chroma_for_the_rest(
    open_store, path, monkeypatch
):
    """Chroma returns 50 documents' metadata in about 20 ms (one SQLite row per derived filter key) and their ids
    in 1 ms, so hits take text and metadata from the keyword index; a document it lacks (a write whose keyword
    half has not committed yet, or a store without keyword index) is read from Chroma."""
    vectors = random_vectors(2, DIMENSION, seed=11)
    store = open_store()
    store.upsert([make_doc(PRODUCT, i, vectors[i], text=f"text {i}", metadata={"genre__name": f"g{i}", "n": i})
                  for i in range(2)])
    with sqlite3.connect(f"{path}/{FILE_NAME}") as conn:  # the keyword index loses document 1
        conn.execute(f"DELETE FROM {table_name('dgs')}_docs WHERE doc_id = ?", [document_id(PRODUCT, 1)])
    queries = []
    collection = store._use(lambda c: c)
    original = type(collection).query

    def spy(self, *args, **kwargs):
        queries.append(kwargs.get("include"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(type(collection), "query", spy)  # records what Chroma is asked to return, then asks it
    hits = store.search(vectors[0], 2, models=[PRODUCT])
    assert queries == [["distances"]]
    assert [(h.id, h.model, h.pk, h.text, h.metadata) for h in hits] == [
        (document_id(PRODUCT, 0), PRODUCT, "0", "text 0", {"genre__name": "g0", "n": 0}),
        (document_id(PRODUCT, 1), PRODUCT, "1", "text 1", {"genre__name": "g1", "n": 1}),
    ]
