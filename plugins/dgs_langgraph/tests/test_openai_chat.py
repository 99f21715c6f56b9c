"""The OpenAI-compatible chat backend against a real HTTP chat-completions server on 127.0.0.1, and what the
pipeline does when the LLM is slow, failing or talking nonsense: plain vector search, never a failed search."""

import json

import pytest
from django.test import override_settings

import dgs_core
from dgs_core.exceptions import BackendUnavailable, ConfigurationError
from dgs_core.searching.events import hub
from dgs_langgraph.openai_chat import OpenAIChatLLM
from tests.chat_server import rerank_numbers
from tests.conftest import graph_search, openai_llm, plain, wait_for_threads_to_end

pytestmark = pytest.mark.django_db
QUERY = "tracks by the band Iron Maiden"


def answering(variants=("Iron Maiden", "Maiden"), ranking=None):
    """A reply function: ``variants`` to expansion prompts, ``ranking(numbers)`` (default: reversed) to rerank ones."""
    def reply(messages):
        if "rewrite search queries" in messages[0]["content"]:
            return "```json\n" + json.dumps(list(variants)) + "\n```"
        numbers = rerank_numbers(messages)
        return json.dumps(ranking(numbers) if ranking else numbers[::-1])
    return reply


@pytest.fixture
def events():
    received = []
    unsubscribe = hub.subscribe(received.append)
    yield received
    unsubscribe()


def ranking(query, **kwargs):
    return [(hit.id, round(hit.score, 9)) for hit in dgs_core.search(query, **kwargs)]


def test_expansion_and_reranking_through_a_chat_endpoint(catalogue, runner, chat_server, events):
    chat_server.reply = answering()
    with override_settings(GRAPH_SEARCH=graph_search(RERANK_TOP_K=5, LLM=openai_llm(chat_server))):
        hits = dgs_core.search(QUERY, limit=8)
    expand, rerank = chat_server.requests
    assert expand["model"] == rerank["model"] == "test-model" and expand["temperature"] == 0.0
    assert json.loads(expand["messages"][1]["content"])["query"] == QUERY
    assert [e.data["queries"] for e in events if e.name == "expanded"] == [[QUERY, "Iron Maiden", "Maiden"]]
    offered = [line.split(") ", 1)[1] for line in rerank["messages"][1]["content"].splitlines()[3:]]
    assert len(offered) == 5
    assert [hit.text for hit in hits[:5]] == offered[::-1]  # the endpoint's ranking, applied


def test_max_query_length_bounds_what_the_llm_sees(catalogue, runner, chat_server):
    chat_server.reply = answering()
    long_query = "Iron Maiden " + "and also some more words " * 20
    with override_settings(GRAPH_SEARCH=graph_search(MAX_QUERY_LENGTH=20, LLM=openai_llm(chat_server))):
        dgs_core.search(long_query, limit=5)
    expand, rerank = chat_server.requests
    assert json.loads(expand["messages"][1]["content"])["query"] == "Iron Maiden and also"
    assert rerank["messages"][1]["content"].splitlines()[0] == "Query: Iron Maiden and also"


@pytest.mark.parametrize("failure", ["slow", "http error", "nonsense", "nonsense when reranking"])
def test_a_failing_llm_falls_back_to_plain_vector_search(catalogue, runner, chat_server, events, failure):
    if failure == "slow":
        chat_server.delay = 60  # cut short when the server closes
    elif failure == "http error":
        chat_server.status = 500
    elif failure == "nonsense":
        chat_server.reply = lambda messages: "I am not sure what you mean."
    else:
        chat_server.reply = answering(ranking=lambda numbers: "no ranking today")
    with override_settings(GRAPH_SEARCH=plain()):
        expected = ranking(QUERY, limit=8)
    with override_settings(GRAPH_SEARCH=graph_search(TIMEOUT_SECONDS=1, LLM=openai_llm(chat_server))):
        assert ranking(QUERY, limit=8) == expected
    (fallback,) = [e.data for e in events if e.name == "fallback"]
    assert fallback["step"] == ("rerank" if failure == "nonsense when reranking" else "expand_query")
    chat_server.close()
    assert wait_for_threads_to_end("dgs-llm-") == []  # a late call ends once its endpoint answers


def test_without_fallback_a_failing_llm_fails_the_search_clearly(client, catalogue, runner, chat_server, caplog):
    chat_server.status = 500
    with override_settings(GRAPH_SEARCH=graph_search(FALLBACK_ON_ERROR=False, LLM=openai_llm(chat_server))):
        with pytest.raises(BackendUnavailable, match="FALLBACK_ON_ERROR'\\] is False"):
            dgs_core.search(QUERY)
        response = client.get("/api/search/", {"q": QUERY})
    # The caller reads a fixed message and a request id; the cause is logged under that id.
    assert response.status_code == 503 and response.json()["request_id"] == response["X-Request-ID"]
    assert "expand_query step failed" not in response.json()["error"]
    assert any(response["X-Request-ID"] in r.getMessage() and "expand_query step failed" in r.getMessage()
               for r in caplog.records)


def test_the_backend_explains_its_settings(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match=r"\['MODEL'\] is required"):
        OpenAIChatLLM(base_url="http://127.0.0.1:1/v1")
    with pytest.raises(ConfigurationError, match="unknown keys MAX_TOKENS"):
        OpenAIChatLLM("m", base_url="http://127.0.0.1:1/v1", max_tokens=5)
    with pytest.raises(ConfigurationError, match="API_KEY'\\] is not set and neither is OPENAI_API_KEY"):
        OpenAIChatLLM("m")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert OpenAIChatLLM("m").api_key == "sk-test"
