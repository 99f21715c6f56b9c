"""Backends core ships so that it works, and is tested, with no plugin installed.

* ``hashing``: a lexical embedder (signed feature hashing of words and character trigrams). It
  understands spelling, not meaning; use it for tests, tiny sites or as a keyword-ish baseline.
* ``memory``: an exact numpy vector store kept in process memory (lost on restart).
* ``sync``: applies index changes immediately, in the calling thread.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Optional

import numpy as np

from dgs_core.base import (
    Embedder,
    StoredDocument,
    Transport,
    VectorHit,
    VectorStore,
    cosine_to_score,
    normalize_rows,
)

WORD = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder(Embedder):
    def __init__(self, model_name: Optional[str] = None, dimension: int = 256, **options: Any) -> None:
        super().__init__(model_name or f"hashing-{dimension}", **options)
        self._dimension = int(dimension)

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


class MemoryVectorStore(VectorStore):
    capabilities = frozenset()

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._docs: dict[str, StoredDocument] = {}
        self._matrix: Optional[tuple[list[str], np.ndarray]] = None
        self._lock = threading.RLock()

    def upsert(self, documents: Sequence[StoredDocument]) -> None:
        with self._lock:
            for doc in documents:
                doc.vector = normalize_rows(doc.vector)[0]
                self._docs[doc.id] = doc
            self._matrix = None

    def _snapshot(self) -> tuple[list[str], np.ndarray]:
        with self._lock:
            if self._matrix is None:
                ids = list(self._docs)
                dim = len(next(iter(self._docs.values())).vector) if ids else 0
                matrix = np.stack([self._docs[i].vector for i in ids]) if ids else np.zeros((0, dim), np.float32)
                self._matrix = (ids, matrix)
            return self._matrix

    def search(self, vector: np.ndarray, k: int, *, models: Optional[Sequence[str]] = None) -> list[VectorHit]:
        ids, matrix = self._snapshot()
        if not ids:
            return []
        sims = matrix @ normalize_rows(vector)[0]
        if models:
            wanted = {m.lower() for m in models}
            mask = np.array([self._docs[i].model in wanted for i in ids])
            sims = np.where(mask, sims, -np.inf)
        order = np.argsort(-sims)[:k]
        hits = []
        for row in order:
            if not np.isfinite(sims[row]):
                break
            doc = self._docs[ids[row]]
            hits.append(VectorHit(doc.id, doc.model, doc.pk, float(cosine_to_score(sims[row])), doc.text,
                                  dict(doc.metadata)))
        return hits

    def delete(self, ids: Sequence[str]) -> None:
        with self._lock:
            for doc_id in ids:
                self._docs.pop(doc_id, None)
            self._matrix = None

    def iter_ids(self, models: Optional[Sequence[str]] = None) -> Iterator[str]:
        wanted = {m.lower() for m in models} if models else None
        with self._lock:
            ids = [i for i, d in self._docs.items() if wanted is None or d.model in wanted]
        return iter(ids)

    def count(self, models: Optional[Sequence[str]] = None) -> int:
        return sum(1 for _ in self.iter_ids(models))

    def content_hashes(self, ids: Sequence[str]) -> dict[str, str]:
        return {i: self._docs[i].content_hash for i in ids if i in self._docs}

    def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        return {i: self._docs[i].vector for i in ids if i in self._docs}


class SyncTransport(Transport):
    def submit(self, changes: Iterable[tuple[str, str, Any]]) -> None:
        from dgs_core.indexing import apply_changes

        apply_changes(changes)
