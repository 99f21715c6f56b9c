"""The Python API: search, index, delete, get_similar, Searcher — validation, hits, hydration."""

import logging

import pytest
from django.test import override_settings

import dgs_core
from dgs_core import engine
from dgs_core.exceptions import BackendUnavailable, InvalidParameterError, UnknownModelError
from dgs_core.indexing.indexer import reindex_queryset
from dgs_core.searching.query import SearchQuery
from tests.factories import make_catalogue
from tests.shop.models import Product, Review

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue():
    data = make_catalogue()
    for product in Product.objects.all():
        dgs_core.index(product)
    for review in Review.objects.all():
        dgs_core.index(review)
    return data


def test_search_finds_objects_by_their_related_text(catalogue):
    hits = dgs_core.search("rugged outdoor gear", models=["shop.Product"], limit=5)
    assert hits[0].model == "shop.product" and hits[0].pk == catalogue["phone"].pk
    assert isinstance(hits[0].pk, int)
    assert 0.0 <= hits[-1].score <= hits[0].score <= 1.0
    assert "Rugged outdoor gear" in hits[0].text and "Acme X1 smartphone" in hits[0].text


def test_models_accepts_a_string_a_comma_list_or_a_list(catalogue):
    assert {h.model for h in dgs_core.search("battery", models="shop.Review")} == {"shop.review"}
    both = {h.model for h in dgs_core.search("battery", models="shop.Review, shop.Product")}
    assert both == {"shop.review", "shop.product"}
    assert {h.model for h in dgs_core.search("battery", models=["shop.review"])} == {"shop.review"}


def test_unknown_model_is_an_error_not_an_empty_result(catalogue):
    with pytest.raises(UnknownModelError, match="'auth.User' is not configured.*shop.Product"):
        dgs_core.search("x", models=["auth.User"])


@pytest.mark.parametrize("kwargs, parameter", [
    ({"limit": 0}, "limit"), ({"limit": -3}, "limit"), ({"limit": True}, "limit"), ({"limit": "ten"}, "limit"),
    ({"limit": 2.5}, "limit"), ({"min_score": 1.5}, "min_score"), ({"min_score": "high"}, "min_score"),
    ({"min_score": -0.1}, "min_score"), ({"offset": -1}, "offset"), ({"models": 5}, "models"),
])
def test_bad_arguments_name_the_parameter(catalogue, kwargs, parameter):
    with pytest.raises(InvalidParameterError) as excinfo:
        dgs_core.search("phone", **kwargs)
    assert excinfo.value.parameter == parameter and f"'{parameter}'" in str(excinfo.value)


def test_query_is_required_and_bounded(catalogue):
    for query in ("", "   ", None):
        with pytest.raises(InvalidParameterError, match="'q' is required"):
            dgs_core.search(query)
    with pytest.raises(InvalidParameterError, match="longer than 1024"):
        dgs_core.search("x" * 1025)


def test_limit_above_maximum_is_clamped_with_a_warning(catalogue, caplog):
    with caplog.at_level(logging.WARNING, logger="dgs_core.search"):
        hits = dgs_core.search("phone", limit=5000)
    assert len(hits) == 3 and "above the maximum of 1000" in caplog.text


def test_min_score_and_offset(catalogue):
    everything = dgs_core.search("smartphone camera", limit=10)
    assert [h.id for h in dgs_core.search("smartphone camera", limit=10, offset=1)] == [h.id for h in everything[1:]]
    threshold = everything[0].score - 0.0001
    strict = dgs_core.search("smartphone camera", min_score=threshold)
    assert [h.id for h in strict] == [everything[0].id]


def test_objects_are_loaded_with_one_query_per_model(catalogue, django_assert_num_queries):
    hits = dgs_core.search("phone hose battery", limit=10)
    assert {h.model for h in hits} == {"shop.product", "shop.review"}
    with django_assert_num_queries(2):
        objects = [h.object for h in hits]
    assert {type(o).__name__ for o in objects} == {"Product", "Review"}
    assert all(o.pk == h.pk for o, h in zip(objects, hits, strict=True))


