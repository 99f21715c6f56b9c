"""Field-aware ranking of the lexical modes: rows holding a field value the query names whole come first.

BM25 and reciprocal rank fusion score words, not values: for "bossa nova" a track titled "Bossa" (a short
text sharing one word) outranks the tracks whose genre *is* Bossa Nova, and for "tracks on the album Let
There Be Rock" tracks named "Rock" mix with the album's tracks. Every stored entry records where each
configured path's values lie in its text (:mod:`dgs_core.indexing.chunking`), so the candidates of the
keyword and hybrid modes can be ranked by how the query matched their values, on every store alike:

* a value whose words (stemmed, diacritics and case ignored) occur in the query as a phrase covers those
  query words; a hit's *coverage* is the share of the query's words its values cover ("Bossa Nova" as a
  genre covers all of "bossa nova", a title "Bossa" half; "Let There Be Rock" as an album title covers
  four of the eight words of "tracks on the album Let There Be Rock", a genre "Rock" one);
* a query that occurs as a phrase inside a longer value (a catalogue code "RV 269" in a track's title, "metal"
  in the genre "Heavy Metal") counts :data:`INSIDE_COVERAGE`: below a value equal to the query, above
  partial covers.

Hits whose coverage reaches ``HYBRID["FIELD_MATCH_MIN_COVERAGE"]`` (0.3: one word of a four-word
description does not count) move ahead of the rest, the highest coverage first; ties and the others keep
the order of the mode's ranking. Scores stay in [0, 1] and never rise down the list: a promoted hit gets
the best score among the hits it moved ahead of.

The threshold and the rule were chosen on the judged Chinook queries (``bench/quality.py``,
``docs/search_quality.md``): queries by meaning rarely name a value whole and keep their order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from functools import lru_cache

from dgs_core.base import VectorHit
from dgs_core.indexing.chunking import SPANS_KEY, decode_spans, shown_text
from dgs_core.searching.explain import stems

#: The coverage of a hit one of whose values holds the whole query as a phrase (but is longer than it).
INSIDE_COVERAGE = 0.9


@lru_cache(maxsize=8192)
def _words(value: str) -> tuple[str, ...]:
    return tuple(stems(value))


def _positions(words: tuple[str, ...], phrase: tuple[str, ...]) -> list[int]:
    """Where ``phrase`` starts in ``words`` as a contiguous run."""
    n = len(phrase)
    return [i for i in range(len(words) - n + 1) if words[i : i + n] == phrase] if n else []


def coverage(hit: VectorHit, query_words: tuple[str, ...]) -> float:
    """The share of ``query_words`` covered by whole values of ``hit`` (see the module's docstring)."""
    if not query_words:
        return 0.0
    text = shown_text(hit.text or "", hit.metadata)  # the spans are relative to the shown text
    wanted = set(query_words)
    covered: set[int] = set()
    inside = False
    for value_text in {text[start:end] for start, end, _path in decode_spans(hit.metadata.get(SPANS_KEY))}:
        value = _words(value_text)
        if wanted.isdisjoint(value):
            continue
        for at in _positions(query_words, value):
            covered.update(range(at, at + len(value)))
        inside = inside or (len(value) > len(query_words) and bool(_positions(value, query_words)))
    share = len(covered) / len(query_words)
    return max(share, INSIDE_COVERAGE) if inside and share < 1.0 else share


def promote_field_matches(hits: Sequence[VectorHit], query: str, min_coverage: float) -> list[VectorHit]:
    """``hits`` (best first) with those whose values cover at least ``min_coverage`` of ``query`` moved ahead,
    highest coverage first, otherwise in their order; scores made non-increasing down the list."""
    query_words = tuple(stems(query))
    tiers = [coverage(hit, query_words) for hit in hits]
    tiers = [tier if tier >= min_coverage and tier > 0 else 0.0 for tier in tiers]
    if not any(tiers):
        return list(hits)
    order = sorted(range(len(hits)), key=lambda i: (-tiers[i], i))
    ranked = [hits[i] for i in order]
    best_below = 0.0
    for i in range(len(ranked) - 1, -1, -1):
        best_below = max(best_below, ranked[i].score)
        if ranked[i].score < best_below:
            ranked[i] = dataclasses.replace(ranked[i], score=best_below)
    return ranked
