"""Filters: each lookup's Qdrant condition, and agreement with dgs's reference semantics on awkward data."""

import datetime

import pytest
from qdrant_client import models as qm

from dgs_core.exceptions import InvalidParameterError
from dgs_core.filters import Condition, matches
from dgs_core.testing.vector_store import PRODUCT, make_doc, random_vectors
from dgs_qdrant.filters import filter_path, filterable, payload_schemas, translate
from dgs_qdrant.store import QdrantVectorStore

DIMENSION = 8


def key(field):
    return f"filter_values.{field}"


# -- what each lookup becomes ----------------------------------------------------------------------


@pytest.mark.parametrize(("value", "condition"), [
    ("Rock", qm.FieldCondition(key=key("f"), match=qm.MatchValue(value="Rock"))),
    (7, qm.FieldCondition(key=key("f"), match=qm.MatchValue(value=7))),
    (True, qm.FieldCondition(key=key("f"), match=qm.MatchValue(value=True))),
    # Qdrant matches no float exactly; an equality range finds 2.5 (and an integer 3 for 3.0, as Python's == does).
    (2.5, qm.FieldCondition(key=key("f"), range=qm.Range(gte=2.5, lte=2.5))),
], ids=["str", "int", "bool", "float"])
def test_exact_becomes_a_match_or_an_equality_range(value, condition):
    assert translate([Condition("f", "exact", value)]) == [condition]


def test_in_groups_values_by_the_type_qdrant_matches_them_with():
    [condition] = translate([Condition("f", "in", ("a", 1, "b", 2, 1.5, False, None))])
    assert condition == qm.Filter(should=[
        qm.FieldCondition(key=key("f"), match=qm.MatchAny(any=["a", "b"])),
        qm.FieldCondition(key=key("f"), match=qm.MatchAny(any=[1, 2])),
        qm.FieldCondition(key=key("f"), range=qm.Range(gte=1.5, lte=1.5)),
        qm.FieldCondition(key=key("f"), match=qm.MatchValue(value=False)),
    ])
    assert translate([Condition("f", "in", ("Jazz", "Blues"))]) == [
        qm.FieldCondition(key=key("f"), match=qm.MatchAny(any=["Jazz", "Blues"]))
    ]


def test_conditions_no_document_can_meet_translate_to_none():
    assert translate([Condition("f", "in", (None,))]) is None
    assert translate([Condition("g", "exact", "x"), Condition("f", "lt", None)]) is None


@pytest.mark.parametrize("lookup", ["lt", "lte", "gt", "gte"])
def test_comparisons_of_numbers_dates_and_datetimes(lookup):
    assert translate([Condition("n", lookup, 200000)]) == [
        qm.FieldCondition(key=key("n"), range=qm.Range(**{lookup: 200000}))
    ]
    assert translate([Condition("d", lookup, "2024-02-29")]) == [
        qm.FieldCondition(key=key("d"), range=qm.DatetimeRange(**{lookup: datetime.date(2024, 2, 29)}))
    ]
    moment = datetime.datetime(2024, 2, 29, 13, 5, 1, 250000, tzinfo=datetime.timezone.utc)
    assert translate([Condition("t", lookup, moment.isoformat())]) == [
        qm.FieldCondition(key=key("t"), range=qm.DatetimeRange(**{lookup: moment}))
    ]


def test_comparing_text_is_refused_with_the_filter_named():
    with pytest.raises(InvalidParameterError, match="'name__lt'.*not text like 'M'") as raised:
        translate([Condition("name", "lt", "M")])
    assert raised.value.parameter == "filters"


def test_isnull_is_qdrants_is_empty_or_its_negation():
    empty = qm.IsEmptyCondition(is_empty=qm.PayloadField(key=key("f")))
    assert translate([Condition("f", "isnull", True)]) == [empty]
    assert translate([Condition("f", "isnull", False)]) == [qm.Filter(must_not=[empty])]


def test_unknown_lookup_is_an_error():
    with pytest.raises(ValueError, match="unknown lookup 'contains'"):
        translate([Condition("f", "contains", "x")])


def test_paths_address_the_filterable_copy_and_quote_odd_keys():
    assert filter_path("album__artist__name") == "filter_values.album__artist__name"
    assert filter_path("odd.key") == 'filter_values."odd.key"'


