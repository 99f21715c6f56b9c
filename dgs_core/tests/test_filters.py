"""Filters: declared filter_fields stored as metadata, Django-style lookups, clear errors."""

import pytest
from django.test import override_settings

import dgs_core
from dgs_core.exceptions import InvalidParameterError
from dgs_core.filters import Condition, matches
from tests.shop.models import Category, Product, Tag

pytestmark = pytest.mark.django_db

SETTINGS = {
    "MODELS": [
        {"model": "shop.Product", "fields": ["name", "description"],
         "filter_fields": ["category__name", "price", "in_stock", "tags__name", "brand"]},
        {"model": "shop.Review", "fields": ["title", "body"]},
    ],
    "VECTOR_STORE": {"BACKEND": "memory"},
    "EMBEDDINGS": {"default": {"BACKEND": "hashing"}},
}


@pytest.fixture
def products():
    with override_settings(GRAPH_SEARCH=SETTINGS):
        phones, garden = Category.objects.create(name="Phones"), Category.objects.create(name="Garden")
        red = Tag.objects.create(name="red")
        made = []
        for i in range(40):
            product = Product.objects.create(name=f"red phone model {i}", price=100 + i, in_stock=i % 2 == 0,
                                             category=phones if i < 30 else garden)
            if i % 3 == 0:
                product.tags.add(red)
            made.append(product)
        dgs_core.reindex_queryset(Product.objects.all())
        yield made


def pks(hits):
    return {h.pk for h in hits}


def test_lookups_on_own_related_and_many_valued_fields(products):
    expected = {p.pk for p in products if p.category.name == "Garden"}
    assert pks(dgs_core.search("red phone", limit=50, filters={"category__name": "Garden"})) == expected
    cheap = {p.pk for p in products if p.price < 105}
    assert pks(dgs_core.search("red phone", limit=50, filters={"price__lt": 105})) == cheap
    assert pks(dgs_core.search("red phone", limit=50, filters={"price__gte": "135"})) == {
        p.pk for p in products if p.price >= 135}
    tagged = {p.pk for i, p in enumerate(products) if i % 3 == 0}
    assert pks(dgs_core.search("red phone", limit=50, filters={"tags__name": "red"})) == tagged
    assert pks(dgs_core.search("red phone", limit=50, filters={"tags__name__isnull": True})) == {
        p.pk for p in products} - tagged
    assert pks(dgs_core.search("red phone", limit=50, filters={"in_stock": "false"})) == {
        p.pk for p in products if not p.in_stock}
    both = dgs_core.search("red phone", limit=50, filters={"in_stock": True, "category__name__in": ["Garden", "X"]})
    assert pks(both) == {p.pk for p in products if p.in_stock and p.category.name == "Garden"}


def test_k_hits_come_back_whenever_k_match(products):
    hits = dgs_core.search("red phone model 3", limit=5, filters={"category__name": "Garden"})
    assert len(hits) == 5 and all(h.object.category.name == "Garden" for h in hits)


def test_models_without_the_filter_field_cannot_match(products):
    assert {h.model for h in dgs_core.search("red", limit=50, filters={"in_stock": False})} == {"shop.product"}


@pytest.mark.parametrize("filters, message", [
    ({"colour": "red"}, "Unknown filter 'colour'.*declared: brand, category__name, in_stock, price, tags__name"),
    ({"price__gte": "cheap"}, "'cheap' is not a valid value"),
    ({"in_stock__isnull": "maybe"}, "must be true or false"),
    ({"price__in": []}, "non-empty list"),
    ({"price": None}, "use price__isnull"),
    ({"name__contains": "x"}, "Unknown filter 'name__contains'.*lookups: exact, in, lt, lte, gt, gte, isnull"),
])
def test_bad_filters_name_the_filter_and_the_fix(products, filters, message):
    with pytest.raises(InvalidParameterError, match=message) as excinfo:
        dgs_core.search("red", filters=filters)
    assert excinfo.value.parameter == "filters"


def test_reference_semantics():
    meta = {"genre": "Rock", "ms": 200, "tags": ["a", "b"], "none": None, "empty": []}
    assert matches(meta, [Condition("genre", "exact", "Rock"), Condition("ms", "gte", 200)])
    assert not matches(meta, [Condition("ms", "gt", 200)])
    assert matches(meta, [Condition("tags", "in", ("b", "z"))]) and not matches(meta, [Condition("tags", "exact", "z")])
    assert matches(meta, [Condition("none", "isnull", True), Condition("empty", "isnull", True)])
    assert not matches(meta, [Condition("genre", "lt", 5)])  # a string is never less than a number
