"""Filters evaluated on the faiss store's per-field columns agree with dgs_core.filters.matches, and stay
current as other instances (processes) write, replace, delete and compact."""

import itertools

import numpy as np
import pytest

from dgs_core.base import document_id
from dgs_core.filters import Condition, matches
from dgs_core.testing.vector_store import PRODUCT, make_doc, random_vectors
from dgs_faiss.store import FaissVectorStore

DIMENSION = 16
#: Values of every JSON type core stores, including ones Python compares across types (True == 1 == 1.0).
MIXED_VALUES = [None, True, False, 0, 1, 2, 1.0, 1.5, -3, "1", "Rock", "rock", "Jazz", "", "Ünïcödé"]
CONDITION_VALUES = [True, False, 0, 1, 1.5, 2, "1", "Rock", "Jazz", "", "R", "Ünïcödé"]


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "vectors")


def mixed_metadata(rng):
    """A random value, list (possibly empty or holding None), nested object or missing key."""
    shape = rng.randint(6)
    if shape == 0:
        return {}
    if shape == 1:
        return {"field": [MIXED_VALUES[i] for i in rng.randint(len(MIXED_VALUES), size=rng.randint(4))]}
    if shape == 2:
        return {"field": {"nested": 1}}
    return {"field": MIXED_VALUES[rng.randint(len(MIXED_VALUES))]}


def all_conditions():
    for lookup, value in itertools.product(("exact", "lt", "lte", "gt", "gte"), CONDITION_VALUES):
        yield Condition("field", lookup, value)
    yield Condition("field", "in", ("Rock", 1, False))
    yield Condition("field", "in", ("", "1"))
    yield Condition("field", "isnull", True)
    yield Condition("field", "isnull", False)


def test_every_lookup_over_mixed_types_matches_the_reference(path):
    """Values in all three places a column keeps them: read when it was built (sorted), merged into the
    sorted arrays by a large later write, and recent single writes (the unsorted buffer)."""
    rng = np.random.RandomState(3)
    vectors = random_vectors(3500, DIMENSION, seed=3)
    docs = [make_doc(PRODUCT, i, vectors[i], metadata=mixed_metadata(rng)) for i in range(3500)]
    store = FaissVectorStore(path=path)
    store.upsert(docs[:2000])
    assert store.search(vectors[0], 1, filters=[Condition("field", "exact", "Rock")])  # builds the column
    store.upsert(docs[2000:3200])  # more than the buffer holds: merged into the sorted arrays
    for start in range(3200, 3500, 30):
        store.upsert(docs[start : start + 30])
        store.search(vectors[0], 1, filters=[Condition("field", "exact", "Rock")])
    for condition in all_conditions():
        expected = {d.id for d in docs if matches(d.metadata, [condition])}
        found = {h.id for h in store.search(vectors[0], len(docs), filters=[condition])}
        assert found == expected, condition
    store.close()


def test_a_filtering_instance_sees_what_another_instance_writes(path):
    reader, writer = FaissVectorStore(path=path), FaissVectorStore(path=path)
    vectors = random_vectors(40, DIMENSION, seed=4)
    genres = ["Rock"] * 20 + ["Jazz"] * 20
    writer.upsert([make_doc(PRODUCT, i, vectors[i], metadata={"genre": genres[i]}) for i in range(40)])
    rock = [Condition("genre", "exact", "Rock")]
    assert len(reader.search(vectors[0], 40, filters=rock)) == 20  # builds the reader's genre column

    writer.upsert([make_doc(PRODUCT, 25, vectors[25], metadata={"genre": "Rock"})])  # Jazz -> Rock
    writer.upsert([make_doc(PRODUCT, 3, vectors[3], metadata={"genre": "Blues"})])  # Rock -> Blues
    writer.upsert([make_doc(PRODUCT, 99, vectors[0], metadata={"genre": ["Rock", "Pop"]})])  # new
    writer.delete([document_id(PRODUCT, 4)])

    expected = {document_id(PRODUCT, i) for i in [*range(5, 20), 0, 1, 2, 25, 99]}
    assert {h.id for h in reader.search(vectors[0], 40, filters=rock)} == expected
    assert [h.id for h in reader.search(vectors[3], 5, filters=[Condition("genre", "exact", "Blues")])] == [
        document_id(PRODUCT, 3)
    ]
    reader.close()
    writer.close()


def test_filters_stay_right_after_a_compaction_renumbers_the_slots(path):
    store, other_process = FaissVectorStore(path=path), FaissVectorStore(path=path)
    vectors = random_vectors(1500, DIMENSION, seed=5)
    store.upsert([make_doc(PRODUCT, i, vectors[i], metadata={"n": i}) for i in range(1500)])
    at_least = [Condition("n", "gte", 1400)]
    assert len(other_process.search(vectors[0], 1500, filters=at_least)) == 100

    store.delete([document_id(PRODUCT, i) for i in range(1200)])  # dead rows outnumber live ones: compacts

    for instance in (store, other_process):
        found = instance.search(vectors[1450], 1500, filters=at_least)
        assert sorted(int(h.pk) for h in found) == list(range(1400, 1500))
        assert found[0].id == document_id(PRODUCT, 1450)
    store.close()
    other_process.close()
