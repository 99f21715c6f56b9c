"""``PgvectorStore``: documents and vectors in a table of your Django PostgreSQL database, searched with pgvector.

Each collection is one table (``dgs_vectors``, ``dgs_vectors_g1``, ...) created on its first write, when
the embedder's dimension is known, with an HNSW index (cosine) on the vectors, a B-tree index on the model
label, a GIN index on the metadata and one on the ``tsvector`` of the text (PostgreSQL full-text search, the
keyword leg of hybrid search). Every statement runs through Django's connection for the ``DATABASE`` alias
inside ``transaction.atomic``, so a write made inside the caller's transaction commits or rolls back with it.
See the package README for the options and the guarantees.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Optional, TypeVar

import numpy as np
from django.db import ProgrammingError, connections, transaction

from dgs_core.base import StoredDocument, VectorHit, VectorStore, cosine_to_score, normalize_rows, upsert_batch
from dgs_core.exceptions import CollectionMissing, EmbedderMismatchError
from dgs_core.filters import Condition
from dgs_core.lexical import MAX_QUERY_TERMS, query_terms, relevance_to_score
from dgs_core.options import option
from dgs_pgvector.adapters import vector_cursor, without_nul
from dgs_pgvector.sql import (
    DDL_LOCK,
    UNDEFINED_COLUMN,
    UNDEFINED_TABLE,
    create_meta_table_statement,
    create_table_statements,
    distance_expression,
    ensure_extension,
    estimated_rows,
    extension_version,
    quote,
    require_text_search_config,
    sqlstate,
    table_columns,
    upgrade_table_statements,
    where_clause,
)

log = logging.getLogger("dgs_pgvector")
#: Tables of an earlier layout up to this many rows get the keyword-search column on first use; rewriting a
#: larger one would lock it against searches for minutes (see :meth:`PgvectorStore._upgrade_table`).
UPGRADE_MAX_ROWS = 20_000
_warned_large_tables: set[str] = set()

T = TypeVar("T")

_TABLE_NAME = re.compile(r"[a-z_][a-z0-9_]*\Z")
#: Collections never contain "_", so no collection's table can be named like another table's index.
_COLLECTION_NAME = re.compile(r"[a-z0-9]{1,9}\Z")
#: PostgreSQL truncates identifiers beyond 63 bytes; the longest name derived from TABLE adds a
#: collection ("_" and up to 9 characters) and "_embedding_idx".
_MAX_BASE_NAME = 63 - 10 - len("_embedding_idx")
IterativeScan = Literal["strict_order", "relaxed_order", "off"]
#: A plain identifier, so the configuration can be written into the generated column's definition.
_TEXT_SEARCH_CONFIG = re.compile(r"[a-z_][a-z0-9_]{0,62}\Z")
#: Punctuation between word characters, which PostgreSQL's parser may keep inside one lexeme ("AC/DC" is `ac/dc`).
_INNER_PUNCTUATION = re.compile(r"\w[^\w\s]+\w")
#: Planner settings of an exact search: the matching rows are read (from the GIN or B-tree indexes, or the
#: table) and sorted by distance, instead of walking the HNSW graph.
_EXACT_SEARCH = {"enable_indexscan": "off", "enable_sort": "on"}

#: Rows per INSERT statement (one transaction per upsert call, whatever its size).
WRITE_BATCH = 1000
#: Ids per page of iter_ids().
ID_PAGE = 10000

#: BM25's term-frequency saturation (SQLite FTS5's and Lucene's value): a word's second occurrence in a document
#: adds less than its first, and no number of occurrences adds more than ``k1 + 1`` times the word's IDF.
BM25_K1 = 1.2

#: Keyword search ranked by BM25, in one statement. ``term`` holds each distinct analysed query word that occurs in
#: the collection with its weight ``idf * (k1 + 1)``: its document frequency is counted through the GIN index, the
#: number of documents is the planner's (``reltuples``; counted when the table was never analysed). A document
#: holding any of the words (found through the same index, within the models and filters) scores the sum, over the
#: words it holds, of ``weight * (1 - k1 / (tf + k1))``, which is ``idf * tf * (k1 + 1) / (tf + k1)`` with ``tf``
#: written once so that ``ts_rank_cd`` (every position weighing 1: the word's occurrences) runs once. There is no
#: length normalisation (BM25's ``b = 0``): the collection's average length would cost a scan per search, and the
#: average over the matching documents ranked the Chinook judgments lower (nDCG@10 0.497 against 0.517) and made
#: searches for common words 1.5 to 1.7 times slower (README, "Keyword search").
_KEYWORD_SEARCH = """
    WITH term AS MATERIALIZED (
        SELECT word.query,
               ln(1 + (greatest(collection.size, frequency.documents) - frequency.documents + 0.5)
                      / (frequency.documents + 0.5)) * ({k1} + 1) AS weight
        FROM (SELECT DISTINCT query FROM unnest(ARRAY[{queries}]) AS word(query) WHERE numnode(query) > 0) AS word,
             (SELECT CASE WHEN reltuples > 0 THEN reltuples ELSE (SELECT count(*) FROM {table}) END
              FROM pg_class WHERE oid = to_regclass(%s)) AS collection(size),
             LATERAL (SELECT count(*) FROM {table} WHERE text_tsv @@ word.query) AS frequency(documents)
        WHERE frequency.documents > 0
    )
    SELECT id, model, pk, text, metadata, (
        SELECT sum(term.weight * (1 - {k1} / (ts_rank_cd('{{1,1,1,1}}', text_tsv, term.query) + {k1})))
        FROM term WHERE text_tsv @@ term.query
    ) AS relevance
    FROM {table} {where} ORDER BY relevance DESC, id LIMIT %s
