"""Streaming a langgraph search: every step's event in order, and a client that leaves while the LLM thinks."""

import json
import threading

import pytest
from django.test import override_settings

from tests.conftest import graph_search, openai_llm, wait_for_threads_to_end, wait_until

pytestmark = pytest.mark.django_db
STREAM = "/api/search/stream/"


def events_of(response):
    return [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]


@pytest.mark.parametrize("expansion, reranking", [(True, True), (False, True), (True, False), (False, False)])
def test_the_stream_reports_the_steps_that_run(client, catalogue, runner, expansion, reranking):
    with override_settings(GRAPH_SEARCH=graph_search(QUERY_EXPANSION=expansion, RERANKING=reranking)):
        received = events_of(client.get(STREAM, {"q": "show me tracks by Iron Maiden", "limit": 4}))
        search = client.get("/api/search/", {"q": "show me tracks by Iron Maiden", "limit": 4}).json()
    expected = ["query_received", "query_expanded", "vector_search_completed", "rerank_completed", "completed",
                "results", "end"]
    skipped = {"query_expanded": not expansion, "rerank_completed": not reranking}
    assert [e["type"] for e in received] == [name for name in expected if not skipped.get(name)]
    assert received[-2] == {"type": "results", **search}


def test_a_client_leaving_during_a_slow_llm_call_leaves_no_thread(client, catalogue, runner, chat_server):
    chat_server.delay = 60  # the endpoint thinks until the server closes
    with override_settings(GRAPH_SEARCH=graph_search(TIMEOUT_SECONDS=50, LLM=openai_llm(chat_server, TIMEOUT=55))):
        response = client.get(STREAM, {"q": "Iron Maiden"})
        chunks = iter(response.streaming_content)
        assert json.loads(next(chunks))["type"] == "query_received"
        assert wait_until(lambda: chat_server.requests)  # the search now waits for the LLM's answer
        response.close()
    assert [t.name for t in threading.enumerate() if t.name.startswith("dgs-stream-")] == []
    chat_server.close()
    assert wait_for_threads_to_end("dgs-llm-") == []
