"""Streaming search (CONTRACT §4) in ndjson and sse over GET and POST, the event hub, and clients that leave early."""

import json
import logging
import threading

import pytest
from django.test import override_settings

from dgs_core.searching.events import cancel_event, hub
from tests.factories import make_catalogue
from tests.rest_support import graph_search, index_everything, restricted_catalogue
from tests.shop.models import Product

pytestmark = pytest.mark.django_db
STREAM = "/api/search/stream/"
# The test store has keyword search, so searches are hybrid by default: one event per leg.
PLAIN_EVENTS = ["query_received", "vector_search_completed", "keyword_search_completed", "completed", "results",
                "end"]


@pytest.fixture
def catalogue():
    data = make_catalogue()
    with override_settings(GRAPH_SEARCH=streaming()):
        index_everything()
        yield data


@pytest.fixture
def events():
    received = []
    unsubscribe = hub.subscribe(received.append)
    yield received
    unsubscribe()


def streaming(fmt="ndjson", **changes):
    return graph_search(STREAMING={"ENABLED": True, "FORMAT": fmt}, **changes)


def ndjson_events(response):
    return [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]


def sse_events(response):
    """The ``data:`` objects; each block's ``event:`` is the type of its object."""
    found = []
    for block in b"".join(response.streaming_content).decode().split("\n\n"):
        if block:
            name, data = block.split("\n")
            assert name.startswith("event: ") and data.startswith("data: ")
            found.append(json.loads(data[len("data: "):]))
            assert found[-1]["type"] == name[len("event: "):]
    return found


def test_ndjson_over_get_sends_each_step_then_the_results(client, catalogue):
    response = client.get(STREAM, {"q": "rugged phone", "limit": 5, "min_score": 0.01})
    assert response.status_code == 200 and response["Content-Type"] == "application/x-ndjson"
    assert response.streaming and response["Cache-Control"] == "no-cache"
    received = ndjson_events(response)
    assert [e["type"] for e in received] == PLAIN_EVENTS
    assert received[0] == {"type": "query_received", "query": "rugged phone", "models": ["shop.product", "shop.review"],
                           "limit": 5, "offset": 0, "min_score": 0.01, "mode": "hybrid"}
    search = client.get("/api/search/", {"q": "rugged phone", "limit": 5, "min_score": 0.01}).json()
    assert received[4] == {"type": "results", **search}
    assert received[3]["total"] == search["total"] and received[1]["candidate_count"] >= search["total"]
    assert received[-1] == {"type": "end"}


def test_sse_over_post_takes_a_json_body(client, catalogue):
    filterable = {"shop.Product": {"filter_fields": ["in_stock"]}}
    with override_settings(GRAPH_SEARCH=streaming("sse", models_options=filterable)):
        index_everything()
        body = {"q": "phone", "models": ["shop.Product"], "limit": 3, "filters": {"in_stock": True}}
        response = client.post(STREAM, body, content_type="application/json")
        received = sse_events(response)
        expected = client.get("/api/search/", {"q": "phone", "models": "shop.Product", "limit": 3,
                                               "in_stock": "1"}).json()
    assert response.status_code == 200 and response["Content-Type"] == "text/event-stream"
    assert [e["type"] for e in received] == PLAIN_EVENTS
    assert received[4] == {"type": "results", **expected} and expected["total"] > 0


@pytest.mark.parametrize("method, params, message", [
    ("get", {}, "'q' is required"),
    ("get", {"q": "phone", "limit": "0"}, "'limit' must be a positive integer."),
    ("get", {"q": "phone", "min_score": "2"}, "'min_score' must be a number between 0 and 1."),
    ("get", {"q": "phone", "models": "shop.Brand"}, "'models': 'shop.Brand' is not configured"),
    ("get", {"q": "phone", "offset": "-1"}, "'offset' must be a non-negative integer."),
    ("post", {"q": "phone", "filters": ["in_stock"]}, "'filters' must be an object"),
    ("post", {"query": " "}, "'q' is required"),
])
def test_bad_parameters_are_json_400_before_any_event(client, catalogue, method, params, message):
    if method == "get":
        response = client.get(STREAM, params)
    else:
        response = client.post(STREAM, params, content_type="application/json")
    assert response.status_code == 400 and not response.streaming
    assert message in response.json()["error"]


