"""One small abstract base class per backend family, plus the records they exchange.

Backends are batch-first: every write takes a sequence, and vectors travel as float32
``numpy`` arrays of shape ``(n, dimension)``.
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Optional

import numpy as np

from dgs_core.exceptions import BackendUnavailable, CollectionMissing, EmbedderMismatchError
from dgs_core.ids import DocumentRef
from dgs_core.options import Configurable, option
from dgs_core.options import Options as NoOptions

if TYPE_CHECKING:
    from dgs_core.filters import Condition


@dataclass
class StoredDocument:
    """What a vector store keeps for one indexed object.

    ``id`` is stable: ``"<app_label.model>:<pk>"``; storing the same id again replaces the document.
    """

    id: str
    model: str
    pk: str
    text: str
    vector: np.ndarray
    content_hash: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class VectorHit:
    """One match returned by :meth:`VectorStore.search`; ``score`` is a similarity in [0, 1]."""

    id: str
    model: str
    pk: str
    score: float
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


def document_id(model_label: str, pk: Any) -> str:
    """The stable id of a document: lower-case ``app_label.model`` and the primary key (see :mod:`dgs_core.ids`)."""
    return str(DocumentRef(model_label, pk))


def cosine_to_score(cosine: np.ndarray | float) -> np.ndarray | float:
    """Map cosine similarity to a dgs score: cosine clipped into [0, 1].

    Every store uses this mapping, so the same query over the same documents scores the same on
    every backend and a ``min_score`` carries over between stores. Negative cosine (opposite
    meaning) maps to 0.
    """
    return np.clip(cosine, 0.0, 1.0)


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """Return float32 rows scaled to unit length (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def upsert_batch(documents: Sequence[StoredDocument]) -> tuple[list[StoredDocument], np.ndarray]:
    """The documents of one upsert, each id once (an id named twice: the last one wins), and their vectors as
    unit-length float32 rows.

    Raises :class:`EmbedderMismatchError` when they mix vector sizes (vectors of two embedders).
    """
    latest = list({doc.id: doc for doc in documents}.values())
    sizes = {np.asarray(doc.vector).size for doc in latest}
    if len(sizes) > 1:
        raise EmbedderMismatchError(f"One upsert mixes vectors of dimensions {sorted(sizes)}; use one embedder.")
    if not latest:
        return [], np.zeros((0, 0), dtype=np.float32)
    return latest, normalize_rows(np.stack([np.asarray(doc.vector, dtype=np.float32).ravel() for doc in latest]))


class EmbeddingUsage:
    """What a remote embedder has sent since the process started: ``requests``, ``texts`` and ``tokens``
    (as the API reported them). ``build_search_index`` prints the difference a run made."""

    def __init__(self) -> None:
        self.requests = self.texts = self.tokens = 0
        self._lock = threading.Lock()

    def add(self, texts: int, tokens: int) -> None:
        """Count one request of ``texts`` texts and ``tokens`` tokens."""
        with self._lock:
            self.requests += 1
            self.texts += texts
            self.tokens += tokens

    def __repr__(self) -> str:
        return f"EmbeddingUsage(requests={self.requests}, texts={self.texts}, tokens={self.tokens})"


class Embedder(Configurable, ABC):
    """Turns texts into vectors. Subclasses implement :meth:`embed_documents` and :attr:`dimension`.

    Constructed with ``model_name=`` and the profile's lower-cased ``OPTIONS``, declared by ``Options``
    (see :mod:`dgs_core.options`; ``model_name`` is one of them). Load heavy libraries lazily (on first
    embed), never at import, so Django starts fast.
    """

    family = "embedder"

    @dataclass(frozen=True)
    class Options(NoOptions):
        model_name: Optional[str] = option(None, listed=False, help="MODEL_NAME of the embedding profile")

    #: Maximum tokens the model reads; longer documents are reported by ``build_search_index``.
    max_input_tokens: ClassVar[Optional[int]] = None

    #: The match floor: the cosine similarity a field's value needs to explain a hit by meaning (``matched``).
    #: Calibrate it per model with ``bench/match_floor.py``; ``EXPLAIN_MIN_SIMILARITY`` overrides it.
    match_floor: ClassVar[float] = 0.3

    #: Remote embedders count what they send here (an :class:`EmbeddingUsage`); local ones leave it None.
    usage: Optional[EmbeddingUsage] = None

    #: The name :attr:`id` begins with when the index was recorded under another spelling of this backend
    #: (set by :func:`dgs_core.engine.check_embedder`); ``None``: :attr:`registered_name`.
    recorded_name: Optional[str] = None

    def __init__(self, model_name: Optional[str] = None, **options: Any) -> None:
        self.model_name, self.options = _with_model_name(self, model_name, options)

    @property
    def id(self) -> str:
        """Identifies model and vector space; stored with every vector to guard against mixing."""
        return f"{self.recorded_name or self.registered_name}:{self.model_name}"

    @property
    @abstractmethod
    def dimension(self) -> int:
        """Length of the vectors this embedder produces."""

    @abstractmethod
    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Embed documents for indexing; returns float32 ``(len(texts), dimension)``."""

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one search query; returns float32 ``(dimension,)``. Override for query prompts."""
        return np.asarray(self.embed_documents([text]), dtype=np.float32)[0]

    def adopt_recorded_id(self, recorded_id: str) -> bool:
        """Take ``recorded_id``, the id of an index's vectors, as this embedder's when those vectors are this
        embedder's within rounding (e.g. the same model run by another runtime): the index then needs no
        rebuild, and its content hashes (which include the id) stay valid. Returns whether it did; an embedder
        that cannot tell never does, and the index must be rebuilt."""
        return False

    def count_tokens(self, text: str) -> Optional[int]:
        """Tokens the model would see for ``text``, or ``None`` if unknown."""
        return None

    def token_offsets(self, text: str) -> Optional[list[tuple[int, int]]]:
        """Character ``(start, end)`` of each token the model reads in ``text`` (prompt and special tokens
        excluded), or ``None`` without a tokenizer; long documents are chunked on these boundaries."""
        return None

    @classmethod
    def check_options(cls, model_name: Optional[str], options: dict[str, Any], setting: Optional[str] = None
                      ) -> list[str]:
        """Problems with ``MODEL_NAME`` and the options, reported by ``manage.py check``; cheap, no model load."""
        return cls.option_problems(_model_options(model_name, options), setting)


def _model_options(model_name: Optional[str], options: dict[str, Any]) -> dict[str, Any]:
    return {**options, "model_name": model_name} if model_name is not None else dict(options)


def _with_model_name(backend: Configurable, model_name: Optional[str], options: dict[str, Any]) -> tuple[Any, Any]:
    """``(model_name, options)`` of an embedder or reranker: parsed by its declaration when it has one."""
    if not backend.declares_options():
        return model_name, options
    parsed = backend.parse_options(_model_options(model_name, options))
    return parsed.model_name, parsed


class VectorStore(Configurable, ABC):
    """Keeps document vectors and answers nearest-neighbour queries.

    Scores are cosine similarities mapped by :func:`cosine_to_score`. Constructed with the
    lower-cased ``VECTOR_STORE["OPTIONS"]``, declared by ``Options``; connect lazily.
    """

    family = "vector store"
    options_setting = "VECTOR_STORE['OPTIONS']"

    @dataclass(frozen=True)
    class Options(NoOptions):
        #: Core's, for zero-downtime rebuilds: ``""`` is the default collection, others are "g1", "g2", ...
        collection: str = option("", listed=False, help="the collection of a zero-downtime rebuild")

    #: What the store can do beyond the basics: ``"persistence"``, ``"filters"``, ``"keyword"``
    #: (:meth:`keyword_search`, the lexical leg of hybrid search).
    capabilities: ClassVar[frozenset[str]] = frozenset()

    #: Set by core on the live collection once the database records that it was built (see
    #: :mod:`dgs_core.engine.generations`). From then on, where the store would answer a read as a collection
    #: that does not exist yet (empty, ``None``), it raises :meth:`vanished` instead: a vanished index is never
    #: served as an empty one. Stores without the ``"persistence"`` capability are never given it.
    must_exist: bool = False

    def __init__(self, **options: Any) -> None:
        self.options = self.parse_options(options) if self.declares_options() else options

    def exists(self) -> bool:
        """Whether the engine holds this collection (created by its first write), found without creating it
        (``manage.py check`` must not create an index). Stores that cannot tell answer True."""
        return True

    def verify(self) -> None:
        """Raise :class:`~dgs_core.exceptions.CollectionDamaged` naming what is wrong when the collection's data is
        damaged, by cheap checks (sizes, headers; no full scan). Called by ``manage.py check`` and the admin's
        index status page; reads raise it too when they meet the damage."""

    def vanished(self) -> CollectionMissing:
        """The error of a read that finds the collection gone although :attr:`must_exist` is set."""
        return CollectionMissing(
            f"The {type(self).__name__} collection was built but is missing from the vector store (deleted or "
            "dropped outside dgs). Rebuild the index with `manage.py build_search_index --rebuild`."
        )

    @abstractmethod
    def upsert(self, documents: Sequence[StoredDocument]) -> None:
        """Insert or replace documents by id."""

    @abstractmethod
    def search(
        self,
        vector: np.ndarray,
        k: int,
        *,
        models: Optional[Sequence[str]] = None,
        filters: Optional[Sequence[Condition]] = None,
    ) -> list[VectorHit]:
        """The ``k`` nearest documents, best first, restricted to ``models`` (lower-case labels).

        ``filters`` (only passed to stores declaring the ``"filters"`` capability) must be applied inside
        the engine, so ``k`` hits come back whenever ``k`` matching documents exist; the semantics are
        those of :func:`dgs_core.filters.matches` over the document metadata.
        """

    def keyword_search(
        self,
        query: str,
        k: int,
        *,
        models: Optional[Sequence[str]] = None,
        filters: Optional[Sequence[Condition]] = None,
    ) -> list[VectorHit]:
        """Stores declaring ``"keyword"``: the ``k`` best documents for ``query`` by the engine's lexical
        ranking (BM25 or the engine's full-text rank), best first, with ``models`` and ``filters`` applied
        as in :meth:`search`.

        ``query`` is raw user text: the store escapes it (no input may be a syntax error), matches any of
        its terms, stems them as the engine's language analyser does, and returns ``[]`` when nothing
        matches. ``score`` is the engine's relevance mapped monotonically into [0, 1]; only the order is
        compared across engines (hybrid search fuses ranks, see :mod:`dgs_core.searching.fusion`).
        """
        raise NotImplementedError(f"{type(self).__name__} has no keyword search (no 'keyword' capability).")

    @abstractmethod
    def delete(self, ids: Sequence[str]) -> None:
        """Remove documents by id; unknown ids are ignored."""

    @abstractmethod
    def count(self, models: Optional[Sequence[str]] = None) -> int:
        """Number of stored documents, optionally restricted to ``models``."""

    @abstractmethod
    def iter_ids(self, models: Optional[Sequence[str]] = None) -> Iterator[str]:
        """Every stored id, optionally restricted to ``models``."""

    @abstractmethod
    def content_hashes(self, ids: Sequence[str]) -> dict[str, str]:
        """``{id: content_hash}`` for those of ``ids`` that are stored."""

    @abstractmethod
    def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """``{id: vector}`` for those of ``ids`` that are stored."""

    def clear(self, models: Optional[Sequence[str]] = None) -> None:
        """Remove every document, or those of ``models``."""
        self.delete(list(self.iter_ids(models)))

    def embedder_info(self) -> Optional[dict[str, Any]]:
        """``{"embedder": id, "dimension": n}`` saved by :meth:`record_embedder`, or ``None`` when empty."""
        return None

    def record_embedder(self, embedder_id: str, dimension: int) -> None:
        """Save which embedder fills this collection; core calls it before the first write so that
        indexing or searching with another embedder fails clearly instead of returning garbage scores."""

    def publish(self) -> None:
        """Called on a collection's store right after a zero-downtime rebuild made it live (core's pointer
        has moved). Engines with server-side aliases point theirs at this collection here, so clients
        outside Django (other services, dashboards) follow the switch; Qdrant moves the alias named by
        ``COLLECTION_NAME``."""

    def drop(self) -> None:
        """Delete the collection and everything it stored (used for the old collection after a rebuild)."""
        self.clear()

    def close(self) -> None:
        """Release connections and file handles."""


class Reranker(Configurable, ABC):
    """Re-scores search candidates against the query (second stage); options declared by ``Options``."""

    family = "reranker"

    @dataclass(frozen=True)
    class Options(NoOptions):
        model_name: Optional[str] = option(None, listed=False, help="MODEL_NAME of the reranker")

    def __init__(self, model_name: Optional[str] = None, **options: Any) -> None:
        self.model_name, self.options = _with_model_name(self, model_name, options)

    @classmethod
    def check_options(cls, model_name: Optional[str], options: dict[str, Any], setting: Optional[str] = None
                      ) -> list[str]:
        """Problems with ``MODEL_NAME`` and the options, found without loading a model."""
        return cls.option_problems(_model_options(model_name, options), setting)

    @abstractmethod
    def rerank(self, query: str, hits: Sequence[VectorHit], top_k: int) -> list[VectorHit]:
        """Return at most ``top_k`` of ``hits``, best first, with scores in [0, 1]."""


class ConversationMemory(Configurable, ABC):
    """Stores the turns of a search conversation by id; ``MEMORY_OPTIONS`` declared by ``Options``.

    Core passes ``max_items`` (``MAX_HISTORY_ITEMS``) and ``max_bytes`` (``MAX_CONVERSATION_BYTES``); :meth:`fit`
    applies both, and :meth:`encode` / :meth:`decode` turn the turns into the JSON text the built-in memories
    store, so that what a conversation occupies is what was measured.
    """

    family = "conversation memory"
    options_setting = "GRAPH_SEARCH['CONVERSATIONAL']['MEMORY_OPTIONS']"

    def __init__(self, max_items: int = 10, max_bytes: int = 16384, **options: Any) -> None:
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.options = self.parse_options(options) if self.declares_options() else options

    def fit(self, turns: Sequence[dict[str, Any]]) -> str:
        """JSON of the last ``max_items`` of ``turns``, dropping the oldest while it is longer than ``max_bytes``
        (UTF-8); the latest turn is always kept."""
        kept = list(turns)[-self.max_items:]
        text = self.encode(kept)
        while len(kept) > 1 and len(text.encode()) > self.max_bytes:
            kept = kept[1:]
            text = self.encode(kept)
        return text

    @staticmethod
    def encode(turns: Sequence[dict[str, Any]]) -> str:
        return json.dumps(list(turns), ensure_ascii=False, separators=(",", ":"))

    @staticmethod
    def decode(text: Optional[str]) -> list[dict[str, Any]]:
        return json.loads(text) if text else []

    @abstractmethod
    def get(self, conversation_id: str) -> list[dict[str, Any]]:
        """The stored turns, oldest first (at most ``max_items``)."""

    @abstractmethod
    def append(self, conversation_id: str, turn: dict[str, Any]) -> None:
        """Add a turn, dropping the oldest beyond ``max_items``."""

    @abstractmethod
    def clear(self, conversation_id: str) -> None:
        """Forget a conversation."""


class Transport(Configurable, ABC):
    """Decides where and when recorded index changes are applied.

    Changes are rows of the outbox (:mod:`dgs_core.indexing.outbox`), keyed by document id. Wherever the work
    finally runs, it calls :func:`dgs_core.indexing.outbox.drain`. Constructed with the lower-cased
    ``ASYNC_INDEXING`` keys core does not know (e.g. dgs-celery's ``CELERY_QUEUE``) and those of core's keys
    (``thread_pool_size``, ...) it declares in ``Options``; ``manage.py check`` reports keys it does not
    declare. A transport that declares no ``Options`` is given all of core's keys.
    """

    family = "transport"
    options_setting = "GRAPH_SEARCH['ASYNC_INDEXING']"

    def __init__(self, **options: Any) -> None:
        self.options = self.parse_options(options) if self.declares_options() else options

    @abstractmethod
    def submit(self, document_ids: Sequence[str]) -> None:
        """Apply, now or later, the outbox rows of ``document_ids`` (just committed).

        Never raise for work that merely could not run yet: the rows stay in the outbox until a drain
        applies them, so a lost hand-over (a crashed worker, an unreachable broker) loses nothing.
        """

    def close(self, timeout: float = 30.0) -> None:
        """Finish submitted work (at most ``timeout`` seconds) and release threads and connections."""


class StreamFormat(ABC):
    """Serialises search events for a streaming HTTP response."""

    content_type: ClassVar[str] = "application/octet-stream"

    @abstractmethod
    def encode(self, event: str, data: dict[str, Any]) -> bytes:
        """One event as bytes ready to write to the response."""


__all__ = [
    "BackendUnavailable",
    "ConversationMemory",
    "Embedder",
    "Reranker",
    "StoredDocument",
    "StreamFormat",
    "Transport",
    "VectorHit",
    "VectorStore",
    "cosine_to_score",
    "document_id",
    "normalize_rows",
    "upsert_batch",
]
