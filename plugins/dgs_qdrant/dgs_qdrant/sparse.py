"""Texts as the sparse vectors of keyword search: one analyser for documents and queries; Qdrant scores.

Qdrant ranks a sparse query by its dot product with each stored sparse vector. The collection's sparse
vector is created with ``Modifier.IDF``, so Qdrant also multiplies each query term by the term's inverse
document frequency, which it keeps up to date itself as points are written and deleted. What is left to
the client is BM25's other half, the analysed terms and their saturated frequencies:

- **Terms**: Unicode words (``\\w+``), lower-cased, diacritics folded ("Beyoncé" is "beyonce"), stemmed by
  the Snowball English stemmer ("guitars" is "guitar"). A term's index in the vector is the unsigned
  32-bit MurmurHash3 of its stem: the same in every process, version and machine (Python's ``hash()``
  is not).
- **Document weights**: BM25's term-frequency saturation ``tf * (K1 + 1) / (tf + K1 * (1 - B + B * length
  / AVERAGE_LENGTH))``. The corpus's true average length would change every stored weight whenever a
  document is written, so a fixed average is assumed, as Qdrant's own BM25 (fastembed's ``Qdrant/bm25``)
  does; it only sets how much long documents are damped.
- **Query weights**: 1 for each distinct term, so a document's score is the sum of ``idf(term) *
  weight`` over the query terms it holds, which is BM25.

Changing the analyser or the constants changes the vectors written from then on but not those already
stored: a rebuild (``build_search_index --rebuild``) makes them agree again.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import Counter
from functools import lru_cache
from typing import Optional

import mmh3
import snowballstemmer
from qdrant_client import models as qm

from dgs_core.lexical import query_terms

#: BM25's term-frequency saturation and length normalisation, the usual defaults (Lucene, fastembed).
K1, B = 1.2, 0.75
#: The document length (in words) assumed as the corpus average; fastembed's ``Qdrant/bm25`` default.
AVERAGE_LENGTH = 256

_WORD = re.compile(r"\w+")
# Snowball stemmers keep the word being stemmed in the object, so each thread needs its own.
_stemmers = threading.local()


def fold(text: str) -> str:
    """``text`` lower-cased, without diacritics."""
    text = text.lower()
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


@lru_cache(maxsize=1 << 16)
def term_index(word: str) -> int:
    """The sparse-vector index of a folded ``word``: the hash of its English stem."""
    stemmer = getattr(_stemmers, "english", None)
    if stemmer is None:
        stemmer = _stemmers.english = snowballstemmer.stemmer("english")
    return mmh3.hash(stemmer.stemWord(word), signed=False)


def document_vector(text: str) -> Optional[qm.SparseVector]:
    """The terms of a document with their saturated frequencies; ``None`` for a text without words."""
    counts = Counter(term_index(word) for word in _WORD.findall(fold(text)))
    if not counts:
        return None
    length_norm = K1 * (1 - B + B * sum(counts.values()) / AVERAGE_LENGTH)
    indices = sorted(counts)
    return qm.SparseVector(
        indices=indices, values=[counts[i] * (K1 + 1) / (counts[i] + length_norm) for i in indices]
    )


def query_vector(query: str) -> Optional[qm.SparseVector]:
    """The distinct terms of raw user text, each of weight 1; ``None`` when it has no words."""
    indices = sorted({term_index(word) for word in query_terms(fold(query))})
    return qm.SparseVector(indices=indices, values=[1.0] * len(indices)) if indices else None
