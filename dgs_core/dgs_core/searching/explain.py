"""Why a hit matched: the configured path (``album__artist__name``) and the snippet of its best chunk.

Each stored entry records where each path's values lie in its text (:mod:`dgs_core.indexing.chunking`). For a
hit, the path whose value shares the most query words (stemmed, diacritics ignored) explains it; when
none shares a word, as with a query by meaning, the value closest to the query by the search embedder
does (``EXPLAIN_MATCHES = "semantic"``; value vectors are kept in the embedding cache, so repeated
values such as genre names are embedded once), but only when its cosine similarity reaches the match
floor: the nearest value of a hit for a nonsense query is no reason. A hit with no such value has no
``matched``, and a result list none of whose hits matched is "no close match". The floor is the
embedder's calibrated :attr:`~dgs_core.base.Embedder.match_floor` unless ``EXPLAIN_MIN_SIMILARITY`` sets
one (``bench/match_floor.py`` measures where a model's floor belongs). Explanations are computed for a
whole page of hits at once, and only when asked for.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Optional

import numpy as np

from dgs_core.base import Embedder, normalize_rows
from dgs_core.indexing.cache import embed_with_cache, get_embedding_cache
from dgs_core.indexing.chunking import SPANS_KEY, decode_spans, shown_text

#: Longest snippet; a longer value is cut around its first query word.
SNIPPET_CHARS = 200
#: At most this many distinct values of one hit are compared by meaning.
MAX_VALUES_PER_HIT = 12
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Match:
    """The path whose value matched (``None`` when the text could not be traced to one) and a snippet."""

    path: Optional[str]
    snippet: str

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "snippet": self.snippet}


#: One stemmer per thread: a snowballstemmer stemmer keeps the word it works on in itself, so two threads sharing
#: one (concurrent requests of a threaded server) corrupt each other's words (IndexError, wrong stems).
_local = threading.local()


def _stemmer():
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        import snowballstemmer

        stemmer = _local.stemmer = snowballstemmer.stemmer("english")
    return stemmer


def _fold(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", word.lower()) if not unicodedata.combining(c))


@lru_cache(maxsize=65_536)
def _stem(word: str) -> str:
    """One word's stem, lower-cased and without diacritics. Cached: the same names, genres and titles recur in
    every answer, and the pure-Python stemmer made stemming most of the cost of explaining 1,000 hits."""
    return _stemmer().stemWord(_fold(word))


def stems(text: str) -> list[str]:
    """The stemmed, lower-cased, diacritics-free words of ``text``."""
    return [_stem(w) for w in _WORD.findall(text)]


def _snippet(value: str, query_stems: set[str]) -> str:
    value = " ".join(value.split())
    if len(value) <= SNIPPET_CHARS:
        return value
    start = 0
    for word in _WORD.finditer(value):
        if stems(word.group())[0] in query_stems:
            start = max(0, word.start() - SNIPPET_CHARS // 4)
            break
    cut = value[start : start + SNIPPET_CHARS].rsplit(" ", 1)[0]
    return ("…" if start else "") + cut + "…"


def _values(hit: Any) -> list[tuple[Optional[str], str]]:
    """``(path, value text)`` of each located span of the hit's chunk, in text order, distinct; the whole
    text under path ``None`` when it records no spans."""
    text = shown_text(hit.text or "", hit.metadata)  # the spans are relative to the shown text
    found = {(path, text[s:e]) for s, e, path in decode_spans(hit.metadata.get(SPANS_KEY)) if e > s}
    if not found:
        return [(None, text)] if text.strip() else []
    return sorted(found, key=lambda pv: text.find(pv[1]))


def closest_values(hits: Sequence[Any], query: str, embedder: Embedder,
                   query_vector: Optional[np.ndarray] = None) -> list[Optional[tuple[Optional[str], str, float]]]:
    """Per hit, ``(path, value, cosine similarity)`` of its value closest to the query by meaning (``None``
    for a hit without text). Also what ``bench/match_floor.py`` calibrates floors with."""
    candidates = {i: _values(hit)[:MAX_VALUES_PER_HIT] for i, hit in enumerate(hits)}
    texts = list(dict.fromkeys(v for values in candidates.values() for _, v in values))
    if not texts:
        return [None] * len(hits)
    if query_vector is None:
        query_vector = embedder.embed_query(query)
    vectors, _ = embed_with_cache(embedder, texts, get_embedding_cache())
    unit = normalize_rows(query_vector)[0]
    closest: list[Optional[tuple[Optional[str], str, float]]] = []
    for i in range(len(hits)):
        scored = [(path, value, float(normalize_rows(vectors[value])[0] @ unit)) for path, value in candidates[i]]
        closest.append(max(scored, key=lambda s: s[2], default=None))
    return closest


def explain(hits: Sequence[Any], query: str, how: str, embedder: Optional[Embedder] = None,
            query_vector: Optional[np.ndarray] = None, floor: Optional[float] = None) -> list[Optional[Match]]:
    """A :class:`Match` per hit (objects with ``text`` and ``metadata``); ``None`` for a hit no value of which
    shares a query word or (``how`` "semantic") reaches the match ``floor`` by meaning, and for every hit when
    ``how`` is "off".

    ``query_vector`` stands in for the query by meaning (a similar-search has no query words); ``floor``
    (``EXPLAIN_MIN_SIMILARITY``) defaults to the embedder's calibrated ``match_floor``.
    """
    if how == "off":
        return [None] * len(hits)
    query_stems = set(stems(query))
    matches: list[Optional[Match]] = []
    undecided: list[int] = []
    for i, hit in enumerate(hits):
        scored = [(len(query_stems.intersection(stems(v))), n, path, v) for n, (path, v) in enumerate(_values(hit))]
        best = max(scored, key=lambda s: (s[0], -s[1]), default=None)
        if best and best[0] > 0:
            matches.append(Match(best[2], _snippet(best[3], query_stems)))
        else:
            matches.append(None)
            undecided.append(i)
    if undecided and how == "semantic" and embedder is not None:
        floor = embedder.match_floor if floor is None else floor
        closest = closest_values([hits[i] for i in undecided], query, embedder, query_vector)
        for i, found in zip(undecided, closest, strict=True):
            if found is not None and found[2] >= floor:
                matches[i] = Match(found[0], _snippet(found[1], query_stems))
    return matches
