"""The keyword index in documents.sqlite3 follows every write (compactions that renumber slots included),
other instances' commits, and is built once for databases written before keyword search existed."""

import contextlib
import os
import sqlite3

import pytest

from dgs_core.base import document_id
from dgs_core.filters import Condition
from dgs_core.lexical import TOKENIZER
from dgs_core.testing.vector_store import PRODUCT, REVIEW, make_doc, random_vectors
from dgs_faiss.store import FaissVectorStore

DIMENSION = 16


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "vectors")


def assert_keyword_index_matches_the_texts(path):
    """The terms FTS5 holds, with their slots and positions, are exactly those of a fresh index of the live
    texts: no term of a replaced, deleted or renumbered document is left, none is missing."""
    with contextlib.closing(sqlite3.connect(os.path.join(path, "documents.sqlite3"))) as conn:
        conn.execute(f"CREATE VIRTUAL TABLE temp.fresh USING fts5(text, tokenize = '{TOKENIZER}')")
        conn.execute("INSERT INTO temp.fresh (rowid, text) SELECT slot, text FROM documents")
        conn.execute("CREATE VIRTUAL TABLE temp.held_terms USING fts5vocab(main, keywords, instance)")
        conn.execute("CREATE VIRTUAL TABLE temp.fresh_terms USING fts5vocab(temp, fresh, instance)")
        held = conn.execute('SELECT term, doc, "offset" FROM temp.held_terms ORDER BY 1, 2, 3').fetchall()
        fresh = conn.execute('SELECT term, doc, "offset" FROM temp.fresh_terms ORDER BY 1, 2, 3').fetchall()
    assert held == fresh


def named(store, words):
    """Pks of every keyword hit for ``words``, as sorted ints."""
    return sorted(int(h.pk) for h in store.keyword_search(words, 10_000))


def test_keyword_rows_follow_a_compaction_that_renumbers_the_slots(path):
    store = FaissVectorStore(path=path)
    vectors = random_vectors(1500, DIMENSION, seed=1)
    store.upsert([make_doc(PRODUCT, i, vectors[i], text=f"item{i} {'even' if i % 2 == 0 else 'odd'}")
                  for i in range(1500)])

    store.delete([document_id(PRODUCT, i) for i in range(1200)])  # dead rows outnumber live ones: compacts

    assert store.count() == 300
    assert_keyword_index_matches_the_texts(path)
    assert named(store, "item1300") == [1300]
    assert named(store, "item5") == []
    hit = store.keyword_search("item1499", 1)[0]
    assert (hit.id, hit.text) == (document_id(PRODUCT, 1499), "item1499 odd")
    assert named(store, "even") == list(range(1200, 1500, 2))
    assert store.keyword_search("even item1201", 1)[0].id == document_id(PRODUCT, 1201)  # the rare word ranks first
    store.close()


def test_keyword_rows_follow_replacements_and_an_explicit_compaction(path):
    store = FaissVectorStore(path=path)
    vectors = random_vectors(10, DIMENSION, seed=2)
    store.upsert([make_doc(PRODUCT, i, vectors[i], text=f"first draft {i}") for i in range(10)])
    store.upsert([make_doc(PRODUCT, i, vectors[i], text=f"final version {i}") for i in range(0, 10, 2)])
    assert_keyword_index_matches_the_texts(path)

    store.compact()

    assert_keyword_index_matches_the_texts(path)
    assert named(store, "draft") == [1, 3, 5, 7, 9]
    assert named(store, "final") == [0, 2, 4, 6, 8]
    store.clear([PRODUCT])
    assert store.keyword_search("version", 10) == []
    assert_keyword_index_matches_the_texts(path)
    store.close()


def test_a_second_instance_sees_keyword_changes_at_once(path):
    reader, writer = FaissVectorStore(path=path), FaissVectorStore(path=path)
    vectors = random_vectors(6, DIMENSION, seed=3)
    writer.upsert([make_doc(PRODUCT, i, vectors[i], text=f"blue guitar {i}") for i in range(4)])
    assert named(reader, "guitars") == [0, 1, 2, 3]

    writer.upsert([make_doc(PRODUCT, 1, vectors[1], text="red piano"), make_doc(REVIEW, 5, vectors[5], text="guitar")])
    writer.delete([document_id(PRODUCT, 2)])

    assert named(reader, "guitar") == [0, 3, 5]
    assert named(reader, "piano") == [1]
    assert [h.id for h in reader.keyword_search("guitar", 10, models=[REVIEW])] == [document_id(REVIEW, 5)]
    writer.clear()
    assert reader.keyword_search("guitar piano", 10) == []
    reader.close()
    writer.close()


