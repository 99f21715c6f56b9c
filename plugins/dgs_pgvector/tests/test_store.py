"""What the pgvector store does beyond the contract: its schema, query plans, settings and SQL safety."""

import logging

import numpy as np
import pytest
from django.db import connection, transaction

from dgs_core.base import StoredDocument, document_id
from dgs_core.exceptions import ConfigurationError, EmbedderMismatchError
from dgs_core.filters import Condition, matches
from dgs_core.testing.vector_store import at_cosines, cosine, make_doc, random_vectors
from dgs_pgvector import store as store_module
from dgs_pgvector.sql import ensure_extension
from dgs_pgvector.store import PgvectorStore
from tests.conftest import TABLE, SearchSpy

PRODUCT = "shop.product"
DIMENSION = 16


def indexes(table: str) -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table])
        return dict(cursor.fetchall())


def table_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        return cursor.fetchone()[0]


def rare_corpus(store: PgvectorStore, query: np.ndarray) -> list[str]:
    """400 documents near ``query`` tagged Pop and 5 far from it tagged Rare; returns the Rare ids."""
    near = at_cosines(query, [0.99 - i * 0.001 for i in range(400)], seed=6)
    far = at_cosines(query, [0.1, 0.09, 0.08, 0.07, 0.06], seed=7)
    store.upsert([make_doc(PRODUCT, i, v, metadata={"genre__name": "Pop"}) for i, v in enumerate(near)])
    store.upsert([make_doc(PRODUCT, 1000 + i, v, metadata={"genre__name": "Rare"}) for i, v in enumerate(far)])
    return sorted(document_id(PRODUCT, 1000 + i) for i in range(5))


# -- schema -----------------------------------------------------------------------------------------------------


