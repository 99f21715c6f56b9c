"""The REST endpoints of CONTRACT §4: shapes, validation, errors and the row-level search_queryset hook."""

import logging

import pytest
from django.test import override_settings

from dgs_core import engine
from tests.factories import make_catalogue
from tests.rest_support import graph_search, index_everything, restricted_catalogue
from tests.shop.models import Product

pytestmark = pytest.mark.django_db
SEARCH = "/api/search/"


@pytest.fixture
def catalogue():
    data = make_catalogue()
    index_everything()
    return data


def test_search_answers_the_contract_shape(client, catalogue):
    response = client.get(SEARCH, {"q": "rugged outdoor gear", "models": "shop.Product", "limit": 5})
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"query", "mode", "results", "total"}
    assert body["query"] == "rugged outdoor gear" and body["total"] == len(body["results"]) == 2
    assert body["mode"] == "hybrid"  # the default with a store that has keyword search
    first = body["results"][0]
    assert set(first) == {"model", "pk", "score", "text", "matched"}
    # The brand's description and the category's name both hold every query word; the earlier one explains.
    assert first["matched"]["path"] == "brand__description" and "Rugged outdoor gear" in first["matched"]["snippet"]
    assert first["model"] == "shop.product" and first["pk"] == catalogue["phone"].pk
    assert "Rugged outdoor gear" in first["text"] and 0 <= first["score"] <= 1


@pytest.mark.parametrize("mode", ["vector", "keyword", "hybrid"])
def test_mode_chooses_the_legs(client, catalogue, mode):
    body = client.get(SEARCH, {"q": "rugged outdoor gear", "mode": mode}).json()
    assert body["mode"] == mode and body["results"]
    assert body["results"][0]["pk"] == catalogue["phone"].pk


def test_an_unknown_mode_is_a_400_naming_it(client, catalogue):
    response = client.get(SEARCH, {"q": "phone", "mode": "fuzzy"})
    assert response.status_code == 400 and "'mode'" in response.json()["error"]


def test_min_score_is_applied_and_echoed(client, catalogue):
    scores = [hit["score"] for hit in client.get(SEARCH, {"q": "smartphone camera"}).json()["results"]]
    threshold = round((scores[0] + scores[1]) / 2, 4)
    body = client.get(SEARCH, {"q": "smartphone camera", "min_score": threshold}).json()
    assert body["min_score_applied"] == threshold
    assert [hit["score"] for hit in body["results"]] == [s for s in scores if s >= threshold]


def test_offset_pages_through_the_ranking(client, catalogue):
    everything = client.get(SEARCH, {"q": "phone", "limit": 10}).json()["results"]
    page = client.get(SEARCH, {"q": "phone", "limit": 1, "offset": 1}).json()["results"]
    assert page == everything[1:2]


@pytest.mark.parametrize("params, message", [
    ({"limit": "0"}, "'limit' must be a positive integer."),
    ({"limit": "-3"}, "'limit' must be a positive integer."),
    ({"limit": "true"}, "'limit' must be a positive integer."),
    ({"limit": "2.5"}, "'limit' must be a positive integer."),
    ({"limit": "ten"}, "'limit' must be a positive integer."),
    ({"limit": "²"}, "'limit' must be a positive integer."),
    ({"limit": ""}, "'limit' must be a positive integer."),
    ({"min_score": "1.5"}, "'min_score' must be a number between 0 and 1."),
    ({"min_score": "-0.1"}, "'min_score' must be a number between 0 and 1."),
    ({"min_score": "nan"}, "'min_score' must be a number between 0 and 1."),
    ({"min_score": "high"}, "'min_score' must be a number between 0 and 1."),
    ({"offset": "-1"}, "'offset' must be a non-negative integer."),
    ({"offset": "10001"}, "'offset' must be at most 10000."),
    ({"models": "auth.User"}, "'models': 'auth.User' is not configured"),
    ({"models": "<script>"}, "'models' must be a comma-separated list of model labels"),
    ({"models": ""}, "(leave it out to search every model)"),
    ({"models": "shop.Product,"}, "'models' must be a comma-separated list of model labels"),
    ({"no_such_filter": "1"}, "Unknown filter 'no_such_filter'"),
])
def test_bad_parameters_are_400_naming_the_parameter(client, catalogue, params, message):
    response = client.get(SEARCH, {"q": "phone", **params})
    assert response.status_code == 400
    assert message in response.json()["error"]


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "   "}])
def test_q_is_required(client, catalogue, params):
    response = client.get(SEARCH, params)
    assert response.status_code == 400 and response.json() == {"error": "'q' is required: give the text to search for."}


