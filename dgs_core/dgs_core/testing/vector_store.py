"""The vector store contract: the pytest suite every :class:`~dgs_core.base.VectorStore` backend passes.

Subclass it in the backend's tests and provide a ``store`` fixture that yields an EMPTY store and cleans
up after the test. A store that declares the ``persistence`` capability also provides ``reopen``: a
callable that returns a new instance over the same storage (the suite closes ``store`` first, as a
restart would)::

    class TestMyStore(VectorStoreContract):
        @pytest.fixture
        def store(self, tmp_path):
            store = MyStore(path=str(tmp_path))
            yield store
            store.close()

        @pytest.fixture
        def reopen(self, tmp_path):
            return lambda: MyStore(path=str(tmp_path))

Vectors are built from seeded numpy generators, never a model, so a failure reproduces exactly. A test
the backend cannot pass may be overridden only with ``@pytest.mark.xfail(reason=...)`` or
``@pytest.mark.skip(reason=...)``; the guard test inherited from :class:`ContractSuite` fails otherwise.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Optional

import numpy as np
import pytest

from dgs_core.base import StoredDocument, VectorStore, cosine_to_score, document_id
from dgs_core.exceptions import CollectionMissing
from dgs_core.filters import Condition, matches
from dgs_core.ids import DocumentRef
from dgs_core.testing.base import require
from dgs_core.testing.corpus import (
    POST,
    PRODUCT,
    REVIEW,
    SCORE_TOLERANCE,
    at_cosines,
    cosine,
    make_doc,
    random_vectors,
)
from dgs_core.testing.keyword_search import FieldMatchContract, KeywordSearchContract


class VectorStoreContract(KeywordSearchContract, FieldMatchContract):
    """Every behaviour dgs relies on from a vector store; subclass it and provide ``store``."""

    #: Length of the test vectors; small so the suite runs in seconds on any engine.
    dimension: ClassVar[int] = 16

    @pytest.fixture
    def store(self) -> VectorStore:
        """Override: yield an EMPTY store of your backend and clean up after the test."""
        pytest.fail(f"{type(self).__name__} must define a `store` fixture that yields an empty VectorStore.")

    @pytest.fixture
    def reopen(self) -> Optional[Callable[[], VectorStore]]:
        """Override for persistent stores: a callable returning a new instance over the same storage.

        The persistence test closes ``store`` before calling it, as a restart would, and closes what it returns.
        """
        return None

    @pytest.fixture
    def make_collection(self) -> Callable[[str], VectorStore]:
        """Override: a callable returning a store of the same backend and storage for collection ``name``
        (the ``collection`` option that zero-downtime rebuilds pass); the test closes what it returns."""
        pytest.fail(f"{type(self).__name__} must define `make_collection(name)` building a store with collection=name.")

    def query(self, seed: int = 0) -> np.ndarray:
        """A deterministic query vector of the suite's dimension."""
        return random_vectors(1, self.dimension, seed)[0]

    # ---------------------------------------------------------------------------------------------
    # Writes
    # ---------------------------------------------------------------------------------------------

    def test_upsert_then_count(self, store: VectorStore) -> None:
        """Upserted documents are counted, in total and per model.

        Troubleshooting: count() must reflect a write as soon as upsert() returns (flush or refresh
        the engine's view before answering).
        """
        vectors = random_vectors(5, self.dimension, seed=1)
        store.upsert([make_doc(PRODUCT, i, vectors[i]) for i in range(3)])
        store.upsert([make_doc(REVIEW, i, vectors[i]) for i in range(3, 5)])
        assert store.count() == 5
        assert store.count([PRODUCT]) == 3
        assert store.count([REVIEW]) == 2
        assert store.count([PRODUCT, REVIEW]) == 5
        assert store.count([POST]) == 0

    def test_upsert_of_nothing_is_a_no_op(self, store: VectorStore) -> None:
        """``upsert([])`` neither fails nor stores anything.

        Troubleshooting: return early on an empty batch; some engines reject empty requests.
        """
        store.upsert([])
        assert store.count() == 0

    def test_upsert_same_id_replaces(self, store: VectorStore) -> None:
        """Storing an id again replaces its text, vector, hash and metadata; it never duplicates.

        Troubleshooting: key documents by ``StoredDocument.id`` and overwrite (or delete then insert)
        every field, the vector included.
        """
        old_vector, new_vector = random_vectors(2, self.dimension, seed=2)
        store.upsert([make_doc(PRODUCT, 1, old_vector, text="old text", content_hash="h1", metadata={"v": 1})])
        store.upsert([make_doc(PRODUCT, 1, new_vector, text="new text", content_hash="h2", metadata={"v": 2})])

        assert store.count() == 1
        assert list(store.iter_ids()) == [document_id(PRODUCT, 1)]
        assert store.content_hashes([document_id(PRODUCT, 1)]) == {document_id(PRODUCT, 1): "h2"}
        hits = store.search(new_vector, 10)
        assert [(h.id, h.text, h.metadata) for h in hits] == [(document_id(PRODUCT, 1), "new text", {"v": 2})]
        assert hits[0].score == pytest.approx(1.0, abs=SCORE_TOLERANCE)
        expected_old = cosine_to_score(cosine(old_vector, new_vector))
        assert store.search(old_vector, 1)[0].score == pytest.approx(expected_old, abs=SCORE_TOLERANCE)
        stored = store.get_vectors([document_id(PRODUCT, 1)])[document_id(PRODUCT, 1)]
        assert cosine(stored, new_vector) == pytest.approx(1.0, abs=1e-3)

    def test_delete_removes_documents(self, store: VectorStore) -> None:
        """Deleted documents disappear from count, iter_ids, content_hashes, get_vectors and search.

        Troubleshooting: a deleted row must not come back as a search hit, not even as a filler when
        fewer than ``k`` documents remain.
        """
        vectors = random_vectors(4, self.dimension, seed=3)
        store.upsert([make_doc(PRODUCT, i, vectors[i]) for i in range(4)])
        gone = [document_id(PRODUCT, 0), document_id(PRODUCT, 2)]
        store.delete(gone)

        kept = {document_id(PRODUCT, 1), document_id(PRODUCT, 3)}
        assert store.count() == 2
        assert set(store.iter_ids()) == kept
        assert store.content_hashes(gone) == {}
        assert store.get_vectors(gone) == {}
        assert {h.id for h in store.search(vectors[0], 10)} == kept

    def test_delete_of_unknown_ids_is_a_no_op(self, store: VectorStore) -> None:
        """Deleting ids that are not stored (or none at all) changes nothing and raises nothing.

        Troubleshooting: dgs deletes on every post_delete signal, indexed or not; ignore unknown ids.
        """
        store.delete([document_id(PRODUCT, "missing")])
        store.delete([])
        vector = random_vectors(1, self.dimension, seed=4)[0]
        store.upsert([make_doc(PRODUCT, 1, vector)])
        store.delete([document_id(PRODUCT, 2), document_id(REVIEW, 1)])
        assert list(store.iter_ids()) == [document_id(PRODUCT, 1)]

    # ---------------------------------------------------------------------------------------------
    # Search
    # ---------------------------------------------------------------------------------------------

    def test_search_returns_best_first(self, store: VectorStore) -> None:
        """Hits come back in decreasing similarity to the query.

        Troubleshooting: engines that return distances sort ascending; map distance to similarity
        before ordering, and check the metric is cosine (or inner product on normalised vectors).
        """
        query = self.query(seed=5)
        cosines = [0.3, 0.95, -0.2, 0.6, 0.8]
        vectors = at_cosines(query, cosines, seed=5)
        store.upsert([make_doc(PRODUCT, i, vectors[i]) for i in range(len(cosines))])
        hits = store.search(query, 5)
        expected_order = [document_id(PRODUCT, i) for i in np.argsort(cosines)[::-1]]
        assert [h.id for h in hits] == expected_order

    def test_search_returns_at_most_k(self, store: VectorStore) -> None:
        """``search(vector, k)`` returns exactly the ``k`` nearest when more are stored.

        Troubleshooting: pass ``k`` to the engine as its limit; do not return the whole candidate list.
        """
        query = self.query(seed=6)
        cosines = np.linspace(0.95, -0.9, 20)
        vectors = at_cosines(query, cosines, seed=6)
        store.upsert([make_doc(PRODUCT, i, vectors[i]) for i in range(20)])
        hits = store.search(query, 5)
        assert [h.id for h in hits] == [document_id(PRODUCT, i) for i in range(5)]

    def test_search_with_k_above_count_returns_all(self, store: VectorStore) -> None:
        """Asking for more hits than documents returns every document once, with no padding.

        Troubleshooting: FAISS-like engines pad missing results with id -1 and engines with
        approximate indexes may need ``k`` clamped to the count; drop padding rows.
        """
        vectors = random_vectors(7, self.dimension, seed=7)
        store.upsert([make_doc(PRODUCT, i, vectors[i]) for i in range(7)])
        hits = store.search(self.query(seed=70), 100)
        assert sorted(h.id for h in hits) == sorted(document_id(PRODUCT, i) for i in range(7))

    def test_search_on_empty_store_returns_nothing(self, store: VectorStore) -> None:
        """An empty store answers ``[]`` (with or without ``models``) instead of raising.

        Troubleshooting: a store that creates its index or collection lazily must treat "not created
        yet" as empty.
        """
        assert store.search(self.query(seed=8), 10) == []
        assert store.search(self.query(seed=8), 10, models=[PRODUCT]) == []

    def test_scores_are_clipped_cosine_similarity(self, store: VectorStore) -> None:
        """Each score equals ``cosine_to_score(cosine(query, vector))`` within 0.01, for any vector length.

        Troubleshooting: normalise vectors (stored and query) or use the engine's cosine metric, then
        map its distance back to cosine (e.g. ``1 - d`` for cosine distance, ``1 - d²/2`` for L2 on
        unit vectors) and apply :func:`dgs_core.base.cosine_to_score`.
        """
        vectors = random_vectors(40, self.dimension, seed=9)
        store.upsert([make_doc(PRODUCT, i, vectors[i]) for i in range(40)])
        query = self.query(seed=90) * 7.3
        hits = store.search(query, 40)

        assert len(hits) == 40
        for hit in hits:
            expected = cosine_to_score(cosine(query, vectors[int(hit.pk)]))
            assert isinstance(hit.score, float), "scores must be plain floats (JSON-serialisable)"
            assert 0.0 <= hit.score <= 1.0
            assert hit.score == pytest.approx(expected, abs=SCORE_TOLERANCE), hit.id
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True)

    def test_models_restriction_returns_k_hits_when_other_models_dominate(self, store: VectorStore) -> None:
        """``models=`` returns the ``k`` best of those models even when other models fill the neighbourhood.

        Troubleshooting: push the restriction into the engine (payload/metadata filter, ID selector);
        searching unrestricted and filtering afterwards returns too few hits.
        """
        query = self.query(seed=10)
        close_reviews = at_cosines(query, np.linspace(0.99, 0.9, 300), seed=10)
        far_products = at_cosines(query, np.linspace(0.5, 0.1, 8), seed=11)
        store.upsert([make_doc(REVIEW, i, close_reviews[i]) for i in range(300)])
        store.upsert([make_doc(PRODUCT, i, far_products[i]) for i in range(8)])

        hits = store.search(query, 5, models=[PRODUCT])
        assert [h.id for h in hits] == [document_id(PRODUCT, i) for i in range(5)]
        assert {h.model for h in store.search(query, 20, models=[PRODUCT, POST])} == {PRODUCT}
        assert len(store.search(query, 20, models=[PRODUCT])) == 8
        assert {h.model for h in store.search(query, 5)} == {REVIEW}

    def test_models_restriction_to_a_model_without_documents_returns_nothing(self, store: VectorStore) -> None:
        """Restricting to models that have no documents returns ``[]``.

        Troubleshooting: an empty ID set or filter must not be treated as "no restriction".
        """
        vectors = random_vectors(3, self.dimension, seed=12)
        store.upsert([make_doc(PRODUCT, i, vectors[i]) for i in range(3)])
        assert store.search(vectors[0], 10, models=[POST]) == []

    # ---------------------------------------------------------------------------------------------
    # Reading back
    # ---------------------------------------------------------------------------------------------

    def test_iter_ids_all_and_by_model(self, store: VectorStore) -> None:
        """``iter_ids()`` yields every stored id once; ``iter_ids(models)`` only those models' ids.

        Troubleshooting: page through the engine's scroll/list API; ids must be the ``StoredDocument.id``
        strings, not the engine's internal ids.
        """
        vectors = random_vectors(6, self.dimension, seed=13)
        store.upsert([make_doc(PRODUCT, i, vectors[i]) for i in range(4)])
        store.upsert([make_doc(REVIEW, i, vectors[i]) for i in range(4, 6)])
        all_ids = list(store.iter_ids())
        assert len(all_ids) == 6
        assert set(all_ids) == {document_id(PRODUCT, i) for i in range(4)} | {document_id(REVIEW, i) for i in (4, 5)}
        assert set(store.iter_ids([REVIEW])) == {document_id(REVIEW, 4), document_id(REVIEW, 5)}
        assert set(store.iter_ids([REVIEW, POST])) == {document_id(REVIEW, 4), document_id(REVIEW, 5)}
        assert list(store.iter_ids([POST])) == []

    def test_content_hashes_of_stored_ids_only(self, store: VectorStore) -> None:
        """``content_hashes(ids)`` maps each stored id to its hash and leaves unknown ids out.

        Troubleshooting: the indexer skips re-embedding when hashes match, so return exactly the
        ``content_hash`` given at upsert, and no key for ids that are not stored.
        """
        vectors = random_vectors(2, self.dimension, seed=14)
        store.upsert([make_doc(PRODUCT, 1, vectors[0], content_hash="abc"), make_doc(PRODUCT, 2, vectors[1])])
        asked = [document_id(PRODUCT, 1), document_id(PRODUCT, 2), document_id(PRODUCT, 3)]
        assert store.content_hashes(asked) == {document_id(PRODUCT, 1): "abc", document_id(PRODUCT, 2): "hash-2"}
        assert store.content_hashes([]) == {}

    def test_get_vectors_keeps_direction(self, store: VectorStore) -> None:
        """``get_vectors(ids)`` returns, per stored id, a vector pointing the same way as the one stored.

        Troubleshooting: return a 1-d float array of the store's dimension (normalised is fine); ask
        the engine to include vectors in the response.
        """
        vectors = random_vectors(3, self.dimension, seed=15)
        store.upsert([make_doc(PRODUCT, i, vectors[i]) for i in range(3)])
        found = store.get_vectors([document_id(PRODUCT, 0), document_id(PRODUCT, 2), document_id(PRODUCT, 9)])
        assert set(found) == {document_id(PRODUCT, 0), document_id(PRODUCT, 2)}
        for pk in (0, 2):
            vector = np.asarray(found[document_id(PRODUCT, pk)])
            assert vector.shape == (self.dimension,)
            assert cosine(vector, vectors[pk]) == pytest.approx(1.0, abs=1e-3)
        assert store.get_vectors([]) == {}

    def test_hit_fields_round_trip(self, store: VectorStore) -> None:
        """A hit carries back the id, model, pk, text (any unicode) and JSON-like metadata that were stored.

        Troubleshooting: store text as UTF-8 and metadata as JSON when the engine only keeps flat
        scalars; pk is the string given in ``StoredDocument.pk``.
        """
        vectors = random_vectors(2, self.dimension, seed=16)
        text = "Crème brûlée — naïve café\n日本語のテキスト 🚀 «quoted» 'single' \"double\""
        metadata = {"title": "Ünïcödé", "rank": 3, "price": 9.5, "tags": ["a", "b"], "flags": {"new": True}}
        uuid_pk = "a1b2c3d4-0000-4000-8000-000000000001"
        store.upsert(
            [
                make_doc(PRODUCT, uuid_pk, vectors[0], text=text, metadata=metadata),
                make_doc(REVIEW, 42, vectors[1]),
            ]
        )

        best = store.search(vectors[0], 1)[0]
        assert (best.id, best.model, best.pk, best.text, best.metadata) == (
            f"{PRODUCT}:{uuid_pk}",
            PRODUCT,
            uuid_pk,
            text,
            metadata,
        )
        review = store.search(vectors[1], 1)[0]
        assert (review.id, review.model, review.pk, review.metadata) == (f"{REVIEW}:42", REVIEW, "42", {})

    # ---------------------------------------------------------------------------------------------
    # Bulk, clearing, concurrency, persistence
    # ---------------------------------------------------------------------------------------------

    def test_clear_removes_everything_and_store_stays_usable(self, store: VectorStore) -> None:
        """``clear()`` empties the store, which then accepts new documents.

        Troubleshooting: when clear() drops and recreates an index or collection, recreate it lazily
        on the next write.
        """
        vectors = random_vectors(5, self.dimension, seed=17)
        store.upsert([make_doc(PRODUCT, i, vectors[i]) for i in range(3)])
        store.upsert([make_doc(REVIEW, i, vectors[i]) for i in range(3, 5)])
        store.clear()
        assert store.count() == 0
        assert list(store.iter_ids()) == []
        assert store.search(vectors[0], 5) == []
        store.upsert([make_doc(POST, 1, vectors[0])])
        assert [h.id for h in store.search(vectors[0], 5)] == [document_id(POST, 1)]

    def test_clear_of_models_keeps_other_models(self, store: VectorStore) -> None:
        """``clear(models)`` removes only those models' documents.

        Troubleshooting: delete by a model filter (or by the ids of ``iter_ids(models)``), never the
        whole collection.
        """
        vectors = random_vectors(6, self.dimension, seed=18)
        store.upsert([make_doc(PRODUCT, i, vectors[i]) for i in range(3)])
        store.upsert([make_doc(REVIEW, i, vectors[i]) for i in range(3, 5)])
        store.upsert([make_doc(POST, 5, vectors[5])])
        store.clear([PRODUCT, POST])
        assert set(store.iter_ids()) == {document_id(REVIEW, 3), document_id(REVIEW, 4)}
        assert {h.model for h in store.search(vectors[0], 10)} == {REVIEW}

    def test_batch_upsert_of_thousands(self, store: VectorStore) -> None:
        """One upsert of 3,000 documents stores them all, and each is its own nearest neighbour.

        Troubleshooting: split large batches to the engine's request limits inside upsert(); callers
        hand over whole index batches.
        """
        total = 3000
        vectors = random_vectors(total, self.dimension, seed=19)
        store.upsert([make_doc(PRODUCT, i, vectors[i]) for i in range(total)])
        assert store.count() == total
        assert len(set(store.iter_ids())) == total
        for pk in (0, 1234, total - 1):
            best = store.search(vectors[pk], 1)[0]
            assert best.id == document_id(PRODUCT, pk)
            assert best.score == pytest.approx(1.0, abs=SCORE_TOLERANCE)

    def test_concurrent_upserts_from_threads_lose_nothing(self, store: VectorStore) -> None:
        """Four threads upserting (and searching) at once lose no write and raise nothing.

        Troubleshooting: guard shared in-process state (index, id maps, connections) with a lock or
        use a client that is safe to share between threads.
        """
        threads_count, per_thread, batch = 4, 60, 6
        vectors = random_vectors(threads_count * per_thread, self.dimension, seed=20)
        barrier = threading.Barrier(threads_count)
        errors: list[BaseException] = []

        def write(first: int) -> None:
            try:
                barrier.wait()
                for start in range(first, first + per_thread, batch):
                    store.upsert([make_doc(PRODUCT, i, vectors[i]) for i in range(start, start + batch)])
                    assert len(store.search(vectors[start], 3)) <= 3
            except BaseException as exc:  # reported below: an exception in a thread would be lost
                errors.append(exc)

        workers = [threading.Thread(target=write, args=(n * per_thread,)) for n in range(threads_count)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert errors == []
        assert store.count() == threads_count * per_thread
        assert set(store.iter_ids()) == {document_id(PRODUCT, i) for i in range(threads_count * per_thread)}

    def test_persistence_across_reopen(self, store: VectorStore, reopen) -> None:
        """Documents (and deletions) survive close() and a new instance over the same storage.

        Troubleshooting: commit/flush before upsert()/delete() return; provide the ``reopen`` fixture
        returning a new instance on the same path, database or collection.
        """
        require(store.capabilities, "persistence", "documents survive close() and reopening")
        if reopen is None:
            pytest.fail(f"{type(self).__name__} declares 'persistence' but defines no `reopen` fixture.")
        vectors = random_vectors(10, self.dimension, seed=21)
        store.upsert([make_doc(PRODUCT, i, vectors[i], metadata={"n": i}) for i in range(10)])
        store.delete([document_id(PRODUCT, 0)])
        store.close()

        again = reopen()
        try:
            assert again.count() == 9
            assert set(again.iter_ids()) == {document_id(PRODUCT, i) for i in range(1, 10)}
            assert again.content_hashes([document_id(PRODUCT, 3)]) == {document_id(PRODUCT, 3): "hash-3"}
            best = again.search(vectors[3], 1)[0]
            assert (best.id, best.text, best.metadata) == (document_id(PRODUCT, 3), f"{PRODUCT} number 3", {"n": 3})
            again.upsert([make_doc(REVIEW, 1, vectors[0])])
            assert again.count() == 10
        finally:
            again.close()

    # -- filters ---------------------------------------------------------------------------------------

    FILTER_DOCS: ClassVar[int] = 60

    def _filter_corpus(self, store: VectorStore) -> list[StoredDocument]:
        vectors = random_vectors(self.FILTER_DOCS, self.dimension, seed=31)
        genres = ["Rock", "Jazz", "Metal", "Blues"]
        docs = [
            make_doc(PRODUCT if i % 5 else REVIEW, i, vectors[i], metadata={
                "genre__name": genres[i % 4],
                "milliseconds": 1000 * i,
                "price": 0.5 + i / 10,
                "in_stock": i % 2 == 0,
                "tags__name": [f"t{i % 3}", f"t{i % 7}"] if i % 6 else [],
                "album__title": None if i % 9 == 0 else f"Album {i % 11}",
            })
            for i in range(self.FILTER_DOCS)
        ]
        store.upsert(docs)
        return docs

    @pytest.mark.parametrize("conditions", [
        [Condition("genre__name", "exact", "Rock")],
        [Condition("genre__name", "in", ("Jazz", "Blues"))],
        [Condition("milliseconds", "gte", 20000), Condition("milliseconds", "lt", 41000)],
        [Condition("milliseconds", "gt", 50000)],
        [Condition("price", "lte", 1.5)],
        [Condition("in_stock", "exact", False)],
        [Condition("tags__name", "exact", "t2")],
        [Condition("tags__name", "in", ("t0", "t6"))],
        [Condition("tags__name", "isnull", True)],
        [Condition("album__title", "isnull", True)],
        [Condition("album__title", "isnull", False), Condition("genre__name", "exact", "Metal")],
    ], ids=lambda conditions: "+".join(f"{c.field}__{c.lookup}" for c in conditions))
    def test_filters_match_the_reference_semantics(self, store: VectorStore, conditions) -> None:
        """Filtered search returns exactly the documents :func:`dgs_core.filters.matches` accepts.

        Troubleshooting: translate each lookup into the engine's filter language (lists match when any
        item does; ``isnull`` is true for None and empty lists) and store metadata values with their types.
        """
        require(store.capabilities, "filters", "metadata filters pushed into the engine")
        docs = self._filter_corpus(store)
        expected = {d.id for d in docs if matches(d.metadata, conditions)}
        hits = store.search(self.query(3), self.FILTER_DOCS, filters=conditions)
        assert {h.id for h in hits} == expected
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True)

    def test_filters_return_k_hits_when_k_documents_match(self, store: VectorStore) -> None:
        """With 5 matching documents among 400 and the nearest ones not matching, k=5 finds all 5.

        Troubleshooting: filter inside the engine's search (payload filter, WHERE, id selector), not by
        post-filtering the unfiltered top k.
        """
        require(store.capabilities, "filters", "metadata filters pushed into the engine")
        query = self.query(5)
        near = at_cosines(query, [0.99 - i * 0.001 for i in range(395)], seed=6)
        far = at_cosines(query, [0.1, 0.09, 0.08, 0.07, 0.06], seed=7)
        store.upsert([make_doc(PRODUCT, i, v, metadata={"genre__name": "Pop"}) for i, v in enumerate(near)])
        store.upsert([make_doc(PRODUCT, 1000 + i, v, metadata={"genre__name": "Rare"}) for i, v in enumerate(far)])
        hits = store.search(query, 5, filters=[Condition("genre__name", "exact", "Rare")])
        assert sorted(h.id for h in hits) == sorted(document_id(PRODUCT, 1000 + i) for i in range(5))

    def test_filters_combine_with_models(self, store: VectorStore) -> None:
        """``models`` and ``filters`` restrict together.

        Troubleshooting: AND the model restriction with the metadata filter.
        """
        require(store.capabilities, "filters", "metadata filters pushed into the engine")
        docs = self._filter_corpus(store)
        conditions = [Condition("genre__name", "exact", "Rock")]
        expected = {d.id for d in docs if d.model == REVIEW and matches(d.metadata, conditions)}
        hits = store.search(self.query(4), self.FILTER_DOCS, models=[REVIEW], filters=conditions)
        assert {h.id for h in hits} == expected and expected

    # -- embedder record and collections ----------------------------------------------------------------

    def test_embedder_record_round_trip(self, store: VectorStore, reopen) -> None:
        """An empty store has no embedder record; ``record_embedder`` saves id and dimension.

        Troubleshooting: keep the record with the collection (a metadata row, collection metadata, a
        sidecar file), and make it survive reopening when the store is persistent.
        """
        assert store.embedder_info() is None
        store.record_embedder("test-embedder:model-a", self.dimension)
        assert store.embedder_info() == {"embedder": "test-embedder:model-a", "dimension": self.dimension}
        if "persistence" in store.capabilities and reopen is not None:
            store.close()
            again = reopen()
            try:
                assert again.embedder_info() == {"embedder": "test-embedder:model-a", "dimension": self.dimension}
            finally:
                again.close()

    def test_clear_keeps_the_embedder_record(self, store: VectorStore) -> None:
        """``clear()`` removes documents only: the collection still belongs to the same embedder (a rebuild
        into it must not mix vector spaces). ``drop()`` is what forgets the record.

        Troubleshooting: delete the rows/points of the collection, not the collection and its record.
        """
        vectors = random_vectors(3, self.dimension, seed=42)
        store.upsert([make_doc(PRODUCT, i, vectors[i]) for i in range(3)])
        store.record_embedder("test-embedder:model-a", self.dimension)
        store.clear()
        assert store.count() == 0
        assert store.embedder_info() == {"embedder": "test-embedder:model-a", "dimension": self.dimension}

    def test_chunk_ids_are_stored_verbatim(self, store: VectorStore) -> None:
        """Core stores the second and later chunks of a long document as ``<document id>#<n>``; such ids
        round-trip through every method like any other.

        Troubleshooting: derive engine ids (UUIDs, integers) from the whole string and keep the original.
        """
        vectors = random_vectors(3, self.dimension, seed=43)
        ids = [str(DocumentRef(PRODUCT, 7, chunk)) for chunk in range(3)]
        store.upsert([
            StoredDocument(ids[i], PRODUCT, "7", f"chunk {i}", vectors[i].copy(), f"h{i}", {}) for i in range(3)
        ])
        assert sorted(store.iter_ids()) == sorted(ids)
        assert store.content_hashes(ids) == {ids[0]: "h0", ids[1]: "h1", ids[2]: "h2"}
        hits = store.search(vectors[2], 1)
        assert hits[0].id == ids[2] and hits[0].pk == "7" and hits[0].model == PRODUCT
        store.delete(ids[1:])
        assert list(store.iter_ids()) == [ids[0]]

    def test_ids_of_text_primary_keys_are_stored_verbatim(self, store: VectorStore) -> None:
        """A text primary key may hold ``:`` and ``#``, even end in ``#<n>`` like a chunk; its document id
        round-trips through every method like any other.

        Troubleshooting: never split ids; derive engine ids (UUIDs, integers) from the whole string.
        """
        refs = [DocumentRef(PRODUCT, pk) for pk in ("sku:7", "a:b:c", "take#1", "take", "#3")]
        vectors = random_vectors(len(refs), self.dimension, seed=47)
        store.upsert([
            StoredDocument(str(ref), ref.model, ref.pk, f"text {i}", vectors[i].copy(), f"h{i}", {})
            for i, ref in enumerate(refs)
        ])
        ids = [str(ref) for ref in refs]
        assert sorted(store.iter_ids()) == sorted(ids)
        assert store.content_hashes(ids[1:3]) == {ids[1]: "h1", ids[2]: "h2"}
        best = store.search(vectors[2], 1)[0]
        assert (best.id, best.model, best.pk) == (ids[2], PRODUCT, "take#1")
        store.delete([ids[3]])
        assert sorted(store.iter_ids()) == sorted(ids[:3] + ids[4:])

    def test_collections_are_independent_and_drop_removes_one(self, store: VectorStore, make_collection) -> None:
        """Two collections of one backend never see each other's documents; ``drop()`` deletes only its own.

        Troubleshooting: map the ``collection`` option to a separate collection, table or folder, and
        delete that whole thing (records included) in ``drop()``.
        """
        vectors = random_vectors(6, self.dimension, seed=41)
        store.upsert([make_doc(PRODUCT, i, vectors[i]) for i in range(3)])
        store.record_embedder("test-embedder:model-a", self.dimension)
        other = make_collection("g1")
        try:
            assert other.count() == 0 and other.embedder_info() is None
            other.upsert([make_doc(PRODUCT, i, vectors[i]) for i in range(3, 6)])
            other.record_embedder("test-embedder:model-b", self.dimension)
            assert store.count() == 3 and other.count() == 3
            assert {h.id for h in store.search(vectors[4], 6)} == {document_id(PRODUCT, i) for i in range(3)}
            other.drop()
        finally:
            other.close()
        again = make_collection("g1")
        try:
            assert again.count() == 0 and again.embedder_info() is None
        finally:
            again.close()
        assert store.count() == 3
        assert store.embedder_info() == {"embedder": "test-embedder:model-a", "dimension": self.dimension}

    # -- a collection that vanished ------------------------------------------------------------------

    def test_exists_is_false_until_the_first_write_and_asking_creates_nothing(self, store: VectorStore,
                                                                              make_collection) -> None:
        """``exists()`` tells a collection nothing was written to (a fresh install) from one that holds data,
        without creating it: ``manage.py check`` asks it.

        Troubleshooting: look the collection, table or directory up (never get-or-create it); answer False when
        the engine does not have it.
        """
        require(store.capabilities, "persistence", "a collection's existence outlives the process")
        fresh = make_collection("fresh")
        try:
            assert fresh.exists() is False
            assert fresh.exists() is False, "exists() created the collection it was asked about"
            fresh.upsert([make_doc(PRODUCT, 1, random_vectors(1, self.dimension, seed=50)[0])])
            assert fresh.exists() is True
            fresh.verify()  # a healthy collection passes
        finally:
            fresh.drop()
            fresh.close()

    def test_vanished_collection_raises_instead_of_answering_empty(self, store: VectorStore, make_collection) -> None:
        """With ``must_exist`` (set by core once the database records a build), a collection deleted behind the
        store (another process, a person) makes every read raise :class:`CollectionMissing` (REST 503) instead of
        answering as an empty index; without it, a missing collection answers empty (a fresh install).

        Troubleshooting: where a read finds the collection missing (a "not found" error, an undefined table,
        absent files) raise ``self.vanished()`` when ``self.must_exist``; drop cached handles that would go on
        answering from a deleted collection.
        """
        require(store.capabilities, "persistence", "a collection can vanish behind an open store")
        vectors = random_vectors(4, self.dimension, seed=51)
        writer, reader = make_collection("vanishing"), make_collection("vanishing")
        try:
            writer.upsert([make_doc(PRODUCT, i, vectors[i]) for i in range(4)])
            writer.record_embedder("test-embedder:model-a", self.dimension)
            reader.must_exist = True
            assert reader.count() == 4 and reader.search(vectors[1], 1)[0].id == document_id(PRODUCT, 1)
            assert reader.exists() and reader.embedder_info() is not None
            writer.drop()  # as if deleted outside dgs, while the reader's handles are open
            assert reader.exists() is False
            reads: list[Callable[[], Any]] = [
                lambda: reader.search(vectors[1], 3), lambda: reader.count(), lambda: list(reader.iter_ids()),
                lambda: reader.content_hashes([document_id(PRODUCT, 1)]), reader.embedder_info,
                lambda: reader.get_vectors([document_id(PRODUCT, 1)]),
            ]
            if "keyword" in reader.capabilities:
                reads.append(lambda: reader.keyword_search(f"{PRODUCT} number", 3))
            for read in reads:
                with pytest.raises(CollectionMissing):
                    read()
            reader.must_exist = False
            assert reader.count() == 0 and reader.search(vectors[1], 3) == []
        finally:
            writer.close()
            reader.close()


@contextlib.contextmanager
def opener(build: Callable[..., Any]) -> Iterator[Callable[..., Any]]:
    """``open_one(**options)``, which builds with ``build`` (as separate processes of one site open the same
    data); everything it opened is closed on exit. For a test fixture::

        @pytest.fixture
        def open_store(path):
            with opener(lambda **options: MyStore(path=path, **options)) as open_one:
                yield open_one
    """
    opened = []

    def open_one(**options: Any) -> Any:
        opened.append(build(**options))
        return opened[-1]

    try:
        yield open_one
    finally:
        for each in opened:
            each.close()
