"""Rate limits, server errors, malformed answers, bad keys, slow and absent servers, scripted on the fake API."""

import socket

import pytest

from dgs_core.exceptions import BackendUnavailable, ConfigurationError
from tests.conftest import embedder_for
from tests.fake_cohere import Fault

RATE_LIMITED = Fault(429, {"message": "You are using a Trial key, which is limited to 100 API calls / minute."},
                     {"retry-after-ms": "50", "retry-after": "1"})


def test_a_rate_limited_batch_is_retried_after_the_servers_retry_after(fake):
    fake.script(RATE_LIMITED, RATE_LIMITED)
    assert embedder_for(fake, max_retries=2).embed_documents(["red phone", "tea"]).shape == (2, 1024)
    assert len(fake.requests) == 3


def test_a_rate_limited_query_is_retried_within_its_timeout(fake):
    fake.script(RATE_LIMITED)
    assert embedder_for(fake, timeout=5.0).embed_query("tea").shape == (1024,)
    assert len(fake.requests) == 2


def test_a_query_gives_up_at_once_when_retry_after_exceeds_its_timeout(fake):
    fake.script(Fault(429, {"message": "slow down"}, {"retry-after": "30"}))
    with pytest.raises(BackendUnavailable, match=r"rate-limiting this key \(429: slow down\)"):
        embedder_for(fake, timeout=2.0).embed_query("tea")
    assert len(fake.requests) == 1


def test_rate_limits_that_outlast_max_retries_are_a_clear_error(fake):
    fake.script(*[RATE_LIMITED] * 3)
    with pytest.raises(BackendUnavailable, match=r"429: You are using a Trial key.*MAX_RETRIES=2 retries"):
        embedder_for(fake, max_retries=2).embed_documents(["tea"])
    assert len(fake.requests) == 3


def test_server_errors_are_retried_with_backoff_then_succeed(fake):
    fake.script(Fault(500, {"message": "internal server error"}))
    assert embedder_for(fake, max_retries=1).embed_documents(["tea"]).shape == (1, 1024)
    assert len(fake.requests) == 2


def test_server_errors_that_persist_raise_backend_unavailable_with_the_status(fake):
    fake.script(*[Fault(503, {"message": "service unavailable"}, {"retry-after-ms": "10"})] * 2)
    with pytest.raises(BackendUnavailable, match=r"failed \(503: service unavailable\) after MAX_RETRIES=1"):
        embedder_for(fake, max_retries=1).embed_documents(["tea"])


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (b"<html>not json</html>", r"malformed response \(ApiError: <html>not json</html>\)"),
        ({"id": "x", "embeddings": {}}, r"malformed embed response for 1 texts \(0 float embeddings\)"),
        ({"id": "x", "embeddings": {"float": [[0.1] * 1024, [0.2] * 1024]}}, r"\(2 float embeddings\)"),
        ({"id": "x", "embeddings": {"float": [[]]}}, r"malformed embed response"),
        ({"id": "x", "embeddings": {"float": [["a"] * 1024]}}, r"malformed embed response"),
    ],
)
def test_malformed_answers_are_a_clear_backend_error(fake, answer, expected):
    fake.script(Fault(200, answer))
    with pytest.raises(BackendUnavailable, match=expected):
        embedder_for(fake).embed_documents(["tea"])


def test_vectors_of_the_wrong_width_name_dimensions(fake):
    fake.script(Fault(200, {"id": "x", "embeddings": {"float": [[0.5] * 8]}}))
    with pytest.raises(ConfigurationError, match=r"returned 8-dimensional vectors.*1024 were expected.*DIMENSIONS"):
        embedder_for(fake).embed_documents(["tea"])


def test_a_wrong_key_fails_at_the_first_call_naming_api_key_without_retrying(fake):
    embedder = embedder_for(fake, api_key="co-wrong")
    with pytest.raises(ConfigurationError, match=r"refused the API key \(401: invalid api token\).*Set API_KEY"):
        embedder.embed_documents(["tea"])
    with pytest.raises(ConfigurationError, match="CO_API_KEY"):
        embedder.embed_query("tea")
    assert len(fake.requests) == 2


def test_an_unknown_model_names_model_name(fake):
    with pytest.raises(ConfigurationError, match=r"model 'embed-nine' not found.*Check MODEL_NAME"):
        embedder_for(fake, model_name="embed-nine", dimensions=64).embed_documents(["tea"])


def test_a_slow_query_raises_backend_unavailable_before_the_server_answers(fake):
    fake.script(Fault(delay=60))
    with pytest.raises(BackendUnavailable, match=r"did not answer within TIMEOUT=0.5 s"):
        embedder_for(fake, timeout=0.5, max_retries=3).embed_query("tea")
    assert not fake.answered.is_set()
    assert len(fake.requests) == 1


def test_a_slow_batch_raises_backend_unavailable_after_timeout(fake):
    fake.script(Fault(delay=60))
    with pytest.raises(BackendUnavailable, match=r"did not answer within TIMEOUT=0.3 s"):
        embedder_for(fake, timeout=0.3, max_retries=2).embed_documents(["tea"])
    assert not fake.answered.is_set()
    assert len(fake.requests) == 1  # the Cohere SDK does not retry timeouts; the outbox retries the documents


def test_a_server_that_is_down_raises_backend_unavailable_naming_base_url(fake):
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    embedder = embedder_for(fake, base_url=url, timeout=1.0, max_retries=1)
    with pytest.raises(BackendUnavailable, match=r"at http://127.0.0.1:\d+ cannot be reached .*check BASE_URL"):
        embedder.embed_query("tea")
    with pytest.raises(BackendUnavailable, match=r"cannot be reached .*check BASE_URL"):
        embedder.embed_documents(["tea"])
