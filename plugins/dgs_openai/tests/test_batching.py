"""Requests stay within the inputs-per-request and tokens-per-request limits; over-long texts are cut."""

import logging

import numpy as np
import pytest

from dgs_core.testing.fake_http import hashed_vectors as embed
from dgs_openai import tokens
from dgs_openai.tokens import Tokenizer, estimate_tokens, get_tokenizer
from tests.conftest import embedder_for

TEXTS = [f"product number {i} with a short description" for i in range(10)]


def test_batches_split_by_inputs_per_request_and_keep_the_order(fake):
    vectors = embedder_for(fake, batch_size=3).embed_documents(TEXTS)
    assert [len(r.inputs) for r in fake.requests] == [3, 3, 3, 1]
    assert [t for r in fake.requests for t in r.inputs] == TEXTS
    np.testing.assert_allclose(vectors, embed(TEXTS, 1536), atol=1e-6)


def test_batches_split_by_tokens_per_request(fake):
    embedder = embedder_for(fake, max_tokens_per_request=40)
    embedder.embed_documents(TEXTS)
    assert len(fake.requests) > 1
    assert [t for r in fake.requests for t in r.inputs] == TEXTS
    sizes = [sum(embedder.count_tokens(t) for t in r.inputs) for r in fake.requests]
    assert all(size <= 40 for size in sizes)
    for size, following in zip(sizes, fake.requests[1:], strict=False):
        assert size + embedder.count_tokens(following.inputs[0]) > 40, "a request was cut before it was full"


def test_a_text_longer_than_the_request_limit_goes_alone(fake):
    embedder = embedder_for(fake, max_tokens_per_request=20)
    long_text = "word " * 100
    embedder.embed_documents(["short", long_text, "short again"])
    assert [r.inputs for r in fake.requests] == [["short"], [long_text], ["short again"]]


def test_texts_longer_than_max_input_tokens_are_cut_to_their_beginning(fake):
    embedder = embedder_for(fake, max_input_tokens=20)
    long_text = "graph aware semantic search for django " * 40
    vectors = embedder.embed_documents([long_text, "tea"])
    sent = fake.requests[0].inputs[0]
    assert long_text.startswith(sent) and 0 < embedder.count_tokens(sent) <= 20 < embedder.count_tokens(long_text)
    assert fake.requests[0].inputs[1] == "tea"
    assert vectors.shape == (2, 1536)
    assert embedder.max_input_tokens == 20


def test_the_model_window_is_known_for_openai_models_and_absent_for_unknown_ones(fake):
    assert embedder_for(fake).max_input_tokens == 8191
    assert embedder_for(fake, model_name="nomic-embed-text").max_input_tokens is None


def test_the_estimate_errs_high_for_prose_and_counts_every_script():
    prose = "The quick brown fox jumps over the lazy dog near the riverbank."
    assert estimate_tokens(prose) >= len(prose.split()) + 2  # ~13 real tokens for 12 words and a period
    assert estimate_tokens("") == 0
    assert estimate_tokens("中文搜索") == 6  # 12 bytes, half a token each
    assert estimate_tokens("a" * 30) < estimate_tokens("a" * 31 + "é")


@pytest.mark.parametrize("text", ["graph search " * 50, "中文搜索测试 " * 50, "emoji 👩‍💻 and accents é " * 40])
def test_estimated_truncation_keeps_the_longest_beginning_within_the_limit(text):
    cut = Tokenizer().truncate(text, 25)
    assert text.startswith(cut)
    assert estimate_tokens(cut) <= 25 < estimate_tokens(text[: len(cut) + 1])


def test_tiktoken_counts_exactly_when_it_can_load_the_encoding_and_else_estimates_and_says_so(monkeypatch, caplog):
    monkeypatch.setattr(tokens, "_encodings", {})  # forget what earlier tests loaded
    with caplog.at_level(logging.WARNING, logger="dgs_openai"):
        tokenizer = get_tokenizer("auto", "text-embedding-3-small", wait_seconds=10)
    text = "graph aware semantic search " * 30
    if tokenizer.exact:  # the encoding was downloaded, or already in TIKTOKEN_CACHE_DIR
        assert tokenizer.count(text) == len(tokenizer.encoding.encode_ordinary(text))
        cut = tokenizer.truncate(text, 10)
        assert text.startswith(cut) and tokenizer.count(cut) <= 10
    else:  # offline: the estimate, and a warning that says why and how to count exactly
        assert tokenizer.count(text) == estimate_tokens(text)
        assert "tiktoken cannot load the 'cl100k_base' encoding" in caplog.text
        assert "TIKTOKEN_CACHE_DIR" in caplog.text


def test_models_tiktoken_does_not_know_are_estimated_without_a_download(monkeypatch):
    monkeypatch.setattr(tokens, "_encodings", {})
    assert not get_tokenizer("auto", "nomic-embed-text", wait_seconds=10).exact
    assert not get_tokenizer("estimate", "text-embedding-3-small", wait_seconds=10).exact
    assert tokens._encodings == {}
