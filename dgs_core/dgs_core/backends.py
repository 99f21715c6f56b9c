"""Backends core ships so that it works, and is tested, with no plugin installed.

* ``hashing``: a lexical embedder (signed feature hashing of words and character trigrams). It
  understands spelling, not meaning; use it for tests, tiny sites or as a keyword-ish baseline.
* ``memory``: an exact numpy vector store kept in process memory (lost on restart), with BM25 keyword
  search by an in-memory SQLite FTS5 index (:mod:`dgs_core.lexical`).
* ``sync``: applies index changes immediately, in the calling thread.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from dgs_core.base import (
    Embedder,
    StoredDocument,
    VectorHit,
    VectorStore,
    cosine_to_score,
    normalize_rows,
)
from dgs_core.filters import Condition, matches
from dgs_core.lexical import FTS5Table
from dgs_core.options import option

WORD = re.compile(r"\w+", re.UNICODE)
KEYWORDS = FTS5Table()


class HashingEmbedder(Embedder):
    # Character trigrams: values closest to made-up queries reach 0.12 on the test catalogue, real matches 0.29+.
    match_floor = 0.2

    @dataclass(frozen=True)
    class Options(Embedder.Options):
        dimension: int = option(256, positive=True, help="length of the vectors")

    def __init__(self, model_name: Optional[str] = None, **options: Any) -> None:
        super().__init__(model_name, **options)
        self._dimension = self.options.dimension
        self.model_name = self.model_name or f"hashing-{self._dimension}"

    @property
    def dimension(self) -> int:
        return self._dimension

    def _features(self, text: str) -> Iterator[str]:
        for word in WORD.findall(text.lower()):
            yield word
            padded = f"#{word}#"
            for i in range(len(padded) - 2):
                yield padded[i : i + 3]

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature in self._features(text):
                digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self._dimension
                out[row, bucket] += 1.0 if digest[4] & 1 else -1.0
        return out

    def count_tokens(self, text: str) -> int:
        return len(WORD.findall(text))


class _MemorySpace:
    """The data of one in-memory collection, shared by every store instance that names it."""

    def __init__(self) -> None:
        self.docs: dict[str, StoredDocument] = {}
        self.embedder_info: Optional[dict[str, Any]] = None
        self.matrix: Optional[tuple[list[str], np.ndarray]] = None
        self.lock = threading.RLock()
        # The keyword leg: an in-memory SQLite FTS5 index, used only under ``lock``.
        self.keywords = sqlite3.connect(":memory:", check_same_thread=False)
        KEYWORDS.create(self.keywords)


class MemoryVectorStore(VectorStore):
    """Options: ``location`` (default ``"default"``) names the data, like Django's locmem cache, so
    instances rebuilt after a settings change in the same process see the same vectors."""

    capabilities = frozenset({"filters", "keyword"})
    _spaces: dict[tuple[str, str], _MemorySpace] = {}
    _spaces_lock = threading.Lock()

    @dataclass(frozen=True)
    class Options(VectorStore.Options):
        location: str = option("default", help="names the data; instances with the same location share it")

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        with self._spaces_lock:
            self._space = self._spaces.setdefault((self.options.location, self.options.collection), _MemorySpace())

    @classmethod
    def forget_all(cls) -> None:
        """Drop every in-memory collection of the process (tests start from nothing)."""
        with cls._spaces_lock:
            cls._spaces.clear()

    def upsert(self, documents: Sequence[StoredDocument]) -> None:
        space = self._space
        with space.lock:
            for doc in documents:
                doc.vector = normalize_rows(doc.vector)[0]
                space.docs[doc.id] = doc
            KEYWORDS.upsert(space.keywords, documents)
            space.matrix = None

    def _snapshot(self) -> tuple[list[str], np.ndarray]:
        space = self._space
        with space.lock:
            if space.matrix is None:
                ids = list(space.docs)
                dim = len(next(iter(space.docs.values())).vector) if ids else 0
                matrix = np.stack([space.docs[i].vector for i in ids]) if ids else np.zeros((0, dim), np.float32)
                space.matrix = (ids, matrix)
            return space.matrix

    def search(self, vector: np.ndarray, k: int, *, models: Optional[Sequence[str]] = None,
               filters: Optional[Sequence[Condition]] = None) -> list[VectorHit]:
        ids, matrix = self._snapshot()
        if not ids:
            return []
        docs = self._space.docs
        sims = matrix @ normalize_rows(vector)[0]
        if models or filters:
            wanted = {m.lower() for m in models} if models else None
            mask = np.array([(wanted is None or docs[i].model in wanted)
                             and (not filters or matches(docs[i].metadata, filters)) for i in ids])
            sims = np.where(mask, sims, -np.inf)
        order = np.argsort(-sims)[:k]
        hits = []
        for row in order:
            if not np.isfinite(sims[row]):
                break
            doc = docs[ids[row]]
            hits.append(VectorHit(doc.id, doc.model, doc.pk, float(cosine_to_score(sims[row])), doc.text,
                                  dict(doc.metadata)))
        return hits

    def keyword_search(self, query: str, k: int, *, models: Optional[Sequence[str]] = None,
                       filters: Optional[Sequence[Condition]] = None) -> list[VectorHit]:
        with self._space.lock:
            return KEYWORDS.search(self._space.keywords, query, k, models=models, filters=filters)

    def delete(self, ids: Sequence[str]) -> None:
        space = self._space
        with space.lock:
            for doc_id in ids:
                space.docs.pop(doc_id, None)
            KEYWORDS.delete(space.keywords, ids)
            space.matrix = None

    def iter_ids(self, models: Optional[Sequence[str]] = None) -> Iterator[str]:
        wanted = {m.lower() for m in models} if models else None
        with self._space.lock:
            ids = [i for i, d in self._space.docs.items() if wanted is None or d.model in wanted]
        return iter(ids)

    def count(self, models: Optional[Sequence[str]] = None) -> int:
        return sum(1 for _ in self.iter_ids(models))

    def content_hashes(self, ids: Sequence[str]) -> dict[str, str]:
        docs = self._space.docs
        return {i: docs[i].content_hash for i in ids if i in docs}

    def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        docs = self._space.docs
        return {i: docs[i].vector for i in ids if i in docs}

    def embedder_info(self) -> Optional[dict[str, Any]]:
        return self._space.embedder_info

    def record_embedder(self, embedder_id: str, dimension: int) -> None:
        self._space.embedder_info = {"embedder": embedder_id, "dimension": dimension}

    def drop(self) -> None:
        space = self._space
        with space.lock:
            space.docs.clear()
            KEYWORDS.clear(space.keywords)
            space.embedder_info = None
            space.matrix = None
