"""Rate limits, server errors, malformed answers, bad keys, slow and absent servers, scripted on the fake API."""

import socket

import pytest

from dgs_core.exceptions import BackendUnavailable, ConfigurationError
from tests.conftest import embedder_for
from tests.fake_openai import Fault

RATE_LIMITED = Fault(429, {"error": {"message": "Rate limit reached for requests", "code": "rate_limit_exceeded"}},
                     {"retry-after-ms": "50", "retry-after": "1"})
OVERLOADED = Fault(503, {"error": {"message": "The server is overloaded", "code": None}})


def test_a_rate_limited_batch_is_retried_after_the_servers_retry_after(fake):
    fake.script(RATE_LIMITED, RATE_LIMITED)
    vectors = embedder_for(fake, max_retries=2).embed_documents(["red phone", "tea"])
    assert vectors.shape == (2, 1536)
    assert len(fake.requests) == 3
    assert [r.headers.get("x-stainless-retry-count") for r in fake.requests] == ["0", "1", "2"]  # the SDK's retries


def test_a_rate_limited_query_is_retried_within_its_timeout(fake):
    fake.script(RATE_LIMITED)
    assert embedder_for(fake, timeout=5.0).embed_query("red phone").shape == (1536,)
    assert len(fake.requests) == 2


def test_a_query_gives_up_at_once_when_retry_after_exceeds_its_timeout(fake):
    fake.script(Fault(429, {"error": {"message": "Rate limit reached"}}, {"retry-after": "30"}))
    with pytest.raises(BackendUnavailable, match=r"rate-limiting this key \(429: Rate limit reached\)"):
        embedder_for(fake, timeout=2.0).embed_query("red phone")
    assert len(fake.requests) == 1


def test_rate_limits_that_outlast_max_retries_are_a_clear_error(fake):
    fake.script(*[RATE_LIMITED] * 3)
    with pytest.raises(BackendUnavailable, match=r"429: Rate limit reached.*MAX_RETRIES=2 retries.*BATCH_SIZE"):
        embedder_for(fake, max_retries=2).embed_documents(["red phone"])
    assert len(fake.requests) == 3


def test_server_errors_are_retried_with_backoff_then_succeed(fake):
    fake.script(Fault(500, {"error": {"message": "internal error"}}), Fault(502, b"<html>Bad gateway</html>"))
    assert embedder_for(fake, max_retries=2).embed_documents(["tea"]).shape == (1, 1536)
    assert len(fake.requests) == 3


def test_server_errors_that_persist_raise_backend_unavailable_with_the_status(fake):
    fake.script(*[OVERLOADED] * 2)
    with pytest.raises(BackendUnavailable, match=r"failed \(503: The server is overloaded\) after MAX_RETRIES=1"):
        embedder_for(fake, max_retries=1).embed_documents(["tea"])


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (b"<html>not json</html>", r"malformed response \(JSONDecodeError"),
        ({"object": "list", "data": []}, r"malformed response"),
        ({"object": "list", "data": [{"object": "embedding", "index": 0}]}, r"malformed embeddings response for 1"),
        ({"object": "list", "data": [{"object": "embedding", "index": 3, "embedding": [0.1] * 1536}]},
         r"malformed embeddings response for 1 inputs \(1 embeddings with indexes \[3\]"),
        ({"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": "!!"}]},
         r"malformed embeddings response"),
    ],
)
def test_malformed_answers_are_a_clear_backend_error(fake, answer, expected):
    fake.script(Fault(200, answer))
    with pytest.raises(BackendUnavailable, match=expected):
        embedder_for(fake).embed_documents(["tea"])
    assert len(fake.requests) == 1


def test_vectors_of_the_wrong_width_name_dimensions(fake):
    fake.script(Fault(200, {"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [0.5] * 8}]}))
    with pytest.raises(ConfigurationError, match=r"returned 8-dimensional vectors.*1536 were expected.*DIMENSIONS"):
        embedder_for(fake).embed_documents(["tea"])


def test_a_wrong_key_fails_at_the_first_call_naming_api_key_without_retrying(fake):
    embedder = embedder_for(fake, api_key="sk-wrong")
    with pytest.raises(ConfigurationError, match=r"refused the API key \(401: Incorrect API key.*Set API_KEY"):
        embedder.embed_documents(["tea"])
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        embedder.embed_query("tea")
    assert len(fake.requests) == 2
    assert "sk-wrong" not in repr(embedder.id)


def test_an_unknown_model_names_model_name(fake):
    with pytest.raises(ConfigurationError, match=r"has no model 'text-embedding-9' \(404.*Check MODEL_NAME"):
        embedder_for(fake, model_name="text-embedding-9", dimensions=64).embed_documents(["tea"])


def test_a_slow_query_raises_backend_unavailable_before_the_server_answers(fake):
    fake.script(Fault(delay=60))
    with pytest.raises(BackendUnavailable, match=r"did not answer within TIMEOUT=0.5 s"):
        embedder_for(fake, timeout=0.5, max_retries=3).embed_query("tea")
    assert not fake.answered.is_set()  # the client gave up; the server was still waiting to answer
    assert len(fake.requests) == 1  # the whole budget went into that attempt: no retry


def test_a_slow_batch_is_retried_max_retries_times_then_raises(fake):
    fake.script(*[Fault(delay=60)] * 3)
    with pytest.raises(BackendUnavailable, match=r"did not answer within TIMEOUT=0.3 s"):
        embedder_for(fake, timeout=0.3, max_retries=2).embed_documents(["tea"])
    assert not fake.answered.is_set()
    assert len(fake.requests) == 3


def test_a_server_that_is_down_raises_backend_unavailable_naming_base_url(fake):
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/v1"
    embedder = embedder_for(fake, base_url=url, timeout=1.0, max_retries=1)
    with pytest.raises(BackendUnavailable, match=r"at http://127.0.0.1:\d+/v1 cannot be reached .*check BASE_URL"):
        embedder.embed_query("tea")
    with pytest.raises(BackendUnavailable, match=r"cannot be reached .*check BASE_URL"):
        embedder.embed_documents(["tea"])