def test_over_long_q_is_rejected_without_echoing_it(client, catalogue):
    query = "secret-" + "x" * 1100
    response = client.get(SEARCH, {"q": query})
    assert response.status_code == 400
    assert "'q' is longer than 1024 characters" in response.json()["error"]
    assert b"secret-" not in response.content


def test_limit_above_maximum_is_clamped_with_a_warning(client, catalogue, caplog):
    with caplog.at_level(logging.WARNING, logger="dgs_core.search"):
        response = client.get(SEARCH, {"q": "phone", "limit": "9" * 5000})
    assert response.status_code == 200 and response.json()["total"] == 3
    assert "'limit' of 1000000000 is above the maximum of 1000; using 1000." in caplog.text


def test_filters_are_passed_to_search(client):
    make_catalogue()
    with override_settings(GRAPH_SEARCH=graph_search(
        models_options={"shop.Product": {"filter_fields": ["in_stock", "category__name"]}}
    )):
        index_everything()
        phones = client.get(SEARCH, {"q": "phone", "category__name": "Phones"}).json()
        assert [hit["text"].split(".")[0] for hit in phones["results"]] == ["Acme X1 smartphone"]
        bad = client.get(SEARCH, {"q": "phone", "in_stock": "perhaps"})
        assert bad.status_code == 400 and "'in_stock'" in bad.json()["error"]


def test_similar_answers_neighbours_never_the_object(client, catalogue):
    phone = catalogue["phone"]
    response = client.get(f"{SEARCH}similar/shop.Product/{phone.pk}/", {"limit": 5})
    assert response.status_code == 200
    body = response.json()
    assert body["model"] == "shop.product" and body["pk"] == phone.pk
    assert [hit["pk"] for hit in body["results"]] == [catalogue["hose"].pk] and body["total"] == 1


@pytest.mark.parametrize("path", [
    "similar/auth.User/1/", "similar/shop.Product/999999/", "similar/shop.Product/not-a-pk/",
    "similar/shop.Account/1/", "similar/shop.Product/99999999999999999999999999/", "similar/nonsense/1/",
])
def test_similar_is_404_alike_for_unconfigured_models_and_unknown_objects(client, catalogue, django_user_model, path):
    django_user_model.objects.create_user("someone", password="pw")  # auth.User 1 exists: no oracle either way
    response = client.get(SEARCH + path)
    assert response.status_code == 404
    assert response.json() == {"error": "No searchable object matches this model and primary key."}


def test_similar_validates_limit(client, catalogue):
    response = client.get(f"{SEARCH}similar/shop.Product/{catalogue['phone'].pk}/", {"limit": "0"})
    assert response.status_code == 400 and response.json()["error"] == "'limit' must be a positive integer."


def test_similar_limit_is_clamped_to_its_own_lower_ceiling(client, catalogue, caplog):
    """Issue 18 point 8: similar/ costs a nearest-neighbour scan of `limit` per request; MAX_SIMILAR_LIMIT (default
    100) bounds it below search's MAX_RESULTS_LIMIT (1000)."""
    for n in range(6):
        Product.objects.create(name=f"Acme X{n + 2} smartphone", description="A phone")
    index_everything()
    url = f"{SEARCH}similar/shop.Product/{catalogue['phone'].pk}/"
    assert client.get(url, {"limit": "1000"}).json()["total"] == 7  # under the default ceiling: every other product
    with override_settings(GRAPH_SEARCH=graph_search(MAX_SIMILAR_LIMIT=3)), caplog.at_level(logging.WARNING):
        clamped = client.get(url, {"limit": "1000"}).json()
        assert clamped["total"] == 3 and client.get(url).json()["total"] == 3  # the default limit (20) too
        assert client.get(SEARCH, {"q": "smartphone", "limit": "1000"}).json()["total"] >= 8  # search keeps its own
    assert "'limit' of 1000 is above the maximum of 3; using 3." in caplog.text
    schema = client.get(f"{SEARCH}schema/").json()["paths"]["/api/search/similar/{model}/{pk}/"]["get"]
    assert "MAX_SIMILAR_LIMIT (100)" in next(p for p in schema["parameters"] if p["name"] == "limit")["description"]