def test_filterable_copy_drops_none_from_lists_only():
    metadata = {"tags": [None, "a", None], "none": [None], "empty": [], "title": None, "n": 3}
    assert filterable(metadata) == {"tags": ["a"], "none": [], "empty": [], "title": None, "n": 3}


def test_payload_index_kinds_follow_the_values():
    rows = [
        {"genre": "Rock", "ms": 1000, "price": 0.99, "mixed_numbers": 1, "flag": True, "day": "2024-01-31",
         "tags": ["a", None], "mixed": "x", "nothing": None},
        {"genre": "Jazz", "ms": 2000, "price": 1.5, "mixed_numbers": 2.5, "flag": False,
         "day": "2024-02-01T10:00:00+00:00", "tags": [], "mixed": 3},
    ]
    assert payload_schemas(rows) == {
        key("genre"): qm.PayloadSchemaType.KEYWORD,
        key("ms"): qm.PayloadSchemaType.INTEGER,
        key("price"): qm.PayloadSchemaType.FLOAT,
        key("mixed_numbers"): qm.PayloadSchemaType.FLOAT,
        key("flag"): qm.PayloadSchemaType.BOOL,
        key("day"): qm.PayloadSchemaType.DATETIME,
        key("tags"): qm.PayloadSchemaType.KEYWORD,
    }


# -- agreement with dgs_core.filters.matches, inside the engine ----------------------------------------

DAYS = ["2023-12-31", "2024-01-01", "2024-01-15", "2024-02-29", "2024-03-01"]


def awkward_metadata(i):
    """Values of every shape core stores: dates and datetimes as ISO text, integral floats, lists with None."""
    metadata = {
        "released": None if i % 7 == 0 else DAYS[i % 5],
        "updated": f"2024-01-0{1 + i % 9}T{i % 24:02d}:30:00+00:00",
        "rating": [1.0, 2.5, 3.0, 4.25][i % 4],
        "plays": i * 10,
        "explicit": i % 3 == 0,
        "code": f"c{i % 4}",
        "tags": [[None], [None, "live"], [], ["live", "remaster"], ["demo"]][i % 5],
    }
    if i % 11 == 0:
        del metadata["tags"]  # a missing key counts as null
    return metadata


CASES = [
    [Condition("rating", "exact", 3.0)],
    [Condition("rating", "in", (2.5, 4.25))],
    [Condition("rating", "gt", 2.5)],
    [Condition("plays", "exact", 40)],
    [Condition("plays", "lte", 100), Condition("plays", "gt", 30)],
    [Condition("explicit", "exact", True)],
    [Condition("code", "in", ("c1", "c3", None))],
    [Condition("released", "gte", "2024-01-15")],
    [Condition("released", "lt", "2024-01-01")],
    [Condition("released", "isnull", True)],
    [Condition("updated", "gt", "2024-01-05T12:30:00+00:00")],
    [Condition("updated", "lte", "2024-01-03T00:30:00+00:00")],
    [Condition("tags", "isnull", True)],
    [Condition("tags", "isnull", False)],
    [Condition("tags", "exact", "live")],
    [Condition("tags", "in", ("remaster", "demo"))],
    [Condition("tags", "isnull", False), Condition("released", "lte", "2024-01-15"),
     Condition("explicit", "exact", False)],
]


@pytest.fixture(scope="module")
def awkward_store():
    store = QdrantVectorStore(path=":memory:", collection_name="filters")
    vectors = random_vectors(80, DIMENSION, seed=3)
    docs = [make_doc(PRODUCT, i, vectors[i], metadata=awkward_metadata(i)) for i in range(80)]
    store.upsert(docs)
    yield store, docs
    store.drop()
    store.close()


@pytest.mark.parametrize("conditions", CASES, ids=lambda cs: "+".join(f"{c.field}__{c.lookup}" for c in cs))
def test_search_agrees_with_the_reference_on_awkward_values(awkward_store, conditions):
    store, docs = awkward_store
    expected = {d.id for d in docs if matches(d.metadata, conditions)}
    assert expected, "every case should select something, or it proves little"
    hits = store.search(random_vectors(1, DIMENSION, seed=4)[0], len(docs), filters=conditions)
    assert {h.id for h in hits} == expected