"""

_UPSERT = """
    INSERT INTO {table} (id, model, pk, text, content_hash, metadata, embedding)
    SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[],
                         %s::text[]::jsonb[], %s::vector[])
    ON CONFLICT (id) DO UPDATE SET model = EXCLUDED.model, pk = EXCLUDED.pk, text = EXCLUDED.text,
        content_hash = EXCLUDED.content_hash, metadata = EXCLUDED.metadata, embedding = EXCLUDED.embedding
"""


def _decoded(metadata: Any) -> dict[str, Any]:
    """A ``jsonb`` value as Python: Django's psycopg 3 setup hands it over as text, psycopg2 decodes it."""
    return json.loads(metadata) if isinstance(metadata, str) else metadata


def _set_locally(cursor: Any, settings: dict[str, str]) -> None:
    """``SET LOCAL`` each setting (until the end of the transaction or savepoint), in one round trip."""
    cursor.execute("SELECT " + ", ".join(["set_config(%s, %s, true)"] * len(settings)),
                   [item for pair in settings.items() for item in pair])


def _search_words(query: str) -> list[str]:
    """The words of ``query`` (``query_terms``), then each space-separated run with punctuation inside it, whole.

    PostgreSQL's parser keeps such runs as one lexeme when it recognises a file name, host or version in them:
    "AC/DC", "B.Y.O.B." or "Electronica/Dance" are stored as ``ac/dc``, ``b.y.o.b`` and ``electronica/dance``,
    which none of their separate words matches. ``plainto_tsquery`` analyses the run as it analysed the document.
    """
    runs = [run for run in query.split() if _INNER_PUNCTUATION.search(run)]
    return list(dict.fromkeys([*query_terms(query), *runs]))[:MAX_QUERY_TERMS]


