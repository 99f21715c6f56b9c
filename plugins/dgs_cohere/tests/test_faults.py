"""Rate limits, server errors, malformed answers, bad keys, slow and absent servers, scripted on the fake API."""

import pytest

from dgs_core.exceptions import BackendUnavailable
from dgs_core.testing.remote import RemoteEmbedderFaults
from tests.conftest import embedder_for
from tests.fake_cohere import Fault


class TestFaults(RemoteEmbedderFaults):
    dimension, key_variable = 1024, "CO_API_KEY"
    refused_key_message = "invalid api token"
    rate_limit_message = "You are using a Trial key, which is limited to 100 API calls / minute."

    def embedder_for(self, fake, **options):
        return embedder_for(fake, **options)

    def error(self, message):
        return {"message": message}

    def vectors(self, rows):
        return {"id": "x", "embeddings": {"float": rows}}


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


def test_a_slow_batch_raises_backend_unavailable_after_timeout(fake):
    fake.script(Fault(delay=60))
    with pytest.raises(BackendUnavailable, match=r"did not answer within TIMEOUT=0.3 s"):
        embedder_for(fake, timeout=0.3, max_retries=2).embed_documents(["tea"])
    assert not fake.answered.is_set()
    assert len(fake.requests) == 1  # the Cohere SDK does not retry timeouts; the outbox retries the documents
