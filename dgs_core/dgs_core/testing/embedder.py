"""The contract every embedder plugin passes: subclass it and provide an ``embedder`` fixture.

::

    import pytest
    from dgs_core.testing import EmbedderContract

    class TestMyEmbedder(EmbedderContract):
        capabilities = {"semantic"}  # the embedder understands meaning, not only spelling

        @pytest.fixture(scope="class")  # any scope; a wide one loads the model once
        @classmethod
        def embedder(cls):
            return MyEmbedder(model_name="my-model")

Capabilities: ``"semantic"`` (paraphrases score above unrelated texts). Without it the suite skips
that test and says why.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from dgs_core.testing.base import ContractSuite, require

KNOWN_CAPABILITIES = frozenset({"semantic"})

#: Texts that must embed without error: accents, scripts other than Latin, emoji, a 20k-character document.
AWKWARD_TEXTS = [
    "Crème brûlée, Größe, smørrebrød, ¿qué tal?",
    "中文搜索测试：红色的智能手机",
    "日本語のテキストと한국어 텍스트",
    "بحث دلالي باللغة العربية",
    "Привет, мир! Ελληνικά κείμενα",
    "I ❤️ pizza 🍕 and 👩‍💻 coding",
    "A long product description. " * 715,
]

#: (anchor, paraphrase, unrelated): the paraphrase shares meaning with the anchor, few words.
PARAPHRASES = [
    (
        "How do I reset my password?",
        "I forgot my login credentials and need to change them.",
        "The recipe needs two cups of flour and a pinch of salt.",
    ),
    (
        "A cheap phone with a long battery life",
        "An affordable smartphone whose battery lasts for days",
        "An oil painting of a sunset over the harbour",
    ),
    (
        "The cat is sleeping on the sofa.",
        "A kitten naps on the couch.",
        "Quarterly tax filing deadlines for small businesses.",
    ),
]


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two vectors (0.0 when either is all zeros)."""
    norms = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b) / norms) if norms else 0.0