class PgvectorStore(VectorStore):
    """Vector store ``pgvector``: a table per collection in a Django PostgreSQL database.

    Options (``VECTOR_STORE["OPTIONS"]``): ``DATABASE`` (alias, default ``"default"``), ``TABLE`` (base
    table name, default ``"dgs_vectors"``), ``M`` and ``EF_CONSTRUCTION`` (HNSW build parameters, 16 and
    64), ``EF_SEARCH`` (HNSW search breadth, 100), ``ITERATIVE_SCAN`` (``"strict_order"``,
    ``"relaxed_order"`` or ``"off"``), ``EXACT_SEARCH_ROWS`` (filtered searches expected to match at most
    this many rows are exact, 5000) and ``TEXT_SEARCH_CONFIG`` (PostgreSQL text search configuration of
    keyword search, ``"english"``). django-graph-search's ``table_name``, ``using``, ``hnsw_m`` and
    ``hnsw_ef_construction`` are accepted; its ``dimension`` and ``distance`` are ignored with a warning.
    """

    capabilities = frozenset({"persistence", "filters", "keyword"})
    legacy_options = {
        "table_name": "table", "using": "database", "hnsw_m": "m", "hnsw_ef_construction": "ef_construction",
    }

    @dataclass(frozen=True)
    class Options(VectorStore.Options):
        database: str = option("default", help="the alias in DATABASES of a PostgreSQL database")
        table: str = option("dgs_vectors", help="the base table name")
        m: int = option(16, min=2, max=100, help="HNSW build parameter: links per node")
        ef_construction: int = option(64, help="HNSW build parameter: candidates per insert (2*M to 1000)")
        ef_search: int = option(100, min=1, max=1000, help="HNSW search breadth")
        iterative_scan: IterativeScan = option("strict_order", help="how filtered HNSW searches go on")
        exact_search_rows: int = option(5000, min=0, max=10_000_000,
                                        help="filtered searches expected to match at most this many rows are exact")
        text_search_config: str = option("english", help="PostgreSQL text search configuration of keyword search")
        dimension: Any = option(None, listed=False, help="django_graph_search's; ignored with a warning")
        distance: Any = option(None, listed=False, help="django_graph_search's; ignored with a warning")

        def __post_init__(self) -> None:
            database, table, collection = self.database, self.table, self.collection
            if database not in connections.settings:
                raise ValueError(f"{{database}} is {database!r}, which is not in DATABASES "
                                 f"({', '.join(connections.settings)}).")
            if connections[database].vendor != "postgresql":
                raise ValueError(f"{{database}} is {database!r}, a {connections[database].vendor} database; pgvector "
                                 "needs PostgreSQL.")
            if not _TABLE_NAME.match(table) or len(table) > _MAX_BASE_NAME:
                raise ValueError(f"{{table}} is {table!r}; use lower-case letters, digits and _ (at most "
                                 f"{_MAX_BASE_NAME} characters).")
            if collection and (not _COLLECTION_NAME.match(collection) or collection == "meta"):
                raise ValueError(f"{{collection}} is {collection!r}; use 1 to 9 lower-case letters and digits, "
                                 "not 'meta'.")
            if not _TEXT_SEARCH_CONFIG.match(self.text_search_config):
                raise ValueError(
                    f"{{text_search_config}} is {self.text_search_config!r}; use the name of a PostgreSQL text search "
                    "configuration, a plain lower-case identifier such as 'english' or 'simple' (`\\dF` in psql "
                    "lists them)."
                )
            if not 2 * self.m <= self.ef_construction <= 1000:
                raise ValueError(f"{{ef_construction}} must be an integer from {2 * self.m} to 1000, not "
                                 f"{self.ef_construction!r}.")

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        for legacy, reason in (
            ("dimension", "the table takes the embedder's dimension on its first write"),
            ("distance", "dgs always ranks by cosine similarity, so scores compare across stores"),
        ):
            if getattr(self.options, legacy) is not None:
                warnings.warn(
                    f"VECTOR_STORE['OPTIONS']['{legacy.upper()}'] is ignored by the pgvector store ({reason}); "
                    f"remove it.",
                    DeprecationWarning,
                    stacklevel=2,
                )
        options = self.options
        self.database, self.collection = options.database, options.collection
        self.table = f"{options.table}_{options.collection}" if options.collection else options.table
        self.meta_table = f"{options.table}_meta"
        self._table_sql, self._meta_table_sql = quote(self.table), quote(self.meta_table)
        self.m, self.ef_construction = options.m, options.ef_construction
        self.ef_search, self.iterative_scan = options.ef_search, options.iterative_scan
        self.exact_search_rows, self.text_search_config = options.exact_search_rows, options.text_search_config
        # (dimension of the table, pgvector version) once a search has read them; reset when the table goes.
        self._search_setup: Optional[tuple[int, tuple[int, ...]]] = None

    # ---------------------------------------------------------------------------------------------
    # Transactions
    # ---------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _cursor(self, vectors: bool = False) -> Iterator[Any]:
        """A cursor inside ``atomic``: its own transaction, or a savepoint in the caller's. With ``vectors``, one
        that sends vectors (numpy arrays) through pgvector's adapters (binary with psycopg 3): the ``vector``
        extension must exist."""
        connection = connections[self.database]
        with transaction.atomic(using=self.database), (
            vector_cursor(connection) if vectors else connection.cursor()
        ) as cursor:
            yield cursor

    def _run(self, work: Callable[[Any], T], if_missing: T, vectors: bool = False) -> T:
        """``work(cursor)`` in a transaction; ``if_missing`` when the collection's table does not exist (yet)."""
        try:
            with self._cursor(vectors) as cursor:
                return work(cursor)
        except ProgrammingError as exc:
            if sqlstate(exc) != UNDEFINED_TABLE:
                raise
            self._search_setup = None
            if self.must_exist:
                raise self.vanished() from exc
            return if_missing

    def exists(self) -> bool:
        with self._cursor() as cursor:
            cursor.execute("SELECT to_regclass(%s)", [self._table_sql])
            return cursor.fetchone()[0] is not None

    def vanished(self) -> CollectionMissing:
        return CollectionMissing(
            f"The pgvector table {self.table!r} (database {self.database!r}) was built but is gone (dropped outside "
            "dgs). Rebuild the index with `python manage.py build_search_index --rebuild`."
        )

    def _require_table(self, cursor: Any, dimension: int) -> None:
        """Create the collection's table on first use (or bring one created by an earlier dgs-pgvector to the
        current layout), and refuse vectors of another dimension."""
        columns = table_columns(cursor, self.table)
        if not columns:
            cursor.execute(DDL_LOCK)
            columns = table_columns(cursor, self.table)  # another process may have created it meanwhile
        if not columns:
            ensure_extension(cursor, self.database)
            require_text_search_config(cursor, self.text_search_config)
            for statement in create_table_statements(
                self.table, dimension, self.m, self.ef_construction, self.text_search_config
            ):
                cursor.execute(statement)
            return
        if "text_tsv" not in columns:
            self._upgrade_table(cursor)
        if columns["embedding"] != dimension:
            raise EmbedderMismatchError(
                f"The pgvector table {self.table!r} holds {columns['embedding']}-dimensional vectors; these have "
                f"{dimension}. Rebuild the index with `manage.py build_search_index --rebuild` (or drop the "
                f"collection) to change embedders."
            )

    def _upgrade_table(self, cursor: Any) -> bool:
        """Give a table created before keyword search its ``text_tsv`` column and index, if it is small enough
        to rewrite in a moment (``UPGRADE_MAX_ROWS``); returns whether the table has the column now.

        The rewrite locks the table against reads and writes (minutes for 100,000 rows), so a larger table is
        left as it is, with a warning: ``build_search_index --rebuild`` fills a new table of the current
        layout while this one keeps answering, or run the README's statements in a maintenance window.
        """
        cursor.execute(DDL_LOCK)
        if "text_tsv" in table_columns(cursor, self.table):  # another process did it meanwhile
            return True
        cursor.execute(f"SELECT count(*) FROM (SELECT 1 FROM {self._table_sql} LIMIT %s) AS head",
                       [UPGRADE_MAX_ROWS + 1])
        if cursor.fetchone()[0] > UPGRADE_MAX_ROWS:
            if self.table not in _warned_large_tables:
                _warned_large_tables.add(self.table)
                log.warning(
                    "The pgvector table %r predates keyword search and holds more than %d rows, too many to rewrite "
                    "while it serves searches: keyword (and hybrid) search answers without its keyword leg until "
                    "`manage.py build_search_index --rebuild`, or the upgrade statements in dgs-pgvector's README, "
                    "give it the text_tsv column.", self.table, UPGRADE_MAX_ROWS)
            return False
        require_text_search_config(cursor, self.text_search_config)
        for statement in upgrade_table_statements(self.table, self.text_search_config):
            cursor.execute(statement)
        return True

    # ---------------------------------------------------------------------------------------------
    # Writes
    # ---------------------------------------------------------------------------------------------

    def upsert(self, documents: Sequence[StoredDocument]) -> None:
        # An id named twice: the last one wins (one INSERT cannot update a row twice). Sorted by id so that
        # concurrent upserts of overlapping batches lock rows in the same order and never deadlock.
        latest, vectors = upsert_batch(sorted(documents, key=lambda doc: doc.id))
        if not latest:
            return
        statement = _UPSERT.format(table=self._table_sql)
        with self._cursor() as cursor:
            self._require_table(cursor, vectors.shape[1])  # creates the vector extension, which the adapters need
        with self._cursor(vectors=True) as cursor:
            for start in range(0, len(latest), WRITE_BATCH):
                batch = latest[start : start + WRITE_BATCH]
                cursor.execute(statement, [
                    [doc.id for doc in batch],
                    [doc.model.lower() for doc in batch],
                    [str(doc.pk) for doc in batch],
                    [without_nul(doc.text) for doc in batch],
                    [doc.content_hash or "" for doc in batch],
                    [json.dumps(without_nul(doc.metadata or {})) for doc in batch],
                    list(vectors[start : start + WRITE_BATCH]),
                ])

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            sql = f"DELETE FROM {self._table_sql} WHERE id = ANY(%s)"
            self._run(lambda cursor: cursor.execute(sql, [list(ids)]), None)

    def clear(self, models: Optional[Sequence[str]] = None) -> None:
        """Delete ``models``' documents, or every document. The table and the embedder record stay: the
        collection still belongs to its embedder, and :meth:`drop` is what forgets both."""
        if models:
            sql, params = f"DELETE FROM {self._table_sql} WHERE model = ANY(%s)", [[m.lower() for m in models]]
        else:
            # TRUNCATE also empties the indexes at once; a DELETE would leave them to VACUUM.
            sql, params = f"TRUNCATE {self._table_sql}", None
        self._run(lambda cursor: cursor.execute(sql, params), None)

    def drop(self) -> None:
        """Drop the collection's table and its embedder record."""
        with self._cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self._table_sql}")
            cursor.execute("SELECT to_regclass(%s)", [self._meta_table_sql])
            if cursor.fetchone()[0] is not None:
                cursor.execute(f"DELETE FROM {self._meta_table_sql} WHERE collection = %s", [self.collection])
        self._search_setup = None

    # ---------------------------------------------------------------------------------------------
    # Search
    # ---------------------------------------------------------------------------------------------

    def search(self, vector: np.ndarray, k: int, *, models: Optional[Sequence[str]] = None,
               filters: Optional[Sequence[Condition]] = None) -> list[VectorHit]:
        if k <= 0:
            return []
        query = normalize_rows(vector)[0]
        where, params = where_clause(models, filters or ())

        def work(cursor: Any) -> list[tuple]:
            setup = self._setup(cursor)
            if setup is None and self.must_exist:
                raise self.vanished()
            if setup is None:
                return []  # nothing written to this collection yet
            dimension, version = setup
            if query.size != dimension:
                raise EmbedderMismatchError(
                    f"The pgvector table {self.table!r} holds {dimension}-dimensional vectors, but the query vector "
                    f"has {query.size}. Search with the embedder that filled it, or rebuild the index with "
                    f"`manage.py build_search_index --rebuild`."
                )
            sql = (
                f"SELECT id, model, pk, text, metadata, {distance_expression(dimension)} AS distance "
                f"FROM {self._table_sql} {where} ORDER BY distance LIMIT %s"
            )
            arguments = [query, *params, k]
            if filters and estimated_rows(cursor, self.table, where, params) <= self.exact_search_rows:
                # Few rows match: reading and sorting them all is exact, and cheaper than walking the HNSW graph
                # past the many rows that do not match.
                _set_locally(cursor, _EXACT_SEARCH)
                cursor.execute(sql, arguments)
                rows = cursor.fetchall()
            else:
                rows = self._hnsw_search(cursor, sql, arguments, k, version, filtered=bool(filters))
            # Read-only: rolling back also ends the SET LOCALs, even inside the caller's transaction.
            transaction.set_rollback(True, using=self.database)
            return rows

        hits = []
        for doc_id, model, pk, text, metadata, distance in self._run(work, [], vectors=True):
            cosine = 1.0 - distance if distance is not None and math.isfinite(distance) else 0.0  # zero vectors
            hits.append(VectorHit(doc_id, model, pk, float(cosine_to_score(cosine)), text, _decoded(metadata)))
        hits.sort(key=lambda hit: -hit.score)  # ITERATIVE_SCAN relaxed_order may return neighbours out of order
        return hits

    def _hnsw_search(
        self, cursor: Any, sql: str, arguments: list[Any], k: int, version: tuple[int, ...], filtered: bool
    ) -> list[tuple]:
        """``sql`` answered by walking the HNSW index, re-run exactly if that found fewer than ``k`` rows."""
        settings = {"hnsw.ef_search": str(self.ef_search)}
        if self.iterative_scan != "off" and version >= (0, 8):  # iterative scans arrived in pgvector 0.8
            settings["hnsw.iterative_scan"] = self.iterative_scan
        if filtered:
            # The filter is expected to match more than EXACT_SEARCH_ROWS rows, too many to read and sort, but
            # PostgreSQL's costs may still favour that plan (they do not know iterative scans): ruling out sorts
            # makes it walk the graph, checking the filter on each row it visits.
            settings["enable_sort"] = "off"
        _set_locally(cursor, settings)
        cursor.execute(sql, arguments)
        rows = cursor.fetchall()
        if len(rows) < k:
            # The HNSW scan gave up early (a filter rarer than estimated, past hnsw.max_scan_tuples, or a pgvector
            # without iterative scans): answer exactly, from the B-tree/GIN indexes or a sequential scan.
            _set_locally(cursor, _EXACT_SEARCH)
            cursor.execute(sql, arguments)
            rows = cursor.fetchall()
        return rows

    def keyword_search(self, query: str, k: int, *, models: Optional[Sequence[str]] = None,
                       filters: Optional[Sequence[Condition]] = None) -> list[VectorHit]:
        """PostgreSQL full-text search ranked by BM25: documents whose ``text_tsv`` holds any word of ``query``
        or any of its words joined by punctuation (each analysed by ``plainto_tsquery`` with ``TEXT_SEARCH_CONFIG``,
        so user text is never tsquery syntax), with ``models`` and ``filters`` in the same ``WHERE``; rare words
        weigh more than common ones (see ``_KEYWORD_SEARCH``)."""
        terms = _search_words(without_nul(query))
        if k <= 0 or not terms:
            return []
        analysed = ["plainto_tsquery(%s::regconfig, %s)"] * len(terms)
        words = [value for term in terms for value in (self.text_search_config, term)]
        # The match ORs the words again rather than reading them from `term`: PostgreSQL then knows the tsquery
        # when planning, estimates how many rows it matches and picks the GIN index or a sequential scan.
        where, params = where_clause(models, filters or (), also=[f"text_tsv @@ ({' || '.join(analysed)})"])
        sql = _KEYWORD_SEARCH.format(k1=BM25_K1, table=self._table_sql, queries=", ".join(analysed), where=where)
        arguments = [*words, quote(self.table), *words, *params, k]
        try:
            rows = self._fetch(sql, arguments)
        except ProgrammingError as exc:
            if sqlstate(exc) != UNDEFINED_COLUMN:
                raise
            # A table created before keyword search: give it the text_tsv column now if that is quick.
            if not self._run(self._upgrade_table, False):
                return []
            rows = self._fetch(sql, arguments)
        return [
            VectorHit(doc_id, model, pk, relevance_to_score(relevance), text, _decoded(metadata))
            for doc_id, model, pk, text, metadata, relevance in rows
        ]

    def _setup(self, cursor: Any) -> Optional[tuple[int, tuple[int, ...]]]:
        """The table's dimension and the pgvector version, read once per store instance (``None``: no table)."""
        if self._search_setup is None:
            dimension = table_columns(cursor, self.table).get("embedding")
            if dimension is not None:
                self._search_setup = (dimension, extension_version(cursor) or (0,))
        return self._search_setup

    # ---------------------------------------------------------------------------------------------
    # Reads
    # ---------------------------------------------------------------------------------------------

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[tuple]:
        def work(cursor: Any) -> list[tuple]:
            cursor.execute(sql, params)
            return cursor.fetchall()

        return self._run(work, [])

    def count(self, models: Optional[Sequence[str]] = None) -> int:
        where, params = where_clause(models, ())
        rows = self._fetch(f"SELECT count(*) FROM {self._table_sql} {where}", params)
        return rows[0][0] if rows else 0

    def iter_ids(self, models: Optional[Sequence[str]] = None) -> Iterator[str]:
        """Every id in id order, read in pages (keyset pagination: no cursor is held between pages)."""
        where, params = where_clause(models, ())
        sql = f"SELECT id FROM {self._table_sql} {where} {'AND' if where else 'WHERE'} id > %s ORDER BY id LIMIT %s"
        last = ""
        while True:
            page = [row[0] for row in self._fetch(sql, [*params, last, ID_PAGE])]
            yield from page
            if len(page) < ID_PAGE:
                return
            last = page[-1]

    def content_hashes(self, ids: Sequence[str]) -> dict[str, str]:
        if not ids:
            return {}
        return dict(self._fetch(f"SELECT id, content_hash FROM {self._table_sql} WHERE id = ANY(%s)", [list(ids)]))

    def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Unit-length float32 copies of the stored vectors."""
        if not ids:
            return {}
        rows = self._fetch(f"SELECT id, embedding::real[] FROM {self._table_sql} WHERE id = ANY(%s)", [list(ids)])
        return {doc_id: np.asarray(values, dtype=np.float32) for doc_id, values in rows}

    # ---------------------------------------------------------------------------------------------
    # Embedder record
    # ---------------------------------------------------------------------------------------------

    def embedder_info(self) -> Optional[dict[str, Any]]:
        sql = (f"SELECT embedder, dimension, to_regclass(%s) IS NOT NULL FROM {self._meta_table_sql} "
               "WHERE collection = %s")
        rows = self._fetch(sql, [self._table_sql, self.collection])
        if self.must_exist and not (rows and rows[0][2]):  # the record may outlive a table dropped behind dgs
            raise self.vanished()
        return {"embedder": rows[0][0], "dimension": rows[0][1]} if rows else None

    def record_embedder(self, embedder_id: str, dimension: int) -> None:
        """Save the embedder in ``<TABLE>_meta``, one row per collection (created on first use)."""
        with self._cursor() as cursor:
            cursor.execute("SELECT to_regclass(%s)", [self._meta_table_sql])
            if cursor.fetchone()[0] is None:
                cursor.execute(DDL_LOCK)
                cursor.execute(create_meta_table_statement(self.meta_table))
            cursor.execute(
                f"INSERT INTO {self._meta_table_sql} (collection, embedder, dimension) VALUES (%s, %s, %s) "
                "ON CONFLICT (collection) DO UPDATE SET embedder = EXCLUDED.embedder, dimension = EXCLUDED.dimension",
                [self.collection, embedder_id, int(dimension)],
            )

    def close(self) -> None:
        """Forget what was read from the database; Django owns (and closes) the connections."""
        self._search_setup = None
