"""``ChromaVectorStore``: dgs documents in a Chroma collection, embedded at ``PATH`` or on a Chroma server.

chromadb is imported on first use, so Django start-up never pays for it. Vectors always come from dgs's
embedder and are passed explicitly; collections are opened with ``embedding_function=None``, so Chroma
never builds (or downloads) its default embedding model. Keyword search uses an SQLite FTS5 sidecar
(:mod:`dgs_chroma.keyword`), written in the same calls as Chroma.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Optional, TypeVar, Union

import numpy as np

from dgs_chroma.keyword import KeywordSidecar, KeywordWrites
from dgs_chroma.metadata import (
    HASH_KEY,
    MATCHES_EVERYTHING,
    MODEL_KEY,
    PK_KEY,
    chroma_metadata,
    original_metadata,
    where_clause,
)
from dgs_core.base import StoredDocument, VectorHit, VectorStore, cosine_to_score, normalize_rows, upsert_batch
from dgs_core.exceptions import BackendUnavailable, CollectionMissing, ConfigurationError, EmbedderMismatchError
from dgs_core.filters import Condition, matches
from dgs_core.options import option

log = logging.getLogger("dgs_chroma")

T = TypeVar("T")

#: Collection metadata: which layout the documents use, and which embedder filled the collection.
FORMAT_KEY, FORMAT = "dgs:format", 1
EMBEDDER_KEY = "dgs:embedder"
DIMENSION_KEY = "dgs:dimension"

#: A restricted search looks for its k hits among the PROBE_FACTOR * k nearest documents before it has Chroma
#: apply a ``where`` (see ChromaVectorStore.search).
PROBE_FACTOR = 4

METRICS = ("cosine", "l2", "ip")
#: Metric names django_graph_search accepted for its ``DISTANCE_METRIC``.
METRIC_ALIASES = {"euclidean": "l2", "inner_product": "ip"}
#: Chroma's collection names: 3-512 characters of [a-zA-Z0-9._-], starting and ending alphanumeric.
COLLECTION_NAME_PATTERN = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9._-]{1,510})[a-zA-Z0-9]")


#: The database file of an embedded Chroma, under ``PATH``.
EMBEDDED_DATABASE = "chroma.sqlite3"


def normalized_metric(metric: str) -> str:
    """``METRIC`` as Chroma names it (django_graph_search's names accepted)."""
    return METRIC_ALIASES.get(metric.lower(), metric.lower())


def collection_name(base: str, collection: str) -> str:
    """The Chroma collection of core's ``collection`` (``""``: the default one) under ``COLLECTION_NAME``."""
    return f"{base}-{collection}" if collection else base


def distance_to_cosine(metric: str, distances: np.ndarray) -> np.ndarray:
    """Cosine similarity from Chroma's distances between unit vectors.

    ``cosine``: d = 1 - cos. ``ip``: d = 1 - dot = 1 - cos. ``l2``: Chroma reports the *squared*
    distance, |a - b|² = 2 - 2 cos, so cos = 1 - d / 2.
    """
    return 1.0 - distances / 2.0 if metric == "l2" else 1.0 - distances


class ChromaVectorStore(VectorStore):
    """Vector store ``chroma``: a Chroma collection, embedded (``PATH``) or on a server (``HOST``/``PORT``).

    Options (``VECTOR_STORE["OPTIONS"]``): ``PATH``, or ``HOST``, ``PORT`` (8000), ``SSL`` (False),
    ``HEADERS``; ``COLLECTION_NAME`` ("dgs") and ``METRIC`` ("cosine", "l2" or "ip", for new collections);
    ``KEYWORD_PATH`` (default ``PATH``), the directory of the keyword index. Core adds ``collection`` ("g1",
    "g2", ...) for the collections of zero-downtime rebuilds, stored as ``<COLLECTION_NAME>-<collection>``.
    See the package README.

    ``capabilities`` lacks ``"keyword"`` on an instance that has no keyword index (a server without
    ``KEYWORD_PATH``).
    """

    capabilities = frozenset({"persistence", "filters", "keyword"})
    legacy_options = {"persist_directory": "path", "distance_metric": "metric"}

    @dataclass(frozen=True)
    class Options(VectorStore.Options):
        path: Optional[str] = option(None, min=1, help="directory of embedded Chroma")
        host: Optional[str] = option(None, min=1, help="a Chroma server (instead of PATH)")
        port: Union[int, str] = option(8000, help="the server's port")
        ssl: bool = option(False, help="HTTPS to the server")
        headers: Optional[dict] = option(None, help="HTTP headers sent to the server (e.g. authentication)")
        collection_name: str = option("dgs", help="the Chroma collection")
        metric: str = option("cosine", help="distance of new collections: cosine, l2 or ip")
        keyword_path: Optional[Union[str, os.PathLike]] = option(None, help="directory of the keyword index")

        def __post_init__(self) -> None:
            if bool(self.path) == bool(self.host):
                raise ValueError(
                    "The chroma store needs exactly one of {path} (a directory for embedded Chroma) or {host} "
                    f"(a Chroma server); got PATH={self.path!r}, HOST={self.host!r}."
                )
            if normalized_metric(self.metric) not in METRICS:
                raise ValueError(f"{{metric}} is {self.metric!r}; use one of {', '.join(METRICS)} (cosine by default).")
            name = collection_name(self.collection_name, self.collection)
            if not COLLECTION_NAME_PATTERN.fullmatch(name):
                raise ValueError(
                    f"{{collection_name}} gives the Chroma collection name {name!r}; Chroma needs 3-512 characters of "
                    "letters, digits, '.', '_' or '-', starting and ending with a letter or digit."
                )
            if not str(self.port).isdigit():
                raise ValueError(f"{{port}} is {self.port!r}; use a port number.")

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        path, host, keyword_path = self.options.path, self.options.host, self.options.keyword_path
        self.metric = normalized_metric(self.options.metric)
        self.name = collection_name(self.options.collection_name, self.options.collection)
        self.path = os.path.abspath(path) if path else None
        keyword_path = keyword_path or self.path
        #: The keyword index (BM25 sidecar), or None on a server without KEYWORD_PATH.
        self.keywords = KeywordSidecar(os.path.abspath(keyword_path), self.name) if keyword_path else None
        if self.keywords is None:
            self.capabilities = type(self).capabilities - {"keyword"}
        self.host, self.port, self.ssl = host, int(self.options.port), self.options.ssl
        self.headers = {str(k): str(v) for k, v in (self.options.headers or {}).items()}
        self._client = None  # chromadb's ClientAPI, built on first use
        self._collection = None  # chromadb's Collection, fetched (or created by a write) on first use
        self._space = self.metric  # the metric of the collection actually opened
        self._warned_unindexed = False  # keyword_search's warning about documents missing from the keyword index
        self._lock = threading.RLock()

    @property
    def location(self) -> str:
        """Where the collection lives, for messages."""
        if self.path:
            return f"{self.path} (PATH)"
        return f"{'https' if self.ssl else 'http'}://{self.host}:{self.port} (HOST/PORT/SSL)"

    # ---------------------------------------------------------------------------------------------
    # Connection and collection
    # ---------------------------------------------------------------------------------------------

    def _connect(self):
        with self._lock:
            if self._client is None:
                import chromadb
                from chromadb.config import Settings

                settings = Settings(anonymized_telemetry=False)
                if self.path:
                    self._client = chromadb.PersistentClient(path=self.path, settings=settings)
                else:
                    try:
                        self._client = chromadb.HttpClient(host=self.host, port=self.port, ssl=self.ssl,
                                                           headers=self.headers, settings=settings)
                    except ValueError as exc:  # chromadb's "Could not connect to a Chroma server"
                        raise self._unreachable(exc) from exc
            return self._client

    def _unreachable(self, exc: Exception) -> BackendUnavailable:
        return BackendUnavailable(
            f"Cannot reach the Chroma server at {self.location}: {exc}. Start it (e.g. `chroma run --host "
            f"{self.host} --port {self.port} --path <dir>`) or correct VECTOR_STORE['OPTIONS']."
        )

    def _open(self, create: bool):
        """The collection, or ``None`` when it does not exist and ``create`` is false."""
        from chromadb.errors import NotFoundError

        with self._lock:
            if self._collection is None:
                client = self._connect()
                if create:
                    found = client.get_or_create_collection(
                        self.name, embedding_function=None, metadata={FORMAT_KEY: FORMAT},
                        configuration={"hnsw": {"space": self.metric}},
                    )
                else:
                    try:
                        found = client.get_collection(self.name, embedding_function=None)
                    except NotFoundError:
                        return None
                self._check_format(found)
                self._collection, self._space = found, collection_metric(found)
                if self._space != self.metric:
                    log.info("Chroma collection %r uses the %s metric (METRIC is %s); scores are mapped from %s.",
                             self.name, self._space, self.metric, self._space)
            return self._collection

    def _files_gone(self) -> bool:
        """Embedded Chroma whose database file was deleted: an open client goes on answering from the unlinked
        files, so the file itself is looked at (a stat)."""
        return bool(self.path) and not os.path.exists(os.path.join(self.path, EMBEDDED_DATABASE))

    def exists(self) -> bool:
        import httpx
        from chromadb.errors import NotFoundError

        if self._files_gone():
            return False
        try:
            self._connect().get_collection(self.name, embedding_function=None)
        except NotFoundError:
            return False
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        return True

    def vanished(self) -> CollectionMissing:
        return CollectionMissing(
            f"The Chroma collection {self.name!r} at {self.location} was built but is gone (deleted outside dgs). "
            "Rebuild the index with `python manage.py build_search_index --rebuild`."
        )

    def _check_format(self, collection) -> None:
        if FORMAT_KEY not in (collection.metadata or {}) and collection.count():
            raise ConfigurationError(
                f"The Chroma collection {self.name!r} at {self.location} holds documents that dgs-chroma did not "
                "write (perhaps django_graph_search's). Set VECTOR_STORE['OPTIONS']['COLLECTION_NAME'] to a new name "
                "and run `python manage.py build_search_index`."
            )

    def _use(self, operation: Callable[[Any], T], *, create: bool = False, empty: T = None) -> T:
        """Run ``operation(collection)``; ``empty`` when the collection does not exist (and ``create`` is false).

        A collection that another process dropped (``clear_search_index``) is looked up once more.
        """
        from chromadb.errors import NotFoundError

        try:
            return self._attempt(operation, create, empty)
        except NotFoundError:
            with self._lock:
                self._collection = None
            return self._attempt(operation, create, empty)

    def _attempt(self, operation: Callable[[Any], T], create: bool, empty: T) -> T:
        """One try of :meth:`_use`, with the engine's errors translated into dgs's."""
        import httpx
        from chromadb.errors import InvalidArgumentError

        try:
            if self.must_exist and self._files_gone():
                raise self.vanished()
            collection = self._open(create)
            if collection is None and self.must_exist:
                raise self.vanished()
            return empty if collection is None else operation(collection)
        except httpx.TransportError as exc:  # only the HTTP client raises these
            raise self._unreachable(exc) from exc
        except InvalidArgumentError as exc:
            if "dimension" not in str(exc):
                raise
            raise EmbedderMismatchError(
                f"The Chroma collection {self.name!r} at {self.location} holds vectors of another dimension "
                f"({exc}). Rebuild the index with `python manage.py build_search_index --rebuild`."
            ) from exc

    def _batches(self, items: Sequence[T]) -> Iterator[Sequence[T]]:
        """``items`` in slices the client accepts in one request (Chroma's max batch size)."""
        size = self._connect().get_max_batch_size()
        for start in range(0, len(items), size):
            yield items[start : start + size]

    # ---------------------------------------------------------------------------------------------
    # Writes
    # ---------------------------------------------------------------------------------------------

    def _writing(self) -> AbstractContextManager[Optional[KeywordWrites]]:
        """Wraps one Chroma write: the keyword index's transaction (None when there is no keyword index),
        which the write fills after Chroma accepted it and which commits only if the whole block succeeds."""
        return self.keywords.writing() if self.keywords else nullcontext()

    def upsert(self, documents: Sequence[StoredDocument]) -> None:
        latest, vectors = upsert_batch(documents)  # Chroma refuses an id twice in one request
        if not latest:
            return

        def write(collection) -> None:
            for batch, rows in zip(self._batches(latest), self._batches(vectors), strict=True):
                with self._writing() as keywords:
                    collection.upsert(
                        ids=[doc.id for doc in batch],
                        embeddings=rows,
                        documents=[doc.text for doc in batch],
                        metadatas=[chroma_metadata(d.model, d.pk, d.content_hash, d.metadata) for d in batch],
                    )
                    if keywords:
                        keywords.upsert(batch)

        self._use(write, create=True)

    def delete(self, ids: Sequence[str]) -> None:
        ids = list(dict.fromkeys(ids))

        def remove(collection) -> None:
            for batch in self._batches(ids):
                with self._writing() as keywords:
                    collection.delete(ids=list(batch))
                    if keywords:
                        keywords.delete(batch)

        if ids:
            self._use(remove)

    def clear(self, models: Optional[Sequence[str]] = None) -> None:
        """Delete the documents of ``models``, or all of them; the collection and its embedder record stay."""
        labels = [m.lower() for m in models] if models else None

        def remove(collection) -> None:
            with self._writing() as keywords:
                collection.delete(where={MODEL_KEY: {"$in": labels}} if labels else MATCHES_EVERYTHING)
                if keywords:
                    keywords.clear(labels)

        self._use(remove)

    def record_embedder(self, embedder_id: str, dimension: int) -> None:
        def record(collection) -> None:
            # Chroma replaces the whole metadata on modify(); its own "hnsw:" keys cannot be changed.
            kept = {k: v for k, v in (collection.metadata or {}).items() if not k.startswith("hnsw:")}
            collection.modify(metadata={**kept, FORMAT_KEY: FORMAT, EMBEDDER_KEY: embedder_id,
                                        DIMENSION_KEY: int(dimension)})

        self._use(record, create=True)

    def drop(self) -> None:
        """Delete the Chroma collection and its keyword tables; the next write creates them again, empty."""
        with self._lock, self._writing() as keywords:
            # A collection another process dropped meanwhile is found missing on the retry: nothing to do.
            self._use(lambda _: self._connect().delete_collection(self.name))
            self._collection = None
            if keywords:
                keywords.drop()

    # ---------------------------------------------------------------------------------------------
    # Reads
    # ---------------------------------------------------------------------------------------------

    def search(self, vector: np.ndarray, k: int, *, models: Optional[Sequence[str]] = None,
               filters: Optional[Sequence[Condition]] = None) -> list[VectorHit]:
        """The ``k`` nearest documents of ``models`` that pass ``filters``.

        Chroma (embedded and ``chroma run``) answers a query with a ``where`` by first reading every id the
        ``where`` matches from SQLite, then searching HNSW among them, so the more documents match, the slower
        it is: at 100k documents 0.05-0.15 s for a ``where`` matching 4 %, 0.3-1.3 s for one matching all,
        against a few ms without. Core restricts every search to its models, which usually hold every
        document. So a restricted search tries the cheapest answer first:

        1. the nearest documents without a ``where``: the ``k`` nearest, as an unrestricted search reads them,
           then up to ``PROBE_FACTOR * k`` if enough of those passed (:meth:`_nearest_passing`);
        2. when too few of those pass (a selective filter), Chroma's ``where`` on the filters alone, which
           leaves out the models clause that matches nearly everything;
        3. when that still finds fewer than ``k`` of the models, the ``where`` on models and filters.
        """
        if k <= 0:
            return []
        query = normalize_rows(vector)
        labels = frozenset(m.lower() for m in models) if models else None
        conditions = list(filters or [])

        def passes(hit: VectorHit) -> bool:
            # Hits of a where are checked too: it can accept a few documents too many (see metadata.where_clause).
            return (labels is None or hit.model in labels) and matches(hit.metadata, conditions)

        def nearest(collection) -> list[VectorHit]:
            if labels is None and not conditions:
                return self._query(collection, query, k, None, passes)
            hits = self._nearest_passing(collection, query, k, passes)
            if hits is None and conditions:
                hits = self._query(collection, query, k, where_clause(None, conditions), passes, until_k=False)
            if hits is None:
                hits = self._query(collection, query, k, where_clause(sorted(labels or ()), conditions), passes)
            return hits

        return self._use(nearest, empty=[])

    def _query(self, collection, query: np.ndarray, k: int, where: Optional[dict[str, Any]],
               passes: Callable[[VectorHit], bool], *, until_k: bool = True) -> Optional[list[VectorHit]]:
        """The ``k`` nearest hits under ``where`` that ``passes`` accepts. When fewer than ``k`` of a full
        answer pass: ask for twice as many (``until_k``), or return ``None``."""
        wanted = k
        while True:
            found = collection.query(query_embeddings=query, n_results=wanted, where=where, include=["distances"])
            ranked = list(zip(found["ids"][0], found["distances"][0], strict=True))
            kept = [hit for hit in self._read_hits(collection, ranked) if passes(hit)]
            if len(kept) >= k or len(found["ids"][0]) < wanted:  # enough, or every match was seen
                return kept[:k]
            if not until_k:
                return None
            wanted *= 2

    def _nearest_passing(self, collection, query: np.ndarray, k: int,
                         passes: Callable[[VectorHit], bool]) -> Optional[list[VectorHit]]:
        """The ``k`` nearest hits that ``passes`` accepts, found among the ``PROBE_FACTOR * k`` nearest
        documents of the collection; ``None`` when too few of those pass.

        The nearest ``k`` are read whole, as an unrestricted search reads them (usually they all pass). For
        the others only ids and distances are asked first; their text and metadata, which cost far more, are
        read only if the share of the first ``k`` that passed says enough of them will.
        """
        found = collection.query(query_embeddings=query, n_results=k, include=["distances"])
        first = found["ids"][0]
        kept = [hit for hit in self._read_hits(collection, list(zip(first, found["distances"][0], strict=True)))
                if passes(hit)]
        if len(kept) >= k or len(first) < k:  # enough, or every document was seen
            return kept
        if len(kept) * PROBE_FACTOR < len(first):  # at this share the others cannot make up k
            return None
        read = set(first)
        found = collection.query(query_embeddings=query, n_results=PROBE_FACTOR * k, include=["distances"])
        others = [(doc_id, distance) for doc_id, distance in zip(found["ids"][0], found["distances"][0], strict=True)
                  if doc_id not in read]
        kept.extend(hit for hit in self._read_hits(collection, others) if passes(hit))
        kept.sort(key=lambda hit: hit.score, reverse=True)
        return kept[:k] if len(kept) >= k else None

    def _read_hits(self, collection, ranked: Sequence[tuple[str, float]]) -> list[VectorHit]:
        """Hits for ``(id, distance)`` pairs, in their order, with text and metadata read from the keyword index
        (:meth:`KeywordSidecar.documents`, far cheaper than Chroma's metadata), and from Chroma for those it
        lacks: a write in progress (Chroma first, the keyword index when it commits), or no keyword index."""
        if not ranked:
            return []
        records = self.keywords.documents([doc_id for doc_id, _ in ranked]) if self.keywords else {}
        missing = [doc_id for doc_id, _ in ranked if doc_id not in records]
        if missing:
            found = collection.get(ids=missing, include=["documents", "metadatas"])
            records.update(
                (doc_id, (meta[MODEL_KEY], meta[PK_KEY], text or "", original_metadata(meta)))
                for doc_id, text, meta in zip(found["ids"], found["documents"], found["metadatas"], strict=True)
                if meta is not None  # another process deleted it after this one loaded the vector index
            )
        present = [(doc_id, distance) for doc_id, distance in ranked if doc_id in records]  # deleted meanwhile
        scores = cosine_to_score(distance_to_cosine(self._space, np.asarray([d for _, d in present], dtype=np.float64)))
        return [VectorHit(doc_id, *records[doc_id][:2], float(score), *records[doc_id][2:])
                for (doc_id, _), score in zip(present, scores, strict=True)]

    def keyword_search(self, query: str, k: int, *, models: Optional[Sequence[str]] = None,
                       filters: Optional[Sequence[Condition]] = None) -> list[VectorHit]:
        """The ``k`` best documents for ``query`` by BM25 over the keyword index (see :mod:`dgs_chroma.keyword`)."""
        if self.keywords is None:
            raise ConfigurationError(
                f"The chroma store on the server {self.location} has no keyword index: set "
                "VECTOR_STORE['OPTIONS']['KEYWORD_PATH'] to a directory that every process of the site shares "
                "(see the dgs-chroma README), or search with mode='vector'."
            )
        if self.must_exist and not self.exists():  # the keyword index outlives a collection deleted behind dgs
            raise self.vanished()
        hits = self.keywords.search(query, k, models=models, filters=filters)
        if hits is None:  # nothing was ever written to this keyword index
            if not self._warned_unindexed and self.count():
                self._warned_unindexed = True
                log.warning(
                    "The Chroma collection %r at %s holds documents that its keyword index %s lacks (written by a "
                    "dgs-chroma without keyword search, or by processes with another KEYWORD_PATH), so keyword "
                    "search finds nothing. Run `python manage.py build_search_index --rebuild`.",
                    self.name, self.location, self.keywords.file,
                )
            return []
        return hits

    def count(self, models: Optional[Sequence[str]] = None) -> int:
        if not models:
            return self._use(lambda collection: collection.count(), empty=0)
        return len(self._ids(models))

    def iter_ids(self, models: Optional[Sequence[str]] = None) -> Iterator[str]:
        return iter(self._ids(models))

    def _ids(self, models: Optional[Sequence[str]]) -> list[str]:
        """Every id (of ``models``), read page by page; a list, so callers may delete while iterating."""
        where = where_clause([m.lower() for m in models] if models else None, [])

        def read(collection) -> list[str]:
            ids: list[str] = []
            page = self._connect().get_max_batch_size()
            while True:
                found = collection.get(where=where, include=[], limit=page, offset=len(ids))["ids"]
                ids.extend(found)
                if len(found) < page:
                    return ids

        return self._use(read, empty=[])

    def content_hashes(self, ids: Sequence[str]) -> dict[str, str]:
        def read(collection) -> dict[str, str]:
            hashes = {}
            for batch in self._batches(list(ids)):
                found = collection.get(ids=list(batch), include=["metadatas"])
                hashes.update((i, meta[HASH_KEY]) for i, meta in zip(found["ids"], found["metadatas"], strict=True))
            return hashes

        return self._use(read, empty={}) if ids else {}

    def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors, at unit length."""

        def read(collection) -> dict[str, np.ndarray]:
            vectors = {}
            for batch in self._batches(list(ids)):
                found = collection.get(ids=list(batch), include=["embeddings"])
                vectors.update(zip(found["ids"], np.asarray(found["embeddings"], dtype=np.float32), strict=True))
            return vectors

        return self._use(read, empty={}) if ids else {}

    def embedder_info(self) -> Optional[dict[str, Any]]:
        """The record of :meth:`record_embedder`, read from the collection's metadata (fresh, not cached)."""

        def read(collection) -> Optional[dict[str, Any]]:
            metadata = self._connect().get_collection(self.name, embedding_function=None).metadata or {}
            if EMBEDDER_KEY not in metadata:
                return None
            return {"embedder": metadata[EMBEDDER_KEY], "dimension": metadata[DIMENSION_KEY]}

        return self._use(read)

    def close(self) -> None:
        """Release the client (for embedded Chroma, its SQLite files once no other client uses them)."""
        with self._lock:
            if self._client is not None:
                self._client.close()
            self._client, self._collection = None, None


def collection_metric(collection) -> str:
    """The distance a Chroma collection was created with (HNSW locally, SPANN on distributed Chroma)."""
    configuration = collection.configuration or {}
    for index in ("hnsw", "spann"):
        space = (configuration.get(index) or {}).get("space")
        if space:
            return str(space)
    return str((collection.metadata or {}).get("hnsw:space", "l2"))  # Chroma's default
