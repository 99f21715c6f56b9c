"""Filters pushed into Chroma's ``where`` agree with :func:`dgs_core.filters.matches` on awkward values.

The contract covers the everyday cases; these add ISO dates and datetimes (string ranges), strings longer
than the sortable prefix, unicode, ints beyond 2**53, -0.0, infinities, NaN, booleans against numbers,
lists with None items, empty lists and missing keys.
"""

import math
import random

import pytest

from dgs_chroma.metadata import STRING_PREFIX_BYTES
from dgs_chroma.store import ChromaVectorStore
from dgs_core.base import document_id
from dgs_core.filters import Condition, matches
from dgs_core.testing.vector_store import PRODUCT, at_cosines, make_doc, random_vectors

DIMENSION = 16
DOCS = 60
#: Longer than the sortable prefix, so that titles differ only after it.
LONG_PREFIX = "Symphony No. 9 in D minor, Op. 125 “Choral”: movement "
assert len(LONG_PREFIX.encode()) > STRING_PREFIX_BYTES

NUMBERS = [0, -0.0, 1, 1.0, 2.5, -3, 7, 2**60, 2**60 + 1, math.inf, -math.inf, math.nan, True, False, None]
WORDS = ["", "Abba", "abba", "Ábba", "日本", "Zappa", "Zappa\u00e9", LONG_PREFIX + "a", LONG_PREFIX + "b",
         LONG_PREFIX + "b2", LONG_PREFIX + "日本"]


def date(rng):
    return f"20{rng.randint(18, 22)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def corpus_metadata(i, rng):
    metadata = {
        "released": None if i % 7 == 0 else date(rng),
        "recorded": [f"{date(rng)}T{rng.randint(0, 23):02d}:30:00.{rng.randint(0, 999999):06d}+00:00"
                     for _ in range(rng.randint(0, 3))],
        "title": rng.choice(WORDS),
        "n": rng.choice(NUMBERS),
        "scores": [rng.choice(NUMBERS) for _ in range(rng.randint(0, 3))],
        "flags": [rng.choice([True, False, None]) for _ in range(rng.randint(0, 2))],
    }
    return {k: v for k, v in metadata.items() if rng.random() > 0.1}  # some keys missing


def bounds(field, docs, rng):
    """Values that occur (ties) and values that do not, of every type the field holds."""
    seen = []
    for doc in docs:
        value = doc.metadata.get(field)
        seen.extend(value if isinstance(value, list) else [value])
    seen = [v for v in seen if v is not None]
    extra = {"released": ["2020-06-15", "2020", "2019-12-31T23:59"], "recorded": ["2020-06-15T12:30:00"],
             "title": [LONG_PREFIX + "b1", LONG_PREFIX, "Abb", "a"]}.get(field, [1.5, -10, 2**60 + 2, 0.0])
    return rng.sample(seen, min(5, len(seen))) + extra


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    rng = random.Random(42)
    vectors = random_vectors(DOCS, DIMENSION, seed=42)
    docs = [make_doc(PRODUCT, i, vectors[i], metadata=corpus_metadata(i, rng)) for i in range(DOCS)]
    store = ChromaVectorStore(path=str(tmp_path_factory.mktemp("filters") / "chroma"))
    store.upsert(docs)
    yield store, docs
    store.close()


@pytest.mark.parametrize("field", ["released", "recorded", "title", "n", "scores", "flags"])
def test_every_lookup_agrees_with_the_reference(corpus, field):
    store, docs = corpus
    rng = random.Random(field)
    values = bounds(field, docs, rng)
    conditions = [Condition(field, "isnull", True), Condition(field, "isnull", False)]
    conditions += [Condition(field, lookup, v) for v in values for lookup in ("exact", "lt", "lte", "gt", "gte")]
    # Not NaN: `x in (nan,)` is true in Python when x is that very object, which no stored copy can be.
    comparable = [v for v in values if v == v]
    conditions += [Condition(field, "in", tuple(rng.sample(comparable, 3))) for _ in range(4)]

    wrong = []
    for condition in conditions:
        expected = {d.id for d in docs if matches(d.metadata, [condition])}
        hits = store.search(random_vectors(1, DIMENSION, seed=1)[0], DOCS, filters=[condition])
        if {h.id for h in hits} != expected:
            wrong.append(f"{condition}: {len(hits)} hits, {len(expected)} expected")
    assert not wrong, "\n".join(wrong)


def test_k_hits_come_back_when_long_strings_tie_on_their_sortable_prefix(tmp_path):
    """Titles that differ only after the prefix Chroma can compare: the nearest pass the ``where`` but not
    the check against the reference, and the store asks Chroma for more until it has ``k`` real matches."""
    query = random_vectors(1, DIMENSION, seed=3)[0]
    near = at_cosines(query, [0.99 - i * 0.001 for i in range(40)], seed=4)
    far = at_cosines(query, [0.3 - i * 0.01 for i in range(5)], seed=5)
    store = ChromaVectorStore(path=str(tmp_path / "chroma"))
    store.upsert([make_doc(PRODUCT, i, v, metadata={"title": LONG_PREFIX + "b"}) for i, v in enumerate(near)])
    store.upsert([make_doc(PRODUCT, 100 + i, v, metadata={"title": LONG_PREFIX + "d"}) for i, v in enumerate(far)])

    hits = store.search(query, 5, filters=[Condition("title", "gte", LONG_PREFIX + "c")])
    assert [h.id for h in hits] == [document_id(PRODUCT, 100 + i) for i in range(5)]
    store.close()
