"""``QdrantVectorStore``: one Qdrant collection per dgs collection, on a server or embedded (Qdrant Edge).

A document is one point. Its id is a UUIDv5 of the dgs id (Qdrant accepts only integers and UUIDs), and
its payload carries the dgs id, model, pk, text, content hash, the metadata as given, and the
filterable copy of the metadata that filters and payload indexes address (see :mod:`dgs_qdrant.filters`).
Its vectors are the embedding (the collection's unnamed dense vector) and the text's terms (the sparse
vector ``"text"``, scored with Qdrant's IDF modifier: see :mod:`dgs_qdrant.sparse`). The collection is
created with both on the first write, and keeps the embedder record in its collection metadata.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Optional, TypeVar

import numpy as np
from qdrant_client import QdrantClient
from qdrant_client import models as qm

from dgs_core.base import StoredDocument, VectorHit, VectorStore, cosine_to_score, upsert_batch
from dgs_core.exceptions import BackendUnavailable, CollectionMissing, EmbedderMismatchError
from dgs_core.filters import Condition
from dgs_core.lexical import relevance_to_score
from dgs_qdrant import clients
from dgs_qdrant.filters import FILTER_VALUES, filterable, payload_schemas, translate
from dgs_qdrant.options import QdrantOptions
from dgs_qdrant.sparse import document_vector, query_vector

log = logging.getLogger("dgs_qdrant")

#: Points per upsert request: about 2 MB of JSON at 384 dimensions, far below Qdrant's 32 MB request limit.
UPSERT_BATCH = 256
#: Points per scroll page and per retrieve/delete request.
PAGE = 1000
#: Namespace of the UUIDv5 point ids. Changing it would orphan every point already stored.
POINT_ID_NAMESPACE = uuid.UUID("5d0f8f8e-3c1a-5b7e-9a57-0c2f7a1d4b63")
#: Collection metadata keys of the embedder record.
EMBEDDER_KEY, DIMENSION_KEY = "dgs_embedder", "dgs_dimension"
HIT_FIELDS = ["id", "model", "pk", "text", "metadata"]
#: Name of the sparse vector that keyword search queries; the embedding is the unnamed ("") dense vector.
KEYWORD_VECTOR = "text"

T = TypeVar("T")


def point_id(document_id: str) -> str:
    """The Qdrant point id of a dgs document id: a UUIDv5, stable across processes and versions."""
    return str(uuid.uuid5(POINT_ID_NAMESPACE, document_id))


def payload(document: StoredDocument) -> dict[str, Any]:
    """What a point carries besides its vector."""
    return {
        "id": document.id,
        "model": document.model,
        "pk": document.pk,
        "text": document.text,
        "content_hash": document.content_hash,
        "metadata": document.metadata,
        FILTER_VALUES: filterable(document.metadata),
    }


@dataclass
class CollectionState:
    """What this instance knows of its collection: vector size, embedder record, indexed payload keys,
    and whether it has the sparse vector of keyword search (collections made before dgs-qdrant had
    keyword search do not)."""

    dimension: int
    record: Optional[dict[str, Any]]
    indexed: set[str]
    keyword: bool


class QdrantVectorStore(VectorStore):
    """Vector store ``qdrant``: a Qdrant server or cluster (``URL``) or embedded Qdrant Edge (``PATH``).

    Options (``VECTOR_STORE["OPTIONS"]``): ``URL``, ``API_KEY``, ``PREFER_GRPC``, ``GRPC_PORT``, ``TIMEOUT``,
    ``ON_DISK``, ``HNSW_EF`` for a server; ``PATH`` (a directory, or ``":memory:"``) for embedded mode;
    ``COLLECTION_NAME`` (default ``"dgs"``). Core adds ``collection`` for rebuilds, which selects the Qdrant
    collection ``<COLLECTION_NAME>_<collection>``. See the package README.
    """

    Options = QdrantOptions

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.settings: QdrantOptions = self.options
        self.name = self.settings.qdrant_collection
        self.location = self.settings.location
        persistent = self.location.path != clients.MEMORY
        self.capabilities = frozenset({"filters", "keyword", "persistence"} if persistent else {"filters", "keyword"})
        self._search_params = qm.SearchParams(hnsw_ef=self.settings.hnsw_ef) if self.settings.hnsw_ef else None
        self._lock = threading.RLock()
        self._shared: Optional[clients.SharedClient] = None
        self._state: Optional[CollectionState] = None
        self._warned_no_keyword_vector = False

    # ---------------------------------------------------------------------------------------------
    # Connection and collection state
    # ---------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _client(self) -> Iterator[QdrantClient]:
        with self._lock:
            if self._shared is None:
                self._shared = clients.acquire(self.location)
            shared = self._shared
        with shared.calling() as client:
            yield client

    def _read(self, operation: Callable[[QdrantClient], T], missing: T) -> T:
        """``operation(client)``, or ``missing`` when the collection does not exist (yet, or any more)."""
        with self._client() as client:
            try:
                return operation(client)
            except Exception:
                if client.collection_exists(self.name):
                    raise
        with self._lock:
            self._state = None
        if self.must_exist:
            raise self.vanished()
        return missing

    def exists(self) -> bool:
        with self._client() as client:
            return client.collection_exists(self.name)

    def vanished(self) -> CollectionMissing:
        return CollectionMissing(
            f"The Qdrant collection {self.name!r} of {self.location.describe()} was built but is gone (deleted outside "
            "dgs). Rebuild the index with `python manage.py build_search_index --rebuild`."
        )

    def _collection(self, fresh: bool = False) -> Optional[CollectionState]:
        """The collection's state, read once per instance (again when ``fresh``); ``None`` while it does not exist.

        A state without embedder record is read again each time it is needed, because another process
        may record one at any moment.
        """
        with self._lock:
            if fresh or self._state is None or self._state.record is None:
                info = self._read(lambda client: clients.describe(client, self.name), None)
                if info is None and self.must_exist:
                    raise self.vanished()
                if info is not None:
                    record = None
                    if info.metadata.get(EMBEDDER_KEY) is not None:
                        record = {"embedder": info.metadata[EMBEDDER_KEY], "dimension": info.metadata[DIMENSION_KEY]}
                    self._state = CollectionState(info.dimension, record, info.indexed, KEYWORD_VECTOR in info.sparse)
            return self._state

    def _create(self, dimension: int, metadata: Optional[dict[str, Any]] = None) -> CollectionState:
        """The collection, created with ``dimension`` (and ``metadata``) unless it exists already."""
        with self._lock:
            if self._collection() is None:
                with self._client() as client:
                    try:
                        client.create_collection(
                            self.name,
                            vectors_config=qm.VectorParams(
                                size=dimension, distance=qm.Distance.COSINE, on_disk=self.settings.on_disk
                            ),
                            sparse_vectors_config={KEYWORD_VECTOR: qm.SparseVectorParams(
                                index=qm.SparseIndexParams(on_disk=self.settings.on_disk),
                                modifier=qm.Modifier.IDF,  # Qdrant keeps the document frequencies itself
                            )},
                            metadata=metadata,
                        )
                    except Exception:
                        if not client.collection_exists(self.name):
                            raise  # else another process created it first; its state is read below
                    client.create_payload_index(self.name, "model", qm.PayloadSchemaType.KEYWORD)
            state = self._collection()
            if state is None:
                raise BackendUnavailable(f"Collection {self.name!r} vanished from {self.location.describe()}.")
            if state.dimension != dimension:
                raise EmbedderMismatchError(self._mismatch(state.dimension, dimension))
            return state

    def _mismatch(self, stored: int, given: int) -> str:
        return (
            f"Qdrant collection {self.name!r} holds {stored}-dimensional vectors, but {given}-dimensional ones "
            "were given: the embedder changed. Rebuild the index with `python manage.py build_search_index "
            "--rebuild` (or clear it), or switch the embedder back."
        )

    def _index_payload(self, state: CollectionState, documents: Sequence[StoredDocument]) -> None:
        """Create payload indexes for filterable keys seen for the first time."""
        wanted = {k: v for k, v in payload_schemas(d.metadata for d in documents).items() if k not in state.indexed}
        if not wanted:
            return
        with self._client() as client:
            for key, schema in wanted.items():
                client.create_payload_index(self.name, key, schema)
                state.indexed.add(key)

    # ---------------------------------------------------------------------------------------------
    # Writes
    # ---------------------------------------------------------------------------------------------

    def upsert(self, documents: Sequence[StoredDocument]) -> None:
        latest, vectors = upsert_batch(documents)
        if not latest:
            return
        state = self._create(vectors.shape[1])
        self._index_payload(state, latest)
        # Normalised (by upsert_batch) so that stored vectors are unit length whether or not the engine
        # normalises cosine vectors itself.
        points = [
            qm.PointStruct(id=point_id(doc.id), vector=self._vectors(state, doc, dense), payload=payload(doc))
            for doc, dense in zip(latest, vectors, strict=True)
        ]
        for start in range(0, len(points), UPSERT_BATCH):
            with self._client() as client:  # released between batches, so searches are not held up
                client.upsert(self.name, points[start : start + UPSERT_BATCH], wait=True)

    @staticmethod
    def _vectors(state: CollectionState, document: StoredDocument, dense: np.ndarray) -> qm.VectorStruct:
        """The point's vectors: the embedding, and the text's terms when the collection has keyword search."""
        terms = document_vector(document.text) if state.keyword else None
        return {"": dense.tolist(), KEYWORD_VECTOR: terms} if terms else dense.tolist()

    def delete(self, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), PAGE):
            selector = qm.PointIdsList(points=[point_id(i) for i in ids[start : start + PAGE]])
            self._read(lambda client, s=selector: client.delete(self.name, points_selector=s, wait=True), None)

    def clear(self, models: Optional[Sequence[str]] = None) -> None:
        """Delete every point (or those of ``models``); the collection and its embedder record stay."""
        selector = qm.FilterSelector(filter=self._model_filter(models) or qm.Filter())  # an empty filter: all
        self._read(lambda client: client.delete(self.name, points_selector=selector, wait=True), None)

    def record_embedder(self, embedder_id: str, dimension: int) -> None:
        """Keep the embedder record in the collection metadata (created with ``dimension`` if missing)."""
        record = {"embedder": embedder_id, "dimension": dimension}
        metadata = {EMBEDDER_KEY: embedder_id, DIMENSION_KEY: dimension}
        with self._lock:
            state = self._create(dimension, metadata)
            if state.record is not None and state.record != record:
                # Another process started filling this collection with another embedder meanwhile.
                raise EmbedderMismatchError(
                    f"Qdrant collection {self.name!r} is being filled by {state.record['embedder']!r}, not "
                    f"{embedder_id!r}. Rebuild the index with `python manage.py build_search_index --rebuild`."
                )
            if state.record is None:
                with self._client() as client:
                    client.update_collection(self.name, metadata=metadata)
                state = self._collection(fresh=True)
            if state is None or state.record != record:
                raise BackendUnavailable(
                    f"{self.location.describe()} did not keep the embedder record in the metadata of collection "
                    f"{self.name!r}. dgs-qdrant needs collection metadata: upgrade the server to Qdrant 1.16 or newer."
                )

    def drop(self) -> None:
        """Delete the whole Qdrant collection: points, payload indexes, embedder record and the aliases that
        point at it. Dropping the unversioned collection after the first rebuild frees its name for the alias
        that :meth:`publish` could not create yet, which is created here."""
        def delete(client: QdrantClient) -> None:
            # Once gone (deleted behind dgs), the name may be the alias a rebuild just pointed at its successor.
            if self.name in {collection.name for collection in client.get_collections().collections}:
                client.delete_collection(self.name)

        with self._lock:
            self._read(delete, None)
            self._state = None
            with self._client():
                target = self._shared.aliases_awaiting_drop.pop(self.name, None)
        if target is not None:
            self._move_alias(self.name, target)

    def publish(self) -> None:
        """Point the Qdrant alias ``COLLECTION_NAME`` at this collection, which a rebuild has just made live, so
        that tools outside dgs keep reading ``COLLECTION_NAME`` across rebuilds.

        Aliases and collections share one namespace, and the unversioned collection (the one before the first
        rebuild) is named ``COLLECTION_NAME`` itself: it needs no alias, and while it exists none can be created.
        The first rebuild publishes ``<COLLECTION_NAME>_g1`` a moment before core drops the unversioned
        collection, so the alias is created by that :meth:`drop`.

        In embedded mode this is also when the shard is optimised: Qdrant Edge runs its optimiser only when
        called, and the end of a rebuild is when a whole index has just been written (merged segments, the
        HNSW graph built). The call blocks the rebuilding process only; no other process can open the shard.
        """
        if self.location.local:
            self._read(lambda client: client.optimize(self.name), None)
        if self.settings.collection:
            self._move_alias(self.settings.collection_name, self.name)

    def _move_alias(self, alias: str, target: str) -> None:
        """Point ``alias`` at collection ``target`` in one atomic request (delete and create), or once the
        collection named ``alias`` is dropped.

        A failure is logged, not raised: core's pointer has moved already and every search through dgs follows
        it, while raising would stop the rebuild before it drops the old collection. A server refuses every
        time when the API key may not manage aliases (a JWT scoped to collections).
        """
        try:
            with self._client() as client:
                if alias in {collection.name for collection in client.get_collections().collections}:
                    self._shared.aliases_awaiting_drop[alias] = target
                    return
                operations: list[qm.AliasOperations] = []
                if alias in {description.alias_name for description in client.get_aliases().aliases}:
                    operations.append(qm.DeleteAliasOperation(delete_alias=qm.DeleteAlias(alias_name=alias)))
                operations.append(
                    qm.CreateAliasOperation(create_alias=qm.CreateAlias(collection_name=target, alias_name=alias))
                )
                client.update_collection_aliases(change_aliases_operations=operations)
        except Exception as exc:
            log.warning(
                "Could not point the Qdrant alias %r at collection %r on %s: %s. Searches through dgs are "
                "unaffected; tools outside dgs that read %r see the previous collection until the next rebuild "
                "moves the alias (with an API_KEY that may manage aliases).",
                alias, target, self.location.describe(), exc, alias,
            )

    # ---------------------------------------------------------------------------------------------
    # Reads
    # ---------------------------------------------------------------------------------------------

    def search(self, vector: np.ndarray, k: int, *, models: Optional[Sequence[str]] = None,
               filters: Optional[Sequence[Condition]] = None) -> list[VectorHit]:
        must = self._conditions(models, filters)
        state = self._collection()
        if must is None or state is None or k <= 0:
            return []
        query = np.asarray(vector, dtype=np.float32).ravel()
        if query.size != state.dimension:
            raise EmbedderMismatchError(self._mismatch(state.dimension, query.size))
        points = self._query(query.tolist(), None, k, must, self._search_params)
        scores = cosine_to_score(np.array([point.score for point in points], dtype=np.float64))  # one numpy call
        return [self._hit(point, float(score)) for point, score in zip(points, scores, strict=True)]

    def keyword_search(self, query: str, k: int, *, models: Optional[Sequence[str]] = None,
                       filters: Optional[Sequence[Condition]] = None) -> list[VectorHit]:
        """BM25 over the sparse vector ``"text"``: the query's stemmed terms, weighted by Qdrant's IDF.

        A collection created before dgs-qdrant had keyword search has no such vector: it finds nothing
        (with a warning naming the rebuild that adds it), so a hybrid search still answers by vector.
        """
        must = self._conditions(models, filters)
        terms = query_vector(query)
        state = self._collection()
        if must is None or terms is None or state is None or k <= 0:
            return []
        if not state.keyword:
            if not self._warned_no_keyword_vector:
                self._warned_no_keyword_vector = True
                log.warning(
                    "Qdrant collection %r has no sparse vector %r, so keyword search finds nothing in it: it was "
                    "created before dgs-qdrant had keyword search. `python manage.py build_search_index "
                    "--rebuild` rebuilds it with one.", self.name, KEYWORD_VECTOR,
                )
            return []
        points = self._query(terms, KEYWORD_VECTOR, k, must)
        return [self._hit(point, relevance_to_score(point.score)) for point in points]

    def _conditions(
        self, models: Optional[Sequence[str]], filters: Optional[Sequence[Condition]]
    ) -> Optional[list[qm.Condition]]:
        """The payload conditions of a search, all to be met; ``None`` when no document can match them (e.g.
        ``in`` with nothing but None)."""
        conditions = translate(filters) if filters else []
        if conditions is None:
            return None
        # Metadata filters first: they usually reject more points than the models restriction, which matters
        # to an engine that checks conditions in order (qdrant-client's local mode did; Edge and a server plan).
        return conditions + self._model_conditions(models)

    def _query(
        self,
        query: qm.Query,
        using: Optional[str],
        k: int,
        must: list[qm.Condition],
        search_params: Optional[qm.SearchParams] = None,
    ) -> list[qm.ScoredPoint]:
        """The ``k`` best points for ``query`` on vector ``using`` (``None``: the embedding) that meet ``must``."""
        response = self._read(
            lambda client: client.query_points(
                self.name, query=query, using=using, limit=k, query_filter=qm.Filter(must=must) if must else None,
                with_payload=HIT_FIELDS, search_params=search_params,
            ),
            None,
        )
        return response.points if response is not None else []

    @staticmethod
    def _hit(point: qm.ScoredPoint, score: float) -> VectorHit:
        fields = point.payload
        metadata = fields.get("metadata") or {}
        return VectorHit(fields["id"], fields["model"], fields["pk"], score, fields["text"], metadata)

    def count(self, models: Optional[Sequence[str]] = None) -> int:
        query_filter = self._model_filter(models)
        return self._read(lambda client: client.count(self.name, count_filter=query_filter, exact=True).count, 0)

    def iter_ids(self, models: Optional[Sequence[str]] = None) -> Iterator[str]:
        query_filter = self._model_filter(models)
        offset = None
        while True:
            points, offset = self._read(
                lambda client, after=offset: client.scroll(
                    self.name, scroll_filter=query_filter, limit=PAGE, offset=after, with_payload=["id"],
                    with_vectors=False,
                ),
                ([], None),
            )
            yield from (point.payload["id"] for point in points)
            if offset is None:
                return

    def content_hashes(self, ids: Sequence[str]) -> dict[str, str]:
        return {
            point.payload["id"]: point.payload["content_hash"]
            for point in self._retrieve(ids, with_payload=["id", "content_hash"], with_vectors=False)
        }

    def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors, unit length (normalised on upsert)."""
        return {
            point.payload["id"]: np.asarray(point.vector[""] if isinstance(point.vector, dict) else point.vector,
                                            dtype=np.float32)
            for point in self._retrieve(ids, with_payload=["id"], with_vectors=True)
        }

    def _retrieve(self, ids: Sequence[str], **fields: Any) -> list[qm.Record]:
        records: list[qm.Record] = []
        for start in range(0, len(ids), PAGE):
            chunk = [point_id(i) for i in ids[start : start + PAGE]]
            records += self._read(lambda client, c=chunk: client.retrieve(self.name, ids=c, **fields), [])
        return records

    def embedder_info(self) -> Optional[dict[str, Any]]:
        """The record kept in the collection metadata by :meth:`record_embedder`; ``None`` without one."""
        state = self._collection()
        return dict(state.record) if state and state.record else None

    def close(self) -> None:
        """Give back the shared client (the last store closing it unlocks an embedded directory); reopens lazily."""
        with self._lock:
            shared, self._shared, self._state = self._shared, None, None
        if shared is not None:
            clients.release(shared)

    @staticmethod
    def _model_conditions(models: Optional[Sequence[str]]) -> list[qm.Condition]:
        if not models:
            return []
        return [qm.FieldCondition(key="model", match=qm.MatchAny(any=[m.lower() for m in models]))]

    @classmethod
    def _model_filter(cls, models: Optional[Sequence[str]]) -> Optional[qm.Filter]:
        conditions = cls._model_conditions(models)
        return qm.Filter(must=conditions) if conditions else None

    def __repr__(self) -> str:
        return f"<QdrantVectorStore collection={self.name!r} at {self.location.describe()}>"

