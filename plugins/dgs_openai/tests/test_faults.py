"""Rate limits, server errors, malformed answers, bad keys, slow and absent servers, scripted on the fake API."""

import pytest

from dgs_core.exceptions import BackendUnavailable
from dgs_core.testing.remote import RemoteEmbedderFaults
from tests.conftest import embedder_for
from tests.fake_openai import Fault

RATE_LIMITED = Fault(429, {"error": {"message": "Rate limit reached for requests", "code": "rate_limit_exceeded"}},
                     {"retry-after-ms": "50", "retry-after": "1"})


class TestFaults(RemoteEmbedderFaults):
    dimension, key_variable, base_path = 1536, "OPENAI_API_KEY", "/v1"
    refused_key_message = "Incorrect API key provided."

    def embedder_for(self, fake, **options):
        return embedder_for(fake, **options)

    def error(self, message):
        return {"error": {"message": message, "code": None}}

    def vectors(self, rows):
        return {"object": "list", "data": [{"object": "embedding", "index": i, "embedding": row}
                                           for i, row in enumerate(rows)]}


def test_a_rate_limited_batch_is_retried_by_the_sdk_which_counts_its_retries(fake):
    fake.script(*[RATE_LIMITED] * 2)
    vectors = embedder_for(fake, max_retries=2).embed_documents(["red phone", "tea"])
    assert vectors.shape == (2, 1536)
    assert [r.headers.get("x-stainless-retry-count") for r in fake.requests] == ["0", "1", "2"]  # the SDK's retries


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


def test_a_slow_batch_is_retried_max_retries_times_then_raises(fake):
    fake.script(*[Fault(delay=60)] * 3)
    with pytest.raises(BackendUnavailable, match=r"did not answer within TIMEOUT=0.3 s"):
        embedder_for(fake, timeout=0.3, max_retries=2).embed_documents(["tea"])
    assert not fake.answered.is_set()
    assert len(fake.requests) == 3