def test_keyword_filters_see_the_metadata_of_the_latest_write(path):
    store = FaissVectorStore(path=path)
    vectors = random_vectors(3, DIMENSION, seed=4)
    store.upsert([make_doc(PRODUCT, i, vectors[i], text="jazz", metadata={"year": 1990 + i}) for i in range(3)])
    store.upsert([make_doc(PRODUCT, 0, vectors[0], text="jazz", metadata={"year": 2020})])
    recent = [Condition("year", "gte", 1992)]
    found = store.keyword_search("jazz", 10, filters=recent)
    assert sorted((h.pk, h.metadata["year"]) for h in found) == [("0", 2020), ("2", 1992)]
    store.close()


def test_keyword_filters_follow_another_instances_writes_and_compaction(path):
    reader, writer = FaissVectorStore(path=path), FaissVectorStore(path=path)
    vectors = random_vectors(1500, DIMENSION, seed=6)
    writer.upsert([make_doc(PRODUCT, i, vectors[i], text=f"track {i}", metadata={"n": i}) for i in range(1500)])
    at_least = [Condition("n", "gte", 1400)]
    assert named(reader, "track") == list(range(1500))
    assert len(reader.keyword_search("track", 1500, filters=at_least)) == 100  # builds the reader's "n" column

    writer.upsert([make_doc(PRODUCT, 5, vectors[5], text="track 5", metadata={"n": 1450})])
    writer.delete([document_id(PRODUCT, 1499)])
    assert sorted(int(h.pk) for h in reader.keyword_search("track", 1500, filters=at_least)) == [5, *range(1400, 1499)]

    writer.delete([document_id(PRODUCT, i) for i in range(6, 1300)])  # compacts: every slot renumbered
    found = reader.keyword_search("track 1450", 1500, filters=at_least, models=[PRODUCT])
    assert found[0].id == document_id(PRODUCT, 1450)
    assert sorted(int(h.pk) for h in found) == [5, *range(1400, 1499)]
    assert reader.keyword_search("track", 10, filters=at_least, models=[REVIEW]) == []
    reader.close()
    writer.close()


def test_vector_search_after_keyword_searches_reads_the_rows_it_lacks(path):
    """Keyword searches keep the slot state current without reading vectors; the first vector search reads
    them all, later ones only the rows appended since, and a compaction makes the next one read all again."""
    reader, writer = FaissVectorStore(path=path), FaissVectorStore(path=path)
    vectors = random_vectors(1500, DIMENSION, seed=7)
    writer.upsert([make_doc(PRODUCT, i, vectors[i]) for i in range(10)])
    assert len(reader.keyword_search("product", 20)) == 10
    writer.upsert([make_doc(PRODUCT, i, vectors[i]) for i in range(10, 20)])
    assert len(reader.keyword_search("product", 20)) == 20

    for pk in (0, 15):
        assert reader.search(vectors[pk], 1)[0].id == document_id(PRODUCT, pk)
    writer.upsert([make_doc(PRODUCT, i, vectors[i]) for i in range(20, 1500)])
    writer.upsert([make_doc(PRODUCT, 3, vectors[1400], text="moved")])
    assert [h.pk for h in reader.keyword_search("moved", 5)] == ["3"]
    for pk in (19, 20, 1499):
        assert reader.search(vectors[pk], 1)[0].id == document_id(PRODUCT, pk)
    assert {h.pk for h in reader.search(vectors[1400], 2)} == {"3", "1400"}

    writer.delete([document_id(PRODUCT, i) for i in range(1000)])  # compacts
    assert len(reader.keyword_search("product", 2000)) == 500
    assert reader.search(vectors[1200], 1)[0].id == document_id(PRODUCT, 1200)
    assert len(reader.search(vectors[1200], 1000, models=[PRODUCT])) == 500
    reader.close()
    writer.close()


def test_a_database_written_before_keyword_search_is_indexed_when_opened(path):
    """Upgrading needs no rebuild: the first open creates the FTS5 table and fills it from the stored texts."""
    store = FaissVectorStore(path=path)
    vectors = random_vectors(40, DIMENSION, seed=5)
    store.upsert([make_doc(PRODUCT, i, vectors[i], text=f"song {i} {'loud' if i < 10 else 'quiet'}")
                  for i in range(40)])
    store.delete([document_id(PRODUCT, 0)])
    store.close()
    with contextlib.closing(sqlite3.connect(os.path.join(path, "documents.sqlite3"))) as conn:
        conn.execute("DROP TABLE keywords")  # the schema of dgs-faiss before keyword search
        conn.commit()

    upgraded = FaissVectorStore(path=path)
    assert named(upgraded, "loud") == list(range(1, 10))
    assert_keyword_index_matches_the_texts(path)
    upgraded.upsert([make_doc(PRODUCT, 1, vectors[1], text="song 1 quiet")])
    assert named(upgraded, "loud") == list(range(2, 10))
    assert upgraded.search(vectors[5], 1)[0].id == document_id(PRODUCT, 5)
    upgraded.close()
    assert_keyword_index_matches_the_texts(path)
