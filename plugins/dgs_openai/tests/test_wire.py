"""What the embedder sends to the embeddings API and how it reads the answers, seen from the fake server."""

import numpy as np

from dgs_core.testing.embedder import cosine
from dgs_core.testing.fake_http import hashed_vectors as embed
from tests.conftest import embedder_for
from tests.fake_openai import FakeOpenAI


def test_requests_carry_model_key_and_inputs_and_ask_for_base64(fake):
    embedder = embedder_for(fake)
    embedder.embed_documents(["red phone", "green tea"])
    (request,) = fake.requests
    assert request.path == "/v1/embeddings"
    assert request.headers["authorization"] == f"Bearer {fake.api_key}"
    assert request.body == {"model": "text-embedding-3-small", "input": ["red phone", "green tea"],
                            "encoding_format": "base64"}


def test_vectors_are_the_servers_in_input_order_whatever_order_the_data_comes_in(fake):
    texts = ["red phone", "green tea", "wooden bench"]
    vectors = embedder_for(fake).embed_documents(texts)
    np.testing.assert_allclose(vectors, embed(texts, 1536), atol=1e-6)  # the fake answers in reverse order


def test_float_answers_are_read_as_well_as_base64():
    texts = ["red phone", "green tea"]
    with FakeOpenAI(always_float=True) as server:
        floats = embedder_for(server).embed_documents(texts)
    with FakeOpenAI() as server:
        packed = embedder_for(server).embed_documents(texts)
    np.testing.assert_allclose(floats, packed, atol=1e-6)


def test_dimensions_are_sent_and_shorten_the_vectors(fake):
    embedder = embedder_for(fake, dimensions=256)
    assert embedder.dimension == 256
    assert embedder.embed_query("red phone").shape == (256,)
    assert fake.requests[0].body["dimensions"] == 256


def test_queries_and_documents_embed_alike(fake):
    embedder = embedder_for(fake)
    assert cosine(embedder.embed_query("red phone"), embedder.embed_documents(["red phone"])[0]) > 1 - 1e-6


def test_an_empty_text_is_sent_as_a_space_because_the_api_rejects_empty_strings(fake):
    vectors = embedder_for(fake).embed_documents(["", "tea"])
    assert vectors.shape == (2, 1536)
    assert fake.requests[0].inputs == [" ", "tea"]


def test_an_unknown_model_is_measured_by_one_probe_and_its_id_does_not_change(fake):
    embedder = embedder_for(fake, model_name="nomic-embed-text")
    id_before = embedder.id
    assert embedder.dimension == 768
    assert embedder.dimension == 768
    assert len(fake.requests) == 1 and fake.requests[0].inputs == ["dimension probe"]
    assert embedder.id == id_before == "openai:nomic-embed-text"
    assert embedder.embed_documents(["tea"]).shape == (1, 768)


def test_usage_counts_requests_texts_and_the_tokens_the_api_reported(fake):
    embedder = embedder_for(fake, batch_size=2)
    embedder.embed_documents(["one two", "three", "four five six"])
    embedder.embed_query("seven")
    assert [len(r.inputs) for r in fake.requests] == [2, 1, 1]
    assert (embedder.usage.requests, embedder.usage.texts, embedder.usage.tokens) == (3, 4, 7)  # the fake counts words


def test_azure_deployments_use_the_deployment_route_api_version_and_api_key_header(fake):
    embedder = embedder_for(fake, model_name="my-embeddings", base_url=fake.endpoint, api_version="2024-10-21",
                            dimensions=256)
    assert embedder.embed_documents(["red phone"]).shape == (1, 256)
    (request,) = fake.requests
    assert request.path == "/openai/deployments/my-embeddings/embeddings"
    assert request.headers["api-key"] == fake.api_key
    assert "authorization" not in request.headers


def test_a_server_without_authentication_needs_no_key():
    with FakeOpenAI(api_key="unused") as server:  # what the embedder sends when no key is configured
        embedder = embedder_for(server, api_key=None)
        assert embedder.embed_documents(["tea"]).shape == (1, 1536)
