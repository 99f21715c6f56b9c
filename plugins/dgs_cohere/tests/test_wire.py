"""What the embedder sends to the embed API and how it reads the answers, seen from the fake server."""

import numpy as np

from dgs_core.testing.fake_http import hashed_vectors as embed
from tests.conftest import embedder_for


def test_documents_are_sent_as_search_document_with_float_embeddings_and_the_key(fake):
    vectors = embedder_for(fake).embed_documents(["red phone", "green tea"])
    (request,) = fake.requests
    assert request.path == "/v2/embed"
    assert request.headers["authorization"] == f"Bearer {fake.api_key}"
    assert request.body == {"texts": ["red phone", "green tea"], "model": "embed-english-v3.0",
                            "input_type": "search_document", "embedding_types": ["float"], "truncate": "END"}
    np.testing.assert_allclose(vectors, embed(["red phone", "green tea"], 1024), atol=1e-6)


def test_queries_are_sent_as_search_query(fake):
    assert embedder_for(fake).embed_query("red phone").shape == (1024,)
    assert fake.requests[0].body["input_type"] == "search_query"
    assert fake.requests[0].texts == ["red phone"]


def test_batches_hold_at_most_batch_size_texts_and_keep_the_order(fake):
    texts = [f"product {i}" for i in range(100)]
    vectors = embedder_for(fake).embed_documents(texts)
    assert [len(r.texts) for r in fake.requests] == [96, 4]
    assert [t for r in fake.requests for t in r.texts] == texts
    np.testing.assert_allclose(vectors, embed(texts, 1024), atol=1e-6)
    fake.reset()
    embedder_for(fake, batch_size=7).embed_documents(texts[:20])
    assert [len(r.texts) for r in fake.requests] == [7, 7, 6]


def test_dimensions_are_sent_as_output_dimension(fake):
    embedder = embedder_for(fake, model_name="embed-v4.0", dimensions=256)
    assert embedder.embed_documents(["tea"]).shape == (1, 256)
    assert fake.requests[0].body["output_dimension"] == 256


def test_an_empty_text_is_sent_as_a_space(fake):
    assert embedder_for(fake).embed_documents(["", "tea"]).shape == (2, 1024)
    assert fake.requests[0].texts == [" ", "tea"]


def test_an_unknown_model_is_measured_by_one_probe_and_its_id_does_not_change(fake):
    embedder = embedder_for(fake, model_name="acme-embed")
    assert embedder.id == "cohere:acme-embed"
    assert embedder.dimension == 640 and embedder.dimension == 640
    assert len(fake.requests) == 1 and embedder.id == "cohere:acme-embed"


def test_usage_counts_requests_texts_and_the_billed_tokens(fake):
    embedder = embedder_for(fake, batch_size=2)
    embedder.embed_documents(["one two", "three", "four five six"])
    embedder.embed_query("seven")
    assert (embedder.usage.requests, embedder.usage.texts, embedder.usage.tokens) == (3, 4, 7)  # the fake counts words


def test_the_window_is_known_per_model_and_tokens_are_estimated(fake):
    assert embedder_for(fake).max_input_tokens == 512
    assert embedder_for(fake, model_name="embed-v4.0").max_input_tokens == 128_000
    assert embedder_for(fake, model_name="acme-embed").max_input_tokens is None
    assert embedder_for(fake, model_name="acme-embed", max_input_tokens=300).max_input_tokens == 300
    embedder = embedder_for(fake)
    assert embedder.count_tokens("graph search " * 200) > 512  # reported by build_search_index as over the window