def test_a_similar_ceiling_below_one_is_a_check_error():
    from django.core import checks

    with override_settings(GRAPH_SEARCH=graph_search(MAX_SIMILAR_LIMIT=0)):
        errors = [m for m in checks.run_checks(tags=["dgs"]) if m.id == "dgs.E002"]
    assert len(errors) == 1 and "MAX_SIMILAR_LIMIT" in errors[0].msg


def test_conversation_and_stream_are_404_while_off(client, catalogue):
    assert client.post(f"{SEARCH}conversation/", {"query": "x"}, content_type="application/json").status_code == 404
    assert client.delete(f"{SEARCH}conversation/?conversation_id=abc").status_code == 404
    for response in (client.get(f"{SEARCH}stream/", {"q": "x"}), client.post(f"{SEARCH}stream/", {"q": "x"})):
        assert response.status_code == 404 and "STREAMING" in response.json()["error"]


@pytest.mark.parametrize("body, message", [
    ("{not json", "Malformed JSON body"),
    ("[1, 2]", "The JSON body must be an object"),
    ('{"query": 5}', "'query' is required"),
    ('{"query": "x", "limit": false}', "'limit' must be a positive integer."),
    ('{"query": "x", "models": [3]}', "'models' must be a comma-separated list"),
])
def test_malformed_json_bodies_are_400_saying_so(client, catalogue, body, message):
    with override_settings(GRAPH_SEARCH=graph_search(CONVERSATIONAL={"ENABLED": True})):
        response = client.post(f"{SEARCH}conversation/", body, content_type="application/json")
    assert response.status_code == 400 and message in response.json()["error"]


def test_wrong_method_is_405_json(client, catalogue):
    response = client.post(SEARCH, {"q": "phone"})
    assert response.status_code == 405 and response["Allow"] == "GET, HEAD, OPTIONS"
    assert "POST is not allowed" in response.json()["error"]


def test_unreachable_store_or_embedder_is_503(client, catalogue, monkeypatch, caplog):
    def refused(*args, **kwargs):
        raise ConnectionRefusedError("[Errno 111] Connection refused")

    monkeypatch.setattr(engine.get_vector_store(), "search", refused)
    response = client.get(SEARCH, {"q": "phone"})
    assert response.status_code == 503
    assert "Search is unavailable right now" in response.json()["error"] and "Connection refused" in caplog.text
    # A fixed body naming a request id, the same in the header; the engine's text only in the log, under that id.
    request_id = response["X-Request-ID"]
    assert response.json() == {"error": "Search is unavailable right now; please try again later.",
                               "request_id": request_id}
    assert any(request_id in r.getMessage() and "Connection refused" in r.getMessage() for r in caplog.records)
    monkeypatch.undo()
    monkeypatch.setattr(engine.get_embedder(), "embed_query", refused)
    assert client.get(SEARCH, {"q": "phone"}).status_code == 503


def test_an_unexpected_error_is_logged_and_never_a_500(client, catalogue, monkeypatch, caplog):
    monkeypatch.setattr("dgs_core.rest.views.Searcher.run", lambda *a, **k: 1 / 0)
    response = client.get(SEARCH, {"q": "phone"})
    assert response.status_code == 503 and response.json()["error"].startswith("Search failed unexpectedly")
    assert "ZeroDivisionError" in caplog.text
    assert response.json()["request_id"] == response["X-Request-ID"] in caplog.text


def test_cache_busters_and_tracking_parameters_are_not_filters(client, catalogue):
    plain = client.get(SEARCH, {"q": "phone"}).json()
    tagged = client.get(SEARCH, {"q": "phone", "_": "1712345678", "utm_source": "newsletter", "utm_campaign": "x",
                                 "fbclid": "abc", "gclid": "def", "format": "json"})
    assert tagged.status_code == 200 and tagged.json() == plain


