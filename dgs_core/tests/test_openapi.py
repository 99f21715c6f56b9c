"""The OpenAPI schema describes every endpoint, and schemathesis finds no 5xx and no non-conforming response."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.modes import GenerationMode

from dgs_core.rest.serializers import SearchParameters, is_ignored
from tests.factories import make_catalogue
from tests.rest_support import graph_search, index_everything

FILTERED = {"shop.Product": {"filter_fields": ["in_stock", "price", "category__name"]}}


@pytest.mark.django_db
def test_schema_lists_every_endpoint_parameter_and_error(client):
    schema = client.get("/api/search/schema/").json()
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    assert set(paths) == {"/api/search/", "/api/search/similar/{model}/{pk}/", "/api/search/conversation/",
                          "/api/search/stream/", "/api/search/schema/"}
    search = paths["/api/search/"]["get"]
    assert {p["name"] for p in search["parameters"]} == {"q", "models", "limit", "min_score", "offset", "mode"}
    q = next(p for p in search["parameters"] if p["name"] == "q")
    assert q["required"] and q["schema"]["maxLength"] == 1024
    assert set(search["responses"]) == {"200", "400", "401", "403", "429", "503"}
    similar = paths["/api/search/similar/{model}/{pk}/"]["get"]
    assert next(p for p in similar["parameters"] if p["name"] == "model")["schema"]["enum"] == [
        "shop.Product", "shop.Review"]
    assert "404" in similar["responses"]
    assert set(paths["/api/search/conversation/"]) == {"post", "delete"}
    assert set(paths["/api/search/stream/"]) == {"get", "post"}
    assert schema["components"]["schemas"]["Error"]["required"] == ["error"]


@pytest.mark.django_db
def test_schema_lists_declared_filters(client, settings):
    settings.GRAPH_SEARCH = graph_search(models_options=FILTERED)
    parameters = {p["name"]: p["schema"] for p in client.get("/api/search/schema/").json()["paths"]["/api/search/"]
                  ["get"]["parameters"]}
    assert parameters["price__gte"] == {"type": "number"}
    assert parameters["in_stock"] == {"type": "string", "enum": ["True", "False", "1", "0"]}
    assert parameters["category__name__in"]["type"] == "array"
    assert parameters["category__name__isnull"] == {"type": "boolean"}


OPERATIONS = [
    ("/api/search/", "GET"), ("/api/search/similar/{model}/{pk}/", "GET"), ("/api/search/conversation/", "POST"),
    ("/api/search/conversation/", "DELETE"), ("/api/search/stream/", "GET"), ("/api/search/stream/", "POST"),
]
# Every operation in both modes; the schema endpoint takes no input, so there is nothing invalid to send it.
CASES = [(path, method, mode) for path, method in OPERATIONS for mode in GenerationMode] + [
    ("/api/search/schema/", "GET", GenerationMode.POSITIVE)]


@pytest.fixture
def api_schema(live_server, transactional_db, settings):
    settings.GRAPH_SEARCH = graph_search(models_options=FILTERED)
    make_catalogue()
    index_everything()
    return schemathesis.openapi.from_url(f"{live_server.url}/api/search/schema/")


def filters_fit_models(case):
    """The one rule the schema cannot state: filtering on a field the requested ``models`` lack is a 400."""
    query = case.query or {}
    models = query.get("models")
    if isinstance(models, str):
        models = models.split(",")
    search_parameters = SearchParameters().fields
    filtered = any(name not in search_parameters and not is_ignored(name) for name in query)
    return not (filtered and models and "shop.Product" not in models)


@pytest.mark.parametrize("path, method, mode", CASES)
def test_api_conforms_to_its_schema(api_schema, path, method, mode):
    """Schemathesis against a live server, bounded to 30 examples per operation and mode: no 5xx, every
    status, content type and body as documented, valid input accepted and invalid input rejected."""
    operation = api_schema[path][method]
    cases = operation.as_strategy(generation_mode=mode)
    if mode is GenerationMode.POSITIVE:
        cases = cases.filter(filters_fit_models)

    @given(case=cases)
    @settings(max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def check(case):
        case.call_and_validate()

    check()
