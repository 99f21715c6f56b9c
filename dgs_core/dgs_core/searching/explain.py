"""Why a hit matched: the configured path (``album__artist__name``) and the snippet of its best chunk.

Each stored entry records where each path's values lie in its text (:mod:`dgs_core.indexing.chunking`). For a
hit, the path whose value shares the most query words (stemmed, diacritics ignored) explains it; when
none shares a word, as with a query by meaning, the value closest to the query by the search embedder
does (``EXPLAIN_MATCHES = "semantic"``; value vectors are kept in the embedding cache, so repeated
values such as genre names are embedded once). Explanations are computed for a whole page of hits at
once, and only when asked for.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Optional

import numpy as np

from dgs_core.base import Embedder, normalize_rows
from dgs_core.indexing.cache import embed_with_cache, get_embedding_cache
from dgs_core.indexing.chunking import SPANS_KEY, decode_spans

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


@lru_cache(maxsize=1)
def _stemmer():
    import snowballstemmer

    return snowballstemmer.stemmer("english")


def _fold(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", word.lower()) if not unicodedata.combining(c))


def stems(text: str) -> list[str]:
    """The stemmed, lower-cased, diacritics-free words of ``text``."""
    return _stemmer().stemWords([_fold(w) for w in _WORD.findall(text)])


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


def _values(hit: Any) -> list[tuple[str, str]]:
    """``(path, value text)`` of each located span of the hit's chunk, in text order, distinct."""
    text = hit.text or ""
    found = {(path, text[s:e]) for s, e, path in decode_spans(hit.metadata.get(SPANS_KEY)) if e > s}
    return sorted(found, key=lambda pv: text.find(pv[1]))


def explain(hits: Sequence[Any], query: str, how: str, embedder: Optional[Embedder] = None,
            query_vector: Optional[np.ndarray] = None) -> list[Optional[Match]]:
    """A :class:`Match` per hit (objects with ``text`` and ``metadata``), or ``None`` when ``how`` is "off".

    ``query_vector`` stands in for the query by meaning (a similar-search has no query words).
    """
    if how == "off":
        return [None] * len(hits)
    query_stems = set(stems(query))
    matches: list[Optional[Match]] = []
    undecided: dict[int, list[tuple[str, str]]] = {}
    for i, hit in enumerate(hits):
        values = _values(hit)
        scored = [(len(query_stems.intersection(stems(v))), n, path, v) for n, (path, v) in enumerate(values)]
        best = max(scored, key=lambda s: (s[0], -s[1]), default=None)
        if best and best[0] > 0:
            matches.append(Match(best[2], _snippet(best[3], query_stems)))
            continue
        matches.append(Match(values[0][0] if values else None, _snippet(values[0][1] if values else hit.text or "",
                                                                        query_stems)))
        if values and len(values) > 1:
            undecided[i] = values[:MAX_VALUES_PER_HIT]
    if undecided and how == "semantic" and embedder is not None:
        if query_vector is None:
            query_vector = embedder.embed_query(query)
        texts = list(dict.fromkeys(v for values in undecided.values() for _, v in values))
        vectors, _ = embed_with_cache(embedder, texts, get_embedding_cache())
        unit = normalize_rows(query_vector)[0]
        for i, values in undecided.items():
            similarity = [float(normalize_rows(vectors[v])[0] @ unit) for _, v in values]
            path, value = values[int(np.argmax(similarity))]
            matches[i] = Match(path, _snippet(value, query_stems))
    return matches