def test_a_browser_gets_the_browsable_api(client, catalogue):
    response = client.get(SEARCH, {"q": "rock"}, HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "Django REST framework" in page and "Semantic search over the configured models." in page
    assert "&quot;query&quot;: &quot;rock&quot;" in page  # the JSON body, shown in the page
    refused = client.get(SEARCH, {"q": "rock", "limit": "0"}, HTTP_ACCEPT="text/html")
    assert refused.status_code == 400 and "positive integer" in refused.content.decode()


def test_the_docs_page_serves_swagger_ui_from_installed_packages(client):
    from django.contrib.staticfiles import finders

    response = client.get(f"{SEARCH}docs/")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    bundle = "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
    assert f"/static/{bundle}" in page and finders.find(bundle)
    assert '"/api/search/schema/"' in page
    assert "https://" not in page and "cdn" not in page.lower()


# -- the search_queryset hook -------------------------------------------------------------------

HOOKED = {"shop.Product": {"search_queryset": "tests.shop.search.visible_products"}}


def test_hidden_rows_never_appear_and_limit_is_still_filled(client):
    restricted_catalogue(hidden=12, visible=5)
    unrestricted = client.get(SEARCH, {"q": "Acme red smartphone", "models": "shop.Product", "limit": 3}).json()
    assert not Product.objects.get(pk=unrestricted["results"][0]["pk"]).in_stock  # hidden rows rank first
    with override_settings(GRAPH_SEARCH=graph_search(models_options=HOOKED)):
        body = client.get(SEARCH, {"q": "Acme red smartphone", "models": "shop.Product", "limit": 3}).json()
        everything = client.get(SEARCH, {"q": "Acme red smartphone", "models": "shop.Product", "limit": 50}).json()
    assert body["total"] == 3
    shown = Product.objects.filter(pk__in=[hit["pk"] for hit in everything["results"]])
    assert all(product.in_stock for product in shown) and len(shown) == 5


def test_superusers_see_what_the_hook_lets_them(client, django_user_model):
    restricted_catalogue(hidden=3, visible=2)
    client.force_login(django_user_model.objects.create_superuser("root", password="pw"))
    with override_settings(GRAPH_SEARCH=graph_search(models_options=HOOKED)):
        body = client.get(SEARCH, {"q": "Acme red smartphone", "models": "shop.Product", "limit": 10}).json()
    assert body["total"] == 5


def test_similar_applies_the_hook_to_the_object_and_its_neighbours(client):
    restricted_catalogue(hidden=4, visible=3)
    hidden = Product.objects.filter(in_stock=False).first()
    visible = Product.objects.filter(in_stock=True).first()
    with override_settings(GRAPH_SEARCH=graph_search(models_options=HOOKED)):
        assert client.get(f"{SEARCH}similar/shop.Product/{hidden.pk}/").status_code == 404
        body = client.get(f"{SEARCH}similar/shop.Product/{visible.pk}/", {"limit": 2}).json()
    assert body["total"] == 2
    assert all(Product.objects.get(pk=hit["pk"]).in_stock for hit in body["results"])


def test_one_search_embeds_its_query_once_with_explanations(client, catalogue, monkeypatch):
    # A paid embedder bills each call: the pipeline's embedding also explains the hits by meaning.
    embedder = engine.get_search_embedder(engine.get_vector_store())
    calls = []
    embed_query = embedder.embed_query
    monkeypatch.setattr(embedder, "embed_query", lambda text: calls.append(text) or embed_query(text))
    body = client.get(SEARCH, {"q": "cellular telephone", "mode": "vector"}).json()
    # No hit shares a word with the query: the semantic path ran and explained the one whose category is close
    # in meaning ("Phones"); hits with no value above the match floor have no invented reason.
    explained = [hit["matched"] for hit in body["results"] if hit["matched"]]
    assert [m["path"] for m in explained] == ["category__name"] and len(body["results"]) > len(explained)
    assert calls == ["cellular telephone"]
