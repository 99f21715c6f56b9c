"""Traversal: every kind of relation, discovery rules, weights, privacy and batched queries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dgs_core.conf import ModelConfig
from dgs_core.indexing.indexer import build_documents
from dgs_core.indexing.traversal import FieldPathError, TraversalPlan, configured_paths, resolve_path
from tests.factories import make_catalogue
from tests.shop.models import Account, Brand, Category, Ingredient, Product, Recipe, Review, Step, Tag

pytestmark = pytest.mark.django_db


def sections_of(instance, **options):
    config = ModelConfig(label=instance._meta.label, **options)
    plan = TraversalPlan(config)
    fetched = plan.queryset().get(pk=instance.pk)
    return {s.path: s.values for s in plan.sections(fetched)}


def test_paths_across_every_relation_kind():
    data = make_catalogue()
    got = sections_of(data["phone"], fields=(
        "name", "category__name", "category__parent__name", "tags__name", "brand__description",
        "reviews__title", "manual__body",
    ))
    assert got == {
        "name": ["Acme X1 smartphone"],
        "category__name": ["Phones"],                      # FK
        "category__parent__name": ["Electronics"],         # FK of FK (self-referencing)
        "tags__name": ["red", "5G"],                       # M2M
        "brand__description": ["Rugged outdoor gear"],
        "reviews__title": ["Brilliant"],                   # reverse FK
        "manual__body": ["Hold the power button for three seconds"],  # reverse O2O
    }


def test_reverse_many_to_many_and_deep_reverse_paths():
    data = make_catalogue()
    assert sections_of(data["red"], fields=("name", "products__name", "products__reviews__body")) == {
        "name": ["red"],
        "products__name": ["Acme X1 smartphone"],
        "products__reviews__body": ["Battery lasts two days"],
    }
    electronics = Category.objects.get(name="Electronics")
    assert sections_of(electronics, fields=("children__products__brand__name",)) == {
        "children__products__brand__name": ["Acme"]
    }


def test_nullable_links_give_no_text_and_no_error():
    data = make_catalogue()
    got = sections_of(data["hose"], fields=("name", "brand__name", "tags__name", "manual__body",
                                            "category__parent__name"))
    assert got == {"name": ["Garden hose"]}


def test_unknown_paths_name_the_part_and_the_choices():
    with pytest.raises(FieldPathError, match=r"shop.Category has no field 'nme'.*name"):
        resolve_path(Product, "category__nme")
    with pytest.raises(FieldPathError, match="is not a relation"):
        resolve_path(Product, "name__foo")


def test_secrets_are_never_indexed_even_when_named():
    with pytest.raises(FieldPathError, match="secret"):
        resolve_path(Account, "password")
    with pytest.raises(FieldPathError, match="secret"):
        resolve_path(Product, "brand__api_token")


def test_all_fields_takes_text_fields_only_and_keeps_private_data_out():
    account = Account.objects.create(display_name="Ann", password="pbkdf2$x", email="ann@example.com",
                                     phone="+1 555 0100", recovery_secret="s3", bio="Likes hiking")
    assert sections_of(account, all_fields=True) == {"display_name": ["Ann"], "bio": ["Likes hiking"]}
    # Named explicitly, contact data is allowed.
    assert sections_of(account, fields=("email",)) == {"email": ["ann@example.com"]}


def test_all_fields_honours_weights_and_zero_drops():
    data = make_catalogue()
    got = sections_of(data["phone"], all_fields=True, weight_fields={"internal_note": 0.0, "name": 2.0})
    assert "internal_note" not in got
    assert got["name"] == ["Acme X1 smartphone"]
    assert got["condition"] == ["Brand new"]  # choices are indexed by their label
    assert "price" not in got and "in_stock" not in got  # numbers and flags are not text


def test_discovery_follows_relations_with_guards():
    paths = configured_paths(ModelConfig(label="shop.Product", fields=("name",), follow_relations=True,
                                         relation_depth=2), Product)
    assert "category__name" in paths and "category__parent__name" in paths
    assert "tags__name" in paths and "brand__description" in paths and "reviews__body" in paths
    assert "manual__body" in paths
    assert not any(p.startswith("reviews__author") for p in paths)  # the user model is never entered
    assert not any("email" in p or "token" in p or "password" in p for p in paths)
    assert not any(p.startswith("tags__products") for p in paths)  # cycle guard: Product is on the route
    depth1 = configured_paths(ModelConfig(label="shop.Product", fields=("name",), follow_relations=True,
                                          relation_depth=1), Product)
    assert "category__name" in depth1 and "category__parent__name" not in depth1


def test_related_items_are_capped():
    tag = Tag.objects.create(name="sale")
    for i in range(30):
        Product.objects.create(name=f"Item {i:02d}").tags.add(tag)
    got = sections_of(tag, fields=("products__name",), max_related_items=5)
    assert len(got["products__name"]) == 5


def test_relation_ending_path_uses_str_once():
    data = make_catalogue()
    assert sections_of(data["phone"], fields=("brand", "tags")) == {"brand": ["Acme"], "tags": ["red", "5G"]}


def test_related_rows_come_in_meta_ordering_else_primary_key_order_whatever_the_database_returns():
    recipe = Recipe.objects.create(name="Pesto")
    basil, garlic, oil = (Ingredient.objects.create(name=n) for n in ("basil", "garlic", "Olive oil"))
    recipe.ingredients.add(oil)  # link rows in another order than the primary keys
    recipe.ingredients.add(garlic, basil)
    for stage, text in ((1, "Wash"), (3, "add oil"), (2, "Chop"), (3, "Blend")):
        Step.objects.create(recipe=recipe, stage=stage, text=text)
    config = {"fields": ("name", "ingredients__name", "steps__text"), "max_related_items": 3}
    assert sections_of(recipe, **config) == {
        "name": ["Pesto"],
        "ingredients__name": ["basil", "garlic", "Olive oil"],  # no Meta.ordering: primary key (not "O" < "b")
        # Meta.ordering ["-stage", "text"] by code point, not by the column's collation; the cap keeps the first
        # three in that order
        "steps__text": ["Blend", "add oil", "Chop"],
    }
    # Same on the way back (reverse M2M) and in filter values, which read the same rows.
    plan = TraversalPlan(ModelConfig(label="shop.Ingredient", fields=("name",), filter_fields=("recipes__name",)))
    Recipe.objects.create(name="Aglio e olio").ingredients.add(garlic)
    Recipe.objects.create(name="Bruschetta").ingredients.add(garlic)
    assert plan.filter_values(plan.queryset().get(pk=garlic.pk)) == {
        "recipes__name": ["Pesto", "Aglio e olio", "Bruschetta"]}


def _queries_to_build(n_products: int) -> int:
    category = Category.objects.create(name="Bulk", parent=Category.objects.create(name="Root"))
    brand = Brand.objects.create(name="Bulkco", description="Makes many things")
    tags = [Tag.objects.create(name=f"t{i}") for i in range(3)]
    for i in range(n_products):
        product = Product.objects.create(name=f"Product {i}", category=category, brand=brand)
        product.tags.set(tags)
        Review.objects.create(product=product, title=f"Review {i}", body="Fine")
    plan = TraversalPlan(ModelConfig(label="shop.Product", fields=(
        "name", "category__name", "category__parent__name", "brand__description", "tags__name", "reviews__title")))
    with CaptureQueriesContext(connection) as ctx:
        docs = [d for batch in plan.iter_batches(batch_size=1000) for d in build_documents(plan, batch)]
    assert len(docs) == n_products and all("Bulkco" not in d.text and "Makes many" in d.text for d in docs)
    return len(ctx.captured_queries)


def test_query_count_grows_with_paths_not_rows():
    small = _queries_to_build(10)
    Product.objects.all().delete()
    assert _queries_to_build(1000) == small
    assert small == 3  # products with their FK chain joined, then one prefetch each for tags and reviews