def columns(table: str) -> list[tuple[str, str, str]]:
    """``(name, type, generation expression)`` of each column of ``table``."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), coalesce(pg_get_expr(d.adbin, d.adrelid), '') "
            "FROM pg_attribute a LEFT JOIN pg_attrdef d ON (d.adrelid, d.adnum) = (a.attrelid, a.attnum) "
            "AND a.attgenerated = 's' WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped "
            "ORDER BY a.attnum", [table]
        )
        return cursor.fetchall()


def test_first_write_creates_the_table_with_its_indexes():
    store = PgvectorStore(table=TABLE, m=12, ef_construction=48)
    assert store.search(random_vectors(1, DIMENSION, 0)[0], 5) == [] and not table_exists(TABLE)
    assert store.keyword_search("anything", 5) == [] and not table_exists(TABLE)

    store.upsert([make_doc(PRODUCT, 1, random_vectors(1, DIMENSION, 1)[0])])

    definitions = indexes(TABLE)
    assert set(definitions) == {
        f"{TABLE}_pkey", f"{TABLE}_model_idx", f"{TABLE}_metadata_idx", f"{TABLE}_embedding_idx",
        f"{TABLE}_text_tsv_idx",
    }
    assert "USING hnsw (embedding vector_cosine_ops) WITH (m='12', ef_construction='48')" in (
        definitions[f"{TABLE}_embedding_idx"]
    )
    assert "USING gin (metadata jsonb_path_ops) WITH (fastupdate=off)" in definitions[f"{TABLE}_metadata_idx"]
    assert "USING gin (text_tsv) WITH (fastupdate=off)" in definitions[f"{TABLE}_text_tsv_idx"]
    assert "USING btree (model)" in definitions[f"{TABLE}_model_idx"]
    assert columns(TABLE) == [
        ("id", "text", ""), ("model", "text", ""), ("pk", "text", ""), ("text", "text", ""),
        ("content_hash", "text", ""), ("metadata", "jsonb", ""), ("embedding", f"vector({DIMENSION})", ""),
        ("text_tsv", "tsvector", "to_tsvector('english'::regconfig, text)"),
    ]


def test_tables_from_before_keyword_search_get_the_text_search_column_on_first_use():
    """A table of an earlier dgs-pgvector (no text_tsv, a metadata index with a pending list) is brought to the
    current layout by the first keyword search, or by the first write, of a store instance."""
    vectors = random_vectors(2, DIMENSION, 15)
    for first_use in ("keyword_search", "upsert"):
        PgvectorStore(table=TABLE).upsert([make_doc(PRODUCT, 1, vectors[0], text="Highway to Hell")])
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {TABLE} DROP COLUMN text_tsv")  # drops its index too
            cursor.execute(f"ALTER INDEX {TABLE}_metadata_idx SET (fastupdate = on)")

        store = PgvectorStore(table=TABLE)
        if first_use == "upsert":
            store.upsert([make_doc(PRODUCT, 2, vectors[1], text="Hells Bells")])
        assert [h.id for h in store.keyword_search("hell", 5)] == [document_id(PRODUCT, 1)] + (
            [document_id(PRODUCT, 2)] if first_use == "upsert" else []
        )
        assert columns(TABLE)[-1] == ("text_tsv", "tsvector", "to_tsvector('english'::regconfig, text)")
        definitions = indexes(TABLE)
        assert "USING gin (text_tsv) WITH (fastupdate=off)" in definitions[f"{TABLE}_text_tsv_idx"], first_use
        assert "WITH (fastupdate=off)" in definitions[f"{TABLE}_metadata_idx"], first_use
        store.drop()


def test_a_large_table_from_before_keyword_search_is_never_rewritten_while_it_serves(monkeypatch, caplog):
    """Rewriting a large table would lock it against searches for minutes: it keeps working without keyword
    search, and a warning names the two ways to upgrade it."""
    monkeypatch.setattr(store_module, "UPGRADE_MAX_ROWS", 1)
    vectors = random_vectors(3, DIMENSION, 16)
    store = PgvectorStore(table=TABLE)
    store.upsert([make_doc(PRODUCT, i, vectors[i], text="Highway to Hell") for i in range(2)])
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {TABLE} DROP COLUMN text_tsv")
    again = PgvectorStore(table=TABLE)
    with caplog.at_level(logging.WARNING, logger="dgs_pgvector"):
        assert again.keyword_search("hell", 5) == []
        again.upsert([make_doc(PRODUCT, 2, vectors[2], text="Hells Bells")])
    assert "text_tsv" not in [name for name, *_ in columns(TABLE)]
    assert [h.id for h in again.search(vectors[2], 1)] == [document_id(PRODUCT, 2)]
    assert "--rebuild" in caplog.text and "README" in caplog.text
    again.drop()


def test_text_search_config_sets_the_analyser():
    """'simple' lower-cases words without stemming them; a configuration the database lacks is refused when the
    table would be created, naming the option and the configurations there are."""
    store = PgvectorStore(table=TABLE, text_search_config="simple")
    vectors = random_vectors(2, DIMENSION, 16)
    store.upsert([make_doc(PRODUCT, 1, vectors[0], text="Quiet guitars"), make_doc(PRODUCT, 2, vectors[1],
                                                                                  text="One guitar")])
    assert columns(TABLE)[-1][2] == "to_tsvector('simple'::regconfig, text)"
    assert [h.id for h in store.keyword_search("GUITARS", 5)] == [document_id(PRODUCT, 1)]

    missing = PgvectorStore(table=TABLE, collection="g1", text_search_config="klingon")
    with pytest.raises(ConfigurationError, match=r"\['TEXT_SEARCH_CONFIG'\] is 'klingon'.*english.*simple"):
        missing.upsert([make_doc(PRODUCT, 1, vectors[0])])
    assert not table_exists(f"{TABLE}_g1")


def test_keyword_search_uses_the_full_text_index():
    """Both the document frequency of each word and the matching documents are read from the GIN index."""
    store = PgvectorStore(table=TABLE)
    vectors = random_vectors(3000, DIMENSION, 17)
    store.upsert([make_doc(PRODUCT, i, vectors[i], text=f"track number {i} " + ("zeppelin" if i == 7 else "pop"))
                  for i in range(3000)])
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {TABLE}")
    with connection.execute_wrapper(spy := SearchSpy()):
        hits = store.keyword_search("Zeppelin!", 5)
    assert [h.id for h in hits] == [document_id(PRODUCT, 7)] and 0 < hits[0].score < 1
    assert spy.runs[0].plan.count(f"Bitmap Index Scan on {TABLE}_text_tsv_idx") == 2, spy.runs[0].plan


def test_keyword_search_weighs_rare_words_above_common_ones():
    """BM25: "floyd" is in one document of 22 and "song" in all, so the document with both outranks the one
    saying "song" twice (ts_rank_cd, without IDF, tied them), before ANALYZE (the documents are counted) and
    after (the planner's row count)."""
    store = PgvectorStore(table=TABLE)
    vectors = random_vectors(22, DIMENSION, 18)
    texts = ["song song", "Floyd song", *(f"a song, take {i}" for i in range(20))]
    store.upsert([make_doc(PRODUCT, pk, vectors[pk], text=text) for pk, text in enumerate(texts)])
    for statistics in ("none", "analysed"):
        hits = store.keyword_search("songs by Floyd", 3)
        assert [h.id for h in hits[:2]] == [document_id(PRODUCT, 1), document_id(PRODUCT, 0)], statistics
        assert 1 > hits[0].score > hits[1].score > hits[2].score > 0, statistics
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {TABLE}")


def test_keyword_search_finds_words_that_postgresql_keeps_with_their_punctuation():
    """PostgreSQL's parser stores "AC/DC" as the one lexeme ac/dc, which neither "ac" nor "dc" matches: the query's
    run of characters is searched whole as well."""
    store = PgvectorStore(table=TABLE)
    vectors = random_vectors(2, DIMENSION, 19)
    texts = ["Highway to Hell by AC/DC", "B.Y.O.B. by System of a Down"]
    store.upsert([make_doc(PRODUCT, pk, vectors[pk], text=text) for pk, text in enumerate(texts)])
    for query, pk in (("AC/DC", 0), ("songs like b.y.o.b.", 1)):
        assert [h.id for h in store.keyword_search(query, 5)] == [document_id(PRODUCT, pk)], query


def test_collections_are_tables_and_the_embedder_record_is_a_row():
    default, other = PgvectorStore(table=TABLE), PgvectorStore(table=TABLE, collection="g2")
    vector = random_vectors(1, DIMENSION, 2)[0]
    default.upsert([make_doc(PRODUCT, 1, vector)])
    other.upsert([make_doc(PRODUCT, 2, vector)])
    other.record_embedder("hashing:hashing-16", DIMENSION)

    assert table_exists(TABLE) and table_exists(f"{TABLE}_g2")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT collection, embedder, dimension FROM {TABLE}_meta")
        assert cursor.fetchall() == [("g2", "hashing:hashing-16", DIMENSION)]
    other.drop()
    assert not table_exists(f"{TABLE}_g2") and default.count() == 1
    assert other.embedder_info() is None


def test_vectors_beyond_2000_dimensions_are_indexed_as_halfvec():
    dimension = 3072  # e.g. OpenAI text-embedding-3-large
    store = PgvectorStore(table=TABLE, exact_search_rows=0)  # walk the index even for these 20 rows
    vectors = random_vectors(20, dimension, 3)
    store.upsert([make_doc(PRODUCT, i, vectors[i], metadata={"n": i}) for i in range(20)])

    assert "USING hnsw (((embedding)::halfvec(3072)) halfvec_cosine_ops)" in indexes(TABLE)[f"{TABLE}_embedding_idx"]
    query = random_vectors(1, dimension, 30)[0]
    with connection.execute_wrapper(spy := SearchSpy()):
        hits = store.search(query, 5, filters=[Condition("n", "gte", 0)])
    assert f"Index Scan using {TABLE}_embedding_idx" in spy.runs[0].plan
    expected = sorted(range(20), key=lambda i: -cosine(query, vectors[i]))[:5]
    assert [int(h.pk) for h in hits] == expected
    for hit in hits:  # halfvec keeps 3 significant digits: well inside the cross-store tolerance
        assert hit.score == pytest.approx(max(0.0, cosine(query, vectors[int(hit.pk)])), abs=0.01)


def test_a_sql_keyword_is_a_valid_table_name():
    store = PgvectorStore(table="order")
    try:
        store.upsert([make_doc(PRODUCT, 1, random_vectors(1, DIMENSION, 14)[0])])
        store.record_embedder("hashing:hashing-16", DIMENSION)
        assert store.count() == 1 and indexes("order")["order_embedding_idx"]
        assert store.embedder_info() == {"embedder": "hashing:hashing-16", "dimension": DIMENSION}
    finally:
        store.drop()
        with connection.cursor() as cursor:
            cursor.execute('DROP TABLE IF EXISTS "order_meta"')
    assert not table_exists('"order"')


# -- query plans and search settings ----------------------------------------------------------------------------


def filtered_corpus(store: PgvectorStore) -> list[StoredDocument]:
    """600 documents of two models, three genres, four tags and growing milliseconds, stored and analysed."""
    vectors = random_vectors(600, DIMENSION, 4)
    genres = ["Rock", "Jazz", "Metal"]
    docs = [
        make_doc(PRODUCT if i % 3 else "shop.review", i, vectors[i],
                 metadata={"genre__name": genres[i % 3], "milliseconds": 1000 * i, "tags__name": [f"t{i % 4}"]})
        for i in range(600)
    ]
    store.upsert(docs)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {TABLE}")  # the statistics autovacuum would gather on a live site
    return docs


FILTERED_SEARCHES = [
    {"filters": [Condition("genre__name", "exact", "Rock")]},
    {"filters": [Condition("tags__name", "in", ("t1", "t2")), Condition("milliseconds", "lt", 400000)]},
    {"filters": [Condition("genre__name", "exact", "Jazz")], "models": [PRODUCT]},
]


def test_filters_matching_many_rows_walk_the_hnsw_index():
    """EXPLAIN of the queries the store sends: filters expected to match more than EXACT_SEARCH_ROWS rows are
    applied while walking the HNSW index, not by reading every matching row and sorting them."""
    store = PgvectorStore(table=TABLE, exact_search_rows=50)
    query = filtered_corpus(store)[0].vector
    for search in FILTERED_SEARCHES:
        with connection.execute_wrapper(spy := SearchSpy()):
            hits = store.search(query, 10, **search)
        assert len(hits) == 10
        assert f"Index Scan using {TABLE}_embedding_idx" in spy.runs[0].plan, (search, spy.runs[0].plan)
        assert "Sort" not in spy.runs[0].plan, spy.runs[0].plan


def test_filters_matching_few_rows_are_exact():
    """Filters expected to match at most EXACT_SEARCH_ROWS rows read those rows and sort them: the hits are the
    exact nearest matching documents, and the HNSW index is not used."""
    store = PgvectorStore(table=TABLE)
    docs = filtered_corpus(store)
    query = docs[0].vector
    for search in FILTERED_SEARCHES:
        with connection.execute_wrapper(spy := SearchSpy()):
            hits = store.search(query, 10, **search)
        assert len(spy.runs) == 1 and "embedding_idx" not in spy.runs[0].plan and "Sort" in spy.runs[0].plan
        matching = [d for d in docs if matches(d.metadata, search["filters"])
                    and d.model in search.get("models", [d.model])]
        expected = sorted(matching, key=lambda d: -cosine(query, d.vector))[:10]
        assert [h.id for h in hits] == [d.id for d in expected], search


def test_ef_search_and_iterative_scan_apply_to_the_search_only():
    store = PgvectorStore(table=TABLE, ef_search=77, iterative_scan="relaxed_order", exact_search_rows=0)
    vectors = random_vectors(50, DIMENSION, 5)
    store.upsert([make_doc(PRODUCT, i, vectors[i]) for i in range(50)])

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SHOW hnsw.ef_search")
        default = cursor.fetchone()[0]
        with connection.execute_wrapper(spy := SearchSpy()):
            hits = store.search(vectors[3], 10, filters=[Condition("missing", "isnull", True)])
        assert [(run.ef_search, run.iterative_scan) for run in spy.runs] == [("77", "relaxed_order")]
        assert hits[0].id == document_id(PRODUCT, 3)
        # The search's SET LOCALs end with its savepoint: the caller's transaction keeps its own settings.
        cursor.execute("SELECT current_setting('hnsw.ef_search'), current_setting('enable_sort')")
        assert cursor.fetchone() == (default, "on")
    assert default != "77"


def test_search_reruns_exactly_when_the_index_scan_gives_up():
    """pgvector stops an iterative scan after hnsw.max_scan_tuples rows; the store then answers exactly."""
    store = PgvectorStore(table=TABLE, exact_search_rows=0)
    query = random_vectors(1, DIMENSION, 6)[0]
    rare = rare_corpus(store, query)

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL hnsw.max_scan_tuples = 20")
        with connection.execute_wrapper(spy := SearchSpy()):
            hits = store.search(query, 5, filters=[Condition("genre__name", "exact", "Rare")])
    assert sorted(h.id for h in hits) == rare
    first, second = spy.runs
    assert f"Index Scan using {TABLE}_embedding_idx" in first.plan and first.rows < 5
    assert "embedding_idx" not in second.plan and second.rows == 5


def test_without_iterative_scan_filtered_searches_still_return_k_hits():
    """ITERATIVE_SCAN off (and pgvector before 0.8) stops at EF_SEARCH candidates; the exact re-run fills in."""
    store = PgvectorStore(table=TABLE, iterative_scan="off", ef_search=10, exact_search_rows=0)
    query = random_vectors(1, DIMENSION, 7)[0]
    rare = rare_corpus(store, query)
    hits = store.search(query, 5, filters=[Condition("genre__name", "in", ("Rare", "Unknown"))])
    assert sorted(h.id for h in hits) == rare
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


# -- writes ------------------------------------------------------------------------------------------------------


def test_batches_of_thousands_insert_and_replace():
    """5,000 documents in one upsert (five INSERT statements, one transaction), then 1,000 more of which
    500 replace stored ones. A small HNSW graph (M 8) keeps the inserts quick; batching does not depend on it."""
    store = PgvectorStore(table=TABLE, m=8, ef_construction=32)
    vectors = random_vectors(5500, DIMENSION, 8)
    store.upsert([make_doc(PRODUCT, i, vectors[i]) for i in range(5000)])
    assert store.count() == 5000

    store.upsert([make_doc(PRODUCT, i, vectors[i], content_hash=f"new-{i}") for i in range(4500, 5500)])
    assert store.count() == 5500
    assert len(set(store.iter_ids())) == 5500
    hashes = store.content_hashes([document_id(PRODUCT, i) for i in (0, 4499, 4500, 4999, 5000, 5499)])
    assert hashes == {
        document_id(PRODUCT, 0): "hash-0", document_id(PRODUCT, 4499): "hash-4499",
        **{document_id(PRODUCT, i): f"new-{i}" for i in (4500, 4999, 5000, 5499)},
    }
    for pk in (17, 4321, 5499):
        assert store.search(vectors[pk], 1)[0].id == document_id(PRODUCT, pk)


def test_writes_join_the_callers_transaction():
    store = PgvectorStore(table=TABLE)
    vectors = random_vectors(2, DIMENSION, 9)
    with pytest.raises(RuntimeError), transaction.atomic():
        store.upsert([make_doc(PRODUCT, 1, vectors[0])])
        assert store.count() == 1
        raise RuntimeError("the caller's transaction fails")
    assert store.count() == 0 and not table_exists(TABLE)  # the CREATE TABLE rolled back too

    with transaction.atomic():
        assert store.count() == 0  # a read of the missing table must not break the caller's transaction
        store.upsert([make_doc(PRODUCT, 2, vectors[1])])
    assert list(store.iter_ids()) == [document_id(PRODUCT, 2)]


def test_another_dimension_is_refused_until_the_collection_is_dropped():
    store = PgvectorStore(table=TABLE)
    store.upsert([make_doc(PRODUCT, 1, random_vectors(1, DIMENSION, 10)[0])])
    store.record_embedder("hashing:hashing-16", DIMENSION)
    wider = random_vectors(1, 32, 11)[0]
    with pytest.raises(EmbedderMismatchError, match=f"'{TABLE}' holds 16-dimensional vectors; these have 32"):
        store.upsert([make_doc(PRODUCT, 2, wider)])
    with pytest.raises(EmbedderMismatchError, match="build_search_index --rebuild"):
        store.search(wider, 3)

    store.clear()  # the documents go, the table (and its dimension) and the embedder record stay
    assert store.count() == 0 and table_exists(TABLE)
    with pytest.raises(EmbedderMismatchError, match="holds 16-dimensional vectors"):
        store.upsert([make_doc(PRODUCT, 2, wider)])

    store.drop()
    assert store.embedder_info() is None
    store.upsert([make_doc(PRODUCT, 2, wider)])
    assert [h.id for h in store.search(wider, 3)] == [document_id(PRODUCT, 2)]


# -- filters: the reference semantics in SQL, and injection attempts ------------------------------------------


EDGE_METADATA = [
    {"flag": True, "n": 1, "s": "1", "word": "Zebra", "price": 0.30000000000000004, "big": 2**60},
    {"flag": False, "n": 0, "s": "0", "word": "apple", "price": 0.3, "big": 2**60 + 1},
    {"flag": 1, "n": 1.0, "s": "10", "word": "été", "price": 0.1, "tags": ["x", None]},
    {"flag": None, "n": [2, "2", True], "s": ["a", "b"], "word": "zèbre", "tags": [None]},
    {"n": "1", "word": "", "tags": []},
    {"flag": [False, 3], "n": -1.5, "s": None, "word": "ZEBRA", "tags": ["y"]},
]

EDGE_CONDITIONS = [
    [Condition("flag", "exact", True)],  # Python: True == 1 == 1.0
    [Condition("flag", "exact", 0)],
    [Condition("flag", "gt", 0)],
    [Condition("n", "exact", 1)],
    [Condition("n", "exact", "1")],  # strings never equal numbers
    [Condition("n", "in", (2, -1.5))],
    [Condition("n", "gte", 1)],
    [Condition("n", "lt", "2")],
    [Condition("s", "gt", "1")],  # "10" > "1" as strings
    [Condition("s", "in", ("a", "0"))],
    [Condition("word", "lt", "a")],  # code point order: upper case and "" first
    [Condition("word", "gte", "z")],  # "zèbre" and "été" (é comes after z)
    [Condition("word", "gt", "zebra")],
    [Condition("price", "exact", 0.3)],
    [Condition("price", "gt", 0.3)],
    [Condition("big", "gt", 2**60)],
    [Condition("tags", "isnull", True)],
    [Condition("tags", "isnull", False)],
    [Condition("s", "isnull", True)],
    [Condition("flag", "isnull", False), Condition("n", "lte", 1)],
]


def test_filters_match_the_reference_semantics_on_edge_cases():
    store = PgvectorStore(table=TABLE)
    vectors = random_vectors(len(EDGE_METADATA), DIMENSION, 12)
    docs = [make_doc(PRODUCT, i, vectors[i], metadata=m) for i, m in enumerate(EDGE_METADATA)]
    store.upsert(docs)
    for conditions in EDGE_CONDITIONS:
        expected = {d.id for d in docs if matches(d.metadata, conditions)}
        found = {h.id for h in store.search(vectors[0], 10, filters=conditions)}
        assert found == expected, conditions


def test_sql_in_filter_keys_values_and_labels_is_only_data():
    store = PgvectorStore(table=TABLE)
    vectors = random_vectors(4, DIMENSION, 13)
    evil_key = "genre'); DROP TABLE pgv_test; --"
    evil_value = "Rock' OR '1'='1"
    docs = [
        make_doc(PRODUCT, 0, vectors[0], metadata={"genre__name": "Rock"}),
        make_doc(PRODUCT, 1, vectors[1], metadata={"genre__name": evil_value}),
        make_doc(PRODUCT, 2, vectors[2], metadata={evil_key: "x", "genre__name": "Jazz"}),
        make_doc(PRODUCT, "3'; DELETE FROM pgv_test; --", vectors[3], metadata={"genre__name": "Metal"}),
    ]
    store.upsert(docs)
    attempts = [
        [Condition("genre__name", "exact", evil_value)],
        [Condition("genre__name", "in", ("x'); DROP TABLE pgv_test; --", evil_value))],
        [Condition("genre__name", "lt", "Rock'; DROP TABLE pgv_test; --")],
        [Condition(evil_key, "exact", "x")],
        [Condition(evil_key, "isnull", False)],
        [Condition("genre__name' OR 1=1 --", "isnull", False)],
        [Condition("genre__name", "gte", "0 OR 1=1")],
    ]
    for conditions in attempts:
        expected = {d.id for d in docs if matches(d.metadata, conditions)}
        assert {h.id for h in store.search(vectors[0], 10, filters=conditions)} == expected, conditions
    assert store.search(vectors[0], 10, models=["shop.product') OR ('1'='1"]) == []
    store.delete(["x' OR '1'='1"])
    assert store.count() == 4 and table_exists(TABLE)
    assert store.content_hashes([docs[3].id]) == {docs[3].id: "hash-3'; DELETE FROM pgv_test; --"}


# -- configuration and server errors ----------------------------------------------------------------------------


def test_missing_extension_is_a_clear_error():
    """The path taken when the server lacks pgvector (checked against pg_available_extensions)."""
    with transaction.atomic(), connection.cursor() as cursor:
        with pytest.raises(ConfigurationError) as error:
            ensure_extension(cursor, "default", extension="dgs_extension_that_is_not_installed")
    message = str(error.value)
    assert "not installed on the server of DATABASES['default']" in message
    assert "pg_available_extensions" in message and "pgvector" in message
    assert "VECTOR_STORE['OPTIONS']['DATABASE']" in message


@pytest.mark.parametrize(("options", "named"), [
    ({"path": "/tmp/x"}, "unknown keys PATH"),
    ({"database": "nope"}, "['DATABASE'] is 'nope', which is not in DATABASES"),
    ({"database": "sqlite"}, "['DATABASE'] is 'sqlite', a sqlite database; pgvector needs PostgreSQL"),
    ({"table": "Vectors; DROP"}, "['TABLE'] is 'Vectors; DROP'"),
    ({"table": "t" * 41}, "['TABLE']"),
    ({"collection": "g_1"}, "['COLLECTION'] is 'g_1'"),
    ({"collection": "meta"}, "['COLLECTION'] is 'meta'"),
    ({"m": 1}, "['M'] must be an integer from 2 to 100"),
    ({"m": 16, "ef_construction": 20}, "['EF_CONSTRUCTION'] must be an integer from 32 to 1000"),
    ({"ef_search": "40"}, "['EF_SEARCH'] must be an integer"),
    ({"iterative_scan": "on"}, "['ITERATIVE_SCAN'] must be one of strict_order, relaxed_order, off"),
    ({"exact_search_rows": -1}, "['EXACT_SEARCH_ROWS'] must be an integer from 0 to 10000000"),
    ({"text_search_config": "english'; DROP TABLE x; --"}, "['TEXT_SEARCH_CONFIG'] is \"english'; DROP"),
    ({"text_search_config": "public.english"}, "['TEXT_SEARCH_CONFIG'] is 'public.english'; use the name"),
])
def test_bad_options_name_the_option(options, named):
    with pytest.raises(ConfigurationError, match=named.replace("[", r"\[").replace("]", r"\]")):
        PgvectorStore(**options)


def test_vectors_travel_through_pgvectors_adapters_in_binary():
    """Writes and searches hand numpy arrays to pgvector-python's psycopg adapters on a cursor that binds on the
    server, so each vector reaches PostgreSQL in its binary form, never as a text literal in the SQL."""
    import psycopg

    sent = []

    def spy(execute, sql, params, many, context):
        if "vector" in sql and ("INSERT" in sql or "SELECT id, model" in sql):
            sent.append((type(context["cursor"].cursor), params))
        return execute(sql, params, many, context)

    store = PgvectorStore(table=TABLE)
    vectors = random_vectors(3, DIMENSION, 41).astype(np.float32)
    with connection.execute_wrapper(spy):
        store.upsert([make_doc(PRODUCT, i, vectors[i]) for i in range(3)])
        hits = store.search(vectors[1], 1)
    [(insert_cursor, insert_params), (search_cursor, search_params)] = sent
    for cursor_class in (insert_cursor, search_cursor):
        assert issubclass(cursor_class, psycopg.Cursor) and not issubclass(cursor_class, psycopg.ClientCursor)
    assert all(isinstance(vector, np.ndarray) for vector in insert_params[-1])
    assert isinstance(search_params[0], np.ndarray)
    assert [h.id for h in hits] == [document_id(PRODUCT, 1)] and hits[0].score == pytest.approx(1.0, abs=1e-6)
    stored = store.get_vectors([document_id(PRODUCT, 2)])[document_id(PRODUCT, 2)]
    assert np.array_equal(stored, (vectors[2] / np.linalg.norm(vectors[2])).astype(np.float32))


def test_nul_characters_never_reach_postgresql():
    """PostgreSQL's text and jsonb refuse NUL (psycopg raised 'PostgreSQL text fields cannot contain NUL'): indexed
    text and metadata are stored without it, and a query or filter value holding one is searched without it."""
    store = PgvectorStore(table=TABLE)
    vectors = random_vectors(2, DIMENSION, 42)
    store.upsert([
        make_doc(PRODUCT, 1, vectors[0], text="nul\x00byte zeppelin", metadata={"genre\x00": "Ro\x00ck", "n": 1}),
        make_doc(PRODUCT, 2, vectors[1], text="other words"),
    ])
    [hit] = store.keyword_search("nul\x00byte", 5)
    assert hit.id == document_id(PRODUCT, 1)
    assert hit.text == "nulbyte zeppelin" and hit.metadata == {"genre": "Rock", "n": 1}
    filtered = store.search(vectors[0], 5, filters=[Condition("genre", "exact", "Ro\x00ck")])
    assert [h.id for h in filtered] == [document_id(PRODUCT, 1)]
    assert store.keyword_search("\x00", 5) == []