def test_internal_events_can_be_left_out_of_the_stream(client, catalogue, events):
    config = graph_search(STREAMING={"ENABLED": True, "INCLUDE_INTERNAL_EVENTS": False})
    with override_settings(GRAPH_SEARCH=config):
        received = ndjson_events(client.get(STREAM, {"q": "phone"}))
    assert [e["type"] for e in received] == ["query_received", "completed", "results", "end"]
    assert [e.name for e in events] == PLAIN_EVENTS  # subscribers still see every step


def test_a_failure_after_the_start_is_an_error_event(client, catalogue, caplog):
    # The index holds 512-d hashing vectors; a 256-d embedder cannot search it (a real mismatch, no patching).
    other_embedder = {"default": {"BACKEND": "hashing", "OPTIONS": {"DIMENSION": 256}}}
    with override_settings(GRAPH_SEARCH=streaming(EMBEDDINGS=other_embedder)):
        response = client.get(STREAM, {"q": "phone"})
        received = ndjson_events(response)
    assert [e["type"] for e in received] == ["query_received", "error", "end"]
    # A fixed message and the stream's request id; the cause ("Rebuild the index") only in the log, under that id.
    assert received[1] == {"type": "error", "status": 503, "request_id": response["X-Request-ID"],
                           "error": "Search is misconfigured on this server; the server log has the details."}
    (logged,) = [r.getMessage() for r in caplog.records if response["X-Request-ID"] in r.getMessage()]
    assert "Rebuild the index" in logged


def test_the_hub_sees_every_search_and_logs_structured_records(client, catalogue, events, caplog):
    def broken(event):
        raise RuntimeError("a subscriber bug")

    unsubscribe = hub.subscribe(broken)
    try:
        with caplog.at_level(logging.DEBUG, logger="dgs_core.events"):
            assert client.get("/api/search/", {"q": "phone"}).status_code == 200
            ndjson_events(client.get(STREAM, {"q": "phone"}))
    finally:
        unsubscribe()
    plain, streamed = events[:2], events[2:]
    assert [e.name for e in plain] == ["vector_search_completed", "keyword_search_completed"]
    assert {e.stream_id for e in plain} == {None}
    assert [e.name for e in streamed] == PLAIN_EVENTS and len({e.stream_id for e in streamed}) == 1
    records = [r for r in caplog.records if r.name == "dgs_core.events"]
    assert [r.dgs_event for r in records] == [e.name for e in events]
    assert records[-2].dgs_data["total"] == events[-2].data["total"]
    assert "A dgs event subscriber failed" in caplog.text


def test_a_client_that_leaves_stops_the_search_and_leaves_no_thread(client, catalogue, events):
    reached = threading.Event()

    def slow_step(event):
        # Runs inside the search worker: holds the search until the client has gone.
        if event.name == "vector_search_completed" and cancel_event() is not None:
            reached.set()
            assert cancel_event().wait(timeout=30)

    unsubscribe = hub.subscribe(slow_step)
    try:
        response = client.get(STREAM, {"q": "phone"})
        chunks = iter(response.streaming_content)
        assert json.loads(next(chunks))["type"] == "query_received"
        assert reached.wait(timeout=30)  # the search is busy in its vector search step
        response.close()
    finally:
        unsubscribe()
    assert [t.name for t in threading.enumerate() if t.name.startswith("dgs-stream-")] == []
    assert [e.name for e in events] == ["query_received", "vector_search_completed"]


@pytest.mark.django_db(transaction=True)  # the search runs in a worker thread: it sees committed rows only
def test_the_stream_shows_only_the_rows_the_caller_may_see(client, django_user_model):
    hooked = {"shop.Product": {"search_queryset": "tests.shop.search.visible_products"}}
    with override_settings(GRAPH_SEARCH=streaming(models_options=hooked)):
        restricted_catalogue(hidden=4, visible=2)
        hits = ndjson_events(client.get(STREAM, {"q": "Acme red smartphone", "models": "shop.Product"}))[-2]["results"]
        assert len(hits) == 2 and all(Product.objects.get(pk=hit["pk"]).in_stock for hit in hits)
        client.force_login(django_user_model.objects.create_superuser("root", password="pw"))
        hits = ndjson_events(client.get(STREAM, {"q": "Acme red smartphone", "models": "shop.Product"}))[-2]["results"]
    assert len(hits) == 6