class EmbedderContract(ContractSuite):
    """What core relies on from a :class:`dgs_core.base.Embedder`.

    Provide an ``embedder`` fixture returning a ready instance; declare ``capabilities``.
    """

    #: What the embedder can do beyond the basics; see :data:`KNOWN_CAPABILITIES`.
    capabilities: ClassVar[frozenset[str] | set[str]] = frozenset()

    def test_capabilities_are_known(self) -> None:
        """Declared capabilities are ones the suite knows.

        Troubleshooting: a misspelt capability silently skips the test it should enable; use only
        names from ``dgs_core.testing.embedder.KNOWN_CAPABILITIES``.
        """
        unknown = set(self.capabilities) - KNOWN_CAPABILITIES
        assert not unknown, f"unknown capabilities {sorted(unknown)}; known: {sorted(KNOWN_CAPABILITIES)}"

    def test_dimension_is_a_positive_int_equal_to_the_output_width(self, embedder) -> None:
        """``dimension`` is a positive ``int`` and every vector has exactly that many values.

        Troubleshooting: read the width from the model (not a hard-coded table), and make sure
        options that shorten vectors (e.g. a truncation setting) are reflected in ``dimension``.
        """
        assert isinstance(embedder.dimension, int) and not isinstance(embedder.dimension, bool)
        assert embedder.dimension > 0
        assert embedder.embed_documents(["width probe"]).shape[1] == embedder.dimension

    def test_embed_documents_returns_float32_rows_in_input_order(self, embedder) -> None:
        """``embed_documents`` returns float32 ``(n, dimension)``, row ``i`` for text ``i``.

        Troubleshooting: convert the result with ``np.asarray(..., dtype=np.float32)``; if rows come
        back shuffled, the client library or API may sort inputs (by length, for batching) or return
        results with an index you must reorder by.
        """
        texts = ["red smartphone with a large screen", "wooden garden bench", "organic green tea leaves"]
        vectors = embedder.embed_documents(texts)
        assert isinstance(vectors, np.ndarray)
        assert vectors.dtype == np.float32
        assert vectors.shape == (len(texts), embedder.dimension)
        reversed_vectors = embedder.embed_documents(texts[::-1])
        for row in range(len(texts)):
            assert cosine(vectors[row], reversed_vectors[len(texts) - 1 - row]) > 1 - 1e-4, f"row {row} moved"

    def test_a_text_embedded_alone_equals_it_embedded_in_a_batch(self, embedder) -> None:
        """Embedding a text alone or among others gives the same vector (cosine within 1e-4).

        Troubleshooting: batches must not leak into each other (padding without an attention mask,
        batch-level normalisation, prompts applied to the first text only).
        """
        texts = ["a short one", "a much longer text about hiking boots, waterproof and light", "tea"]
        batch = embedder.embed_documents(texts)
        for row, text in enumerate(texts):
            alone = embedder.embed_documents([text])[0]
            assert cosine(alone, batch[row]) > 1 - 1e-4, f"{text!r} embeds differently alone and in a batch"

    def test_empty_list_gives_zero_rows(self, embedder) -> None:
        """``embed_documents([])`` returns an empty ``(0, dimension)`` array without calling the model.

        Troubleshooting: many client libraries reject an empty input; return
        ``np.zeros((0, self.dimension), dtype=np.float32)`` early.
        """
        vectors = embedder.embed_documents([])
        assert vectors.shape == (0, embedder.dimension)
        assert vectors.dtype == np.float32

    def test_embed_query_returns_one_finite_float32_vector(self, embedder) -> None:
        """``embed_query`` returns float32 of shape ``(dimension,)`` with finite values.

        Troubleshooting: return a single row (``vectors[0]``), not a ``(1, dimension)`` matrix; NaN
        usually means a zero vector was normalised by dividing by its norm.
        """
        vector = embedder.embed_query("red smartphone")
        assert isinstance(vector, np.ndarray)
        assert vector.dtype == np.float32
        assert vector.shape == (embedder.dimension,)
        assert np.isfinite(vector).all()

    def test_embed_query_is_deterministic(self, embedder) -> None:
        """The same query gives the same vector every time.

        Troubleshooting: put the model in inference mode (no dropout) and do not add randomness
        (sampling, random projections seeded per call).
        """
        first = embedder.embed_query("waterproof hiking boots")
        second = embedder.embed_query("waterproof hiking boots")
        np.testing.assert_allclose(first, second, rtol=1e-5, atol=1e-5)

    def test_multilingual_emoji_and_very_long_texts_embed(self, embedder) -> None:
        """Accents, non-Latin scripts, emoji and a 20,000-character text embed to finite vectors.

        Troubleshooting: send text as UTF-8 without ``ascii`` encoding; truncate long inputs to the
        model's window (or let the library do it) instead of raising; core reports over-long
        documents through ``max_input_tokens`` and ``count_tokens``.
        """
        vectors = embedder.embed_documents(AWKWARD_TEXTS)
        assert vectors.shape == (len(AWKWARD_TEXTS), embedder.dimension)
        assert np.isfinite(vectors).all()
        assert np.isfinite(embedder.embed_query(AWKWARD_TEXTS[-1])).all()

    def test_id_is_a_stable_non_empty_string_naming_the_model(self, embedder) -> None:
        """``id`` is a non-empty string, the same on every read, and contains ``model_name``.

        Troubleshooting: core stores ``id`` with every vector and in each content hash, so a changing
        id re-embeds everything; build it from the plugin name, the model name and any option that
        changes document vectors, never from a timestamp or object address.
        """
        assert embedder.model_name, "set model_name (the constructor's model_name= or your default model)"
        assert isinstance(embedder.id, str) and embedder.id
        assert embedder.id == embedder.id
        assert str(embedder.model_name) in embedder.id

    def test_count_tokens_is_none_or_grows_with_text_length(self, embedder) -> None:
        """``count_tokens`` returns ``None`` (unknown) or a positive ``int`` that grows with the text.

        Troubleshooting: count with the model's own tokenizer and do not truncate while counting;
        core compares the count with ``max_input_tokens`` to report documents the model cuts short.
        """
        short = embedder.count_tokens("red smartphone " * 5)
        long = embedder.count_tokens("red smartphone " * 50)
        if short is None:
            assert long is None, "count_tokens returned None for a short text but a number for a long one"
            return
        assert isinstance(short, int) and isinstance(long, int)
        assert 0 < short < long

    def test_paraphrases_score_above_unrelated_texts(self, embedder) -> None:
        """A query is closer to its paraphrase than to an unrelated text (``semantic`` capability).

        Troubleshooting: check that queries and documents get their intended prompts (e.g.
        ``"query: "`` / ``"passage: "`` for e5 models) and that the model is a sentence-embedding
        model, not a raw language model; drop ``"semantic"`` from ``capabilities`` for lexical embedders.
        """
        require(self.capabilities, "semantic", "paraphrases must score above unrelated texts")
        for anchor, paraphrase, unrelated in PARAPHRASES:
            query = embedder.embed_query(anchor)
            close, far = embedder.embed_documents([paraphrase, unrelated])
            assert cosine(query, close) > cosine(query, far), f"{anchor!r} is closer to {unrelated!r}"
