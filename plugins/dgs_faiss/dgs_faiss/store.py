"""``FaissVectorStore``: exact cosine search with FAISS over data kept by :mod:`dgs_faiss.storage`.

Each process holds the *slot state*: the model of every slot (-1 for dead ones) and the metadata columns
filtered on so far (:mod:`dgs_faiss.filtering`). Before every search it compares the committed generation
with the one it has loaded and reads only what changed, so web workers see what another process (a
worker, ``build_search_index``) wrote. Vector searches also need an ``IndexFlatIP`` whose row n is the
vector of slot n (dead rows included, masked out at search time), read from the vectors file on the
first vector search and extended with the rows the slot state gained since.

Keyword searches rank by BM25 in SQLite FTS5 (:mod:`dgs_faiss.storage`) and take models and filters from
the same slot state, so they never load FAISS or the vectors.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from dgs_core.base import StoredDocument, VectorHit, VectorStore, cosine_to_score, normalize_rows, upsert_batch
from dgs_core.exceptions import BackendUnavailable, CollectionMissing, EmbedderMismatchError
from dgs_core.filters import Condition
from dgs_core.lexical import match_expression, relevance_to_score
from dgs_core.options import option
from dgs_faiss.filtering import FieldColumn
from dgs_faiss.storage import BLOCK, Snapshot, Storage, Transaction

#: Collection names become directory names: no separators, no dot-only names.
COLLECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def import_faiss():
    """FAISS, imported on first search so that Django start-up and write-only processes never load it."""
    try:
        import faiss
    except ImportError as exc:
        raise BackendUnavailable(f"The faiss vector store needs faiss-cpu: pip install faiss-cpu ({exc}).") from exc
    return faiss


class FaissVectorStore(VectorStore):
    """Vector store ``faiss``: FAISS in process, persisted under ``PATH`` (in memory only without it).

    Options (``VECTOR_STORE["OPTIONS"]``): ``PATH``, a directory (created if missing; the legacy
    ``PERSIST_PATH`` is accepted). Core adds ``collection`` for zero-downtime rebuilds: ``""`` is ``PATH``
    itself, any other name the directory ``PATH/collections/<name>``. See the package README for the
    layout and its guarantees.
    """

    legacy_options = {"persist_path": "path"}

    @dataclass(frozen=True)
    class Options(VectorStore.Options):
        path: Optional[str] = option(None, help="a directory for the index; omit it to keep the index in memory")

        def __post_init__(self) -> None:
            if self.collection and not COLLECTION_NAME.match(self.collection):
                raise ValueError(
                    f"The faiss store's 'collection' option is {self.collection!r}; it names a directory under PATH, "
                    f"so use letters, digits, '_', '-' and '.' only (at most 100, starting with a letter or digit)."
                )
            if self.path and os.path.isfile(self.path):
                raise ValueError(
                    f"{{path}} is {self.path!r}, a file (perhaps django_graph_search's pickle). dgs-faiss keeps a "
                    f"directory there and never loads pickles: set PATH to a new directory and run "
                    f"`python manage.py build_search_index`."
                )

    #: Compaction runs once dead rows (replaced or deleted documents) outnumber live ones and are at
    #: least this many; below that the wasted space is not worth a rewrite.
    compact_min_dead = 1024

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        path, collection = self.options.path, self.options.collection
        self.path = os.path.abspath(path) if path else None
        self.collection = collection
        self.capabilities = frozenset({"filters", "keyword", "persistence"} if path else {"filters", "keyword"})
        directory = self.path
        if self.path and collection:
            directory = os.path.join(self.path, "collections", collection)
        self._storage = Storage(directory)
        self._slot_models = np.zeros(0, dtype=np.int32)  # model code per slot, -1 for dead slots
        self._model_codes: dict[str, int] = {}
        self._columns: dict[str, FieldColumn] = {}  # metadata fields filtered on so far, one value per slot
        self._generation = -1  # the committed generation the slot state reflects
        self._epoch = -1
        self._connection = 0  # the storage connection the slot state was read over
        self._index = None  # faiss.IndexFlatIP, row n = slot n, of the first slots; None until a vector search

    # ---------------------------------------------------------------------------------------------
    # Writes
    # ---------------------------------------------------------------------------------------------

    def upsert(self, documents: Sequence[StoredDocument]) -> None:
        latest, vectors = upsert_batch(documents)
        if not latest:
            return
        with self._writing() as transaction:
            transaction.upsert(latest, vectors)

    def delete(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        with self._writing() as transaction:
            transaction.delete(list(ids))

    def clear(self, models: Optional[Sequence[str]] = None) -> None:
        with self._writing() as transaction:
            if models:
                transaction.delete_models([m.lower() for m in models])
            else:
                transaction.reset()

    def compact(self) -> None:
        """Rewrite the vectors file without dead rows (done automatically once they outnumber live ones)."""
        with self._storage.writing() as transaction:
            transaction.compact()

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Transaction]:
        """A write transaction that compacts, in the same commit, when it leaves too many dead rows."""
        with self._storage.writing() as transaction:
            yield transaction
            state = transaction.state
            if state.dead > state.live and state.dead >= self.compact_min_dead:
                transaction.compact()

    # ---------------------------------------------------------------------------------------------
    # Reads
    # ---------------------------------------------------------------------------------------------

    def search(self, vector: np.ndarray, k: int, *, models: Optional[Sequence[str]] = None,
               filters: Optional[Sequence[Condition]] = None) -> list[VectorHit]:
        query = normalize_rows(vector)
        with self._reading() as snapshot:
            self._sync(snapshot)
            if not len(self._slot_models) or k <= 0:
                return []
            index = self._vector_index(snapshot)
            if query.shape[1] != index.d:
                raise EmbedderMismatchError(self._storage.mismatch_message(index.d, query.shape[1]))
            selected = self._selection(snapshot, models, filters or ())
            scores, slots = self._search(index, query, k, selected)
            documents = snapshot.documents_at(slots.tolist())
        hits = []
        for score, slot in zip(scores.tolist(), slots.tolist(), strict=True):
            doc_id, model, pk, text, metadata = documents[slot]
            hits.append(VectorHit(doc_id, model, pk, float(cosine_to_score(score)), text, metadata))
        return hits

    def keyword_search(self, query: str, k: int, *, models: Optional[Sequence[str]] = None,
                       filters: Optional[Sequence[Condition]] = None) -> list[VectorHit]:
        """BM25 over the stored texts by SQLite FTS5 (English Porter stemming, any word of ``query``)."""
        expression = match_expression(query)
        if expression is None or k <= 0:
            return []
        with self._reading() as snapshot:
            self._sync(snapshot)
            selected = self._selection(snapshot, models, filters or ())
            ranked = snapshot.keyword_ranking(expression, k, selected) if selected.any() else []
            documents = snapshot.documents_at([slot for slot, _ in ranked])
        hits = []
        for slot, relevance in ranked:
            doc_id, model, pk, text, metadata = documents[slot]
            hits.append(VectorHit(doc_id, model, pk, relevance_to_score(relevance), text, metadata))
        return hits

    def exists(self) -> bool:
        return self._storage.exists()

    def verify(self) -> None:
        """Open a snapshot: it refuses a damaged database and a vectors file shorter than its rows."""
        if self.exists():
            with self._reading():
                pass

    def vanished(self) -> CollectionMissing:
        return CollectionMissing(
            f"The faiss index at {self._storage.directory} was built but its files are gone (deleted outside dgs). "
            "Rebuild the index with `python manage.py build_search_index --rebuild`."
        )

    def _reading(self) -> contextlib.AbstractContextManager[Snapshot]:
        """A snapshot of the collection; a collection that must exist and whose files are gone is not created
        again, empty, but reported (:meth:`vanished`)."""
        if self.must_exist and not self._storage.exists():
            raise self.vanished()
        return self._storage.reading()

    def _selection(
        self, snapshot: Snapshot, models: Optional[Sequence[str]], filters: Sequence[Condition]
    ) -> np.ndarray:
        """Boolean mask over slots: live, of one of ``models``, and matching every filter."""
        if models:
            codes = [self._model_codes[m.lower()] for m in models if m.lower() in self._model_codes]
            selected = np.isin(self._slot_models, codes)
        else:
            selected = self._slot_models >= 0
        for condition in filters:
            if not selected.any():
                break
            column = self._columns.get(condition.field)
            if column is None:  # first filter on this field in this process: read it once
                column = self._columns[condition.field] = FieldColumn()
                column.add(snapshot.field_values(condition.field))
            selected &= column.mask(condition, len(selected))
        return selected

    def _search(self, index, query: np.ndarray, k: int, selected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Best-first ``(cosines, slots)`` among the ``selected`` slots, restricted inside FAISS."""
        faiss = import_faiss()
        count = int(selected.sum())
        if not count:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        params = None
        if count < len(selected):
            bitmap = np.packbits(selected, bitorder="little")  # must outlive the search below
            params = faiss.SearchParameters(sel=faiss.IDSelectorBitmap(len(selected), faiss.swig_ptr(bitmap)))
        scores, slots = index.search(query, min(k, count), params=params)
        found = slots[0] >= 0
        return scores[0][found], slots[0][found]

    def _sync(self, snapshot: Snapshot) -> None:
        """Bring the slot state up to the snapshot: everything after a compaction or a reset, else what changed.

        A new epoch, or a database opened again (its files were deleted and created anew), renumbers the slots,
        so the vector index is dropped with the rest and read again by the next vector search.
        """
        state, connection = snapshot.state, self._storage.connections
        if state.generation == self._generation and connection == self._connection:
            return
        if state.epoch != self._epoch or connection != self._connection:
            self._load_all(snapshot)
        else:
            self._load_changes(snapshot)
        self._generation, self._epoch, self._connection = state.generation, state.epoch, connection

    def _load_all(self, snapshot: Snapshot) -> None:
        slot_models = np.full(snapshot.state.slots, -1, dtype=np.int32)
        self._mark_live(slot_models, snapshot.live_slots())
        self._slot_models, self._columns, self._index = slot_models, {}, None

    def _load_changes(self, snapshot: Snapshot) -> None:
        loaded, slots = len(self._slot_models), snapshot.state.slots
        dead = snapshot.dead_slots_since(self._generation)
        live = snapshot.live_slots(since=loaded)
        self._slot_models = np.concatenate([self._slot_models, np.full(slots - loaded, -1, dtype=np.int32)])
        self._slot_models[dead] = -1
        self._mark_live(self._slot_models, live)
        for field, column in self._columns.items():  # dead slots need no update: the live mask hides them
            column.add(snapshot.field_values(field, since=loaded))

    def _vector_index(self, snapshot: Snapshot):
        """The FAISS index over every slot of the slot state, reading from the vectors file only the rows it lacks."""
        if self._index is None:
            self._index = import_faiss().IndexFlatIP(snapshot.state.dimension)
        slots = len(self._slot_models)
        for start in range(self._index.ntotal, slots, BLOCK):
            self._index.add(snapshot.vectors(start, min(start + BLOCK, slots)))
        return self._index

    def _mark_live(self, slot_models: np.ndarray, live: list[tuple[int, str]]) -> None:
        for slot, model in live:
            slot_models[slot] = self._model_codes.setdefault(model, len(self._model_codes))

    def count(self, models: Optional[Sequence[str]] = None) -> int:
        with self._reading() as snapshot:
            return snapshot.count([m.lower() for m in models] if models else None)

    def iter_ids(self, models: Optional[Sequence[str]] = None) -> Iterator[str]:
        with self._reading() as snapshot:
            return iter(snapshot.ids([m.lower() for m in models] if models else None))

    def content_hashes(self, ids: Sequence[str]) -> dict[str, str]:
        with self._reading() as snapshot:
            return snapshot.content_hashes(ids)

    def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Unit-length copies of the stored vectors, read from the vectors file (no FAISS needed)."""
        with self._reading() as snapshot:
            return {doc_id: snapshot.vectors(slot, slot + 1)[0] for doc_id, slot in snapshot.slots_of(ids).items()}

    def embedder_info(self) -> Optional[dict[str, Any]]:
        """``{"embedder": id, "dimension": n}`` saved by :meth:`record_embedder`, or ``None`` if never recorded."""
        with self._reading() as snapshot:
            recorded = snapshot.embedder()
        return None if recorded is None else {"embedder": recorded[0], "dimension": recorded[1]}

    def record_embedder(self, embedder_id: str, dimension: int) -> None:
        """Save the embedder in the collection's SQLite file; it survives restarts and ``clear()``, not ``drop()``."""
        with self._storage.writing() as transaction:
            transaction.record_embedder(embedder_id, dimension)

    def drop(self) -> None:
        """Delete this collection: its files (the whole ``collections/<name>`` directory for a named one)."""
        with self._storage.lock:
            self._storage.drop(remove_directory=bool(self.collection))
            self._forget_index()

    def close(self) -> None:
        """Close the database and free the in-memory index; a later call reopens lazily."""
        with self._storage.lock:
            self._storage.close()
            self._forget_index()

    def _forget_index(self) -> None:
        self._slot_models, self._columns, self._index = np.zeros(0, dtype=np.int32), {}, None
        self._model_codes, self._generation, self._epoch = {}, -1, -1
