"""What the pgvector store does beyond the contract: its schema, query plans, settings and SQL safety."""

import numpy as np
import pytest
from django.db import connection, transaction

from dgs_core.base import document_id
from dgs_core.exceptions import ConfigurationError, EmbedderMismatchError
from dgs_core.filters import Condition, matches
from dgs_core.testing.vector_store import at_cosines, cosine, make_doc, random_vectors
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


def test_first_write_creates_the_table_with_an_hnsw_index():
    store = PgvectorStore(table=TABLE, m=12, ef_construction=48)
    assert store.search(random_vectors(1, DIMENSION, 0)[0], 5) == [] and not table_exists(TABLE)

    store.upsert([make_doc(PRODUCT, 1, random_vectors(1, DIMENSION, 1)[0])])

    definitions = indexes(TABLE)
    assert set(definitions) == {
        f"{TABLE}_pkey", f"{TABLE}_model_idx", f"{TABLE}_metadata_idx", f"{TABLE}_embedding_idx"
    }
    assert "USING hnsw (embedding vector_cosine_ops) WITH (m='12', ef_construction='48')" in (
        definitions[f"{TABLE}_embedding_idx"]
    )
    assert "USING gin (metadata jsonb_path_ops)" in definitions[f"{TABLE}_metadata_idx"]
    assert "USING btree (model)" in definitions[f"{TABLE}_model_idx"]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 ORDER BY attnum", [TABLE]
        )
        assert cursor.fetchall() == [
            ("id", "text"), ("model", "text"), ("pk", "text"), ("text", "text"), ("content_hash", "text"),
            ("metadata", "jsonb"), ("embedding", f"vector({DIMENSION})"),
        ]


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
    store = PgvectorStore(table=TABLE)
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


def test_filtered_searches_walk_the_hnsw_index():
    """EXPLAIN of the queries the store sends: metadata filters and model restrictions are applied while
    walking the HNSW index, not by reading every matching row and sorting them."""
    store = PgvectorStore(table=TABLE)
    vectors = random_vectors(600, DIMENSION, 4)
    genres = ["Rock", "Jazz", "Metal"]
    store.upsert([
        make_doc(PRODUCT if i % 3 else "shop.review", i, vectors[i],
                 metadata={"genre__name": genres[i % 3], "milliseconds": 1000 * i, "tags__name": [f"t{i % 4}"]})
        for i in range(600)
    ])
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {TABLE}")  # the statistics autovacuum would gather on a live site

    searches = [
        {"filters": [Condition("genre__name", "exact", "Rock")]},
        {"filters": [Condition("tags__name", "in", ("t1", "t2")), Condition("milliseconds", "lt", 400000)]},
        {"filters": [Condition("genre__name", "exact", "Jazz")], "models": [PRODUCT]},
    ]
    for search in searches:
        with connection.execute_wrapper(spy := SearchSpy()):
            hits = store.search(vectors[0], 10, **search)
        assert len(hits) == 10
        assert f"Index Scan using {TABLE}_embedding_idx" in spy.runs[0].plan, (search, spy.runs[0].plan)
        assert "Sort" not in spy.runs[0].plan, spy.runs[0].plan


def test_ef_search_and_iterative_scan_apply_to_the_search_only():
    store = PgvectorStore(table=TABLE, ef_search=77, iterative_scan="relaxed_order")
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
    store = PgvectorStore(table=TABLE)
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
    store = PgvectorStore(table=TABLE, iterative_scan="off", ef_search=10)
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


def test_another_dimension_is_refused_until_the_collection_is_cleared():
    store = PgvectorStore(table=TABLE)
    store.upsert([make_doc(PRODUCT, 1, random_vectors(1, DIMENSION, 10)[0])])
    store.record_embedder("hashing:hashing-16", DIMENSION)
    wider = random_vectors(1, 32, 11)[0]
    with pytest.raises(EmbedderMismatchError, match=f"'{TABLE}' holds 16-dimensional vectors; these have 32"):
        store.upsert([make_doc(PRODUCT, 2, wider)])
    with pytest.raises(EmbedderMismatchError, match="build_search_index --rebuild"):
        store.search(wider, 3)

    store.clear()
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
    ({"path": "/tmp/x"}, "unknown keys ['PATH']"),
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
])
def test_bad_options_name_the_option(options, named):
    with pytest.raises(ConfigurationError, match=named.replace("[", r"\[").replace("]", r"\]")):
        PgvectorStore(**options)