def test_deleted_rows_hydrate_as_none(catalogue):
    hits = dgs_core.search("garden hose", models="shop.Product", limit=1)
    Product.objects.filter(pk=hits[0].pk).delete()
    assert hits[0].object is None


def test_get_similar_reuses_the_stored_vector_and_skips_the_object(catalogue):
    embedder = engine.get_embedder()
    calls = []
    original = embedder.embed_documents
    embedder.embed_documents = lambda texts: calls.append(texts) or original(texts)
    similar = dgs_core.get_similar(catalogue["phone"], limit=5)
    assert calls == [] and catalogue["phone"].pk not in [h.pk for h in similar]
    assert [h.pk for h in similar] == [catalogue["hose"].pk]


def test_get_similar_of_an_unindexed_object_embeds_it_on_the_fly(catalogue):
    new = Product.objects.create(name="Acme X2 smartphone", description="A phone with a great camera")
    assert dgs_core.get_similar(new, limit=1)[0].pk == catalogue["phone"].pk


def test_index_and_delete_round_trip(catalogue):
    hose = catalogue["hose"]
    dgs_core.delete(hose)
    assert hose.pk not in [h.pk for h in dgs_core.search("garden hose", models="shop.Product")]
    dgs_core.index(hose)
    assert dgs_core.search("garden hose", models="shop.Product")[0].pk == hose.pk
    with pytest.raises(UnknownModelError):
        dgs_core.index(catalogue["acme"])


def test_reindex_queryset_after_update(catalogue):
    Product.objects.filter(pk=catalogue["hose"].pk).update(name="Watering can")
    stats = reindex_queryset(Product.objects.filter(pk=catalogue["hose"].pk))
    assert stats.indexed == 1
    assert dgs_core.search("watering can", models="shop.Product")[0].pk == catalogue["hose"].pk


def test_searcher_class_and_override_settings_take_effect(catalogue):
    assert dgs_core.Searcher().search("phone", models="shop.Product", limit=1)[0].model == "shop.product"
    with override_settings(GRAPH_SEARCH={"MODELS": [{"model": "shop.Review", "fields": ["title"]}],
                                         "VECTOR_STORE": {"BACKEND": "memory", "OPTIONS": {"LOCATION": "other"}},
                                         "EMBEDDINGS": {"default": {"BACKEND": "hashing"}}}):
        assert engine.get_embedder().dimension == 256  # the new profile, not the cached one
        with pytest.raises(UnknownModelError):
            dgs_core.search("phone", models="shop.Product")
        assert dgs_core.search("brilliant") == []  # another, empty store


def test_backend_failures_become_backend_unavailable(catalogue):
    store = engine.get_vector_store()
    store.search = lambda *a, **k: (_ for _ in ()).throw(ConnectionError("store down"))
    with pytest.raises(BackendUnavailable, match="ConnectionError: store down"):
        dgs_core.search("phone")


def test_another_embedder_on_a_filled_store_fails_clearly_and_check_warns():
    from django.core import checks

    from dgs_core.exceptions import EmbedderMismatchError

    engine.get_vector_store().live.record_embedder("hashing:other-model", 256)
    data = make_catalogue()
    with pytest.raises(EmbedderMismatchError, match="build_search_index --rebuild"):
        dgs_core.index(data["hose"])
    with pytest.raises(EmbedderMismatchError, match="'hashing:other-model' \\(256 dimensions\\)"):
        dgs_core.search("phone")
    assert [m.id for m in checks.run_checks() if m.id.startswith("dgs.")] == ["dgs.W004"]


@pytest.mark.parametrize("limit", ["²", "٣", "1e3", " "])
def test_a_limit_that_is_not_ascii_digits_is_an_invalid_parameter(limit):
    with pytest.raises(InvalidParameterError, match="'limit' must be a positive integer"):
        SearchQuery.build("phone", limit=limit)


def test_a_limit_of_thousands_of_digits_is_clamped_like_any_limit_above_the_maximum(caplog):
    # As in the REST API: never int() over thousands of digits, and the contract's clamp to 1,000.
    assert SearchQuery.build("phone", limit="9" * 5000).limit == 1000
    assert "above the maximum of 1000" in caplog.text
