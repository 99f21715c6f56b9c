"""The analyser of keyword search: documents and queries become the same terms, weighted like BM25."""

import sys
import threading

import pytest

from dgs_qdrant.sparse import AVERAGE_LENGTH, K1, B, document_vector, fold, query_vector, term_index


def test_terms_are_stemmed_case_and_diacritics_folded_words():
    assert term_index(fold("GUITARS")) == term_index("guitar")
    assert term_index(fold("Beyoncé")) == term_index("beyonce")
    # Decomposed input (a combining accent) folds to the same term as the composed one.
    assert query_vector("Beyonce\u0301") == query_vector("Beyoncé")
    assert term_index("rock") != term_index("roll")


def test_term_indexes_are_pinned_unsigned_32_bit_hashes():
    """Stored vectors carry these numbers: any change would make documents indexed before unfindable."""
    assert term_index("stairway") == 2209261978
    assert term_index("guitars") == 3648914760
    assert all(0 <= term_index(w) < 2**32 for w in ["a", "zeppelin", "東京", "_"])


def test_query_weights_each_distinct_term_once():
    vector = query_vector("Guitar guitars GUITAR rock")
    assert sorted(vector.indices) == vector.indices == sorted({term_index("guitar"), term_index("rock")})
    assert vector.values == [1.0, 1.0]
    assert query_vector("!!! ...") is None and query_vector("") is None


def test_document_weights_saturate_with_repetition_and_shrink_with_length():
    def weight(text, word="rock"):
        vector = document_vector(text)
        return vector.values[vector.indices.index(term_index(word))]

    once = weight("rock")
    assert once == pytest.approx((K1 + 1) / (1 + K1 * (1 - B + B / AVERAGE_LENGTH)))
    assert once < weight("rock rock") < weight("rock rock rock rock") < K1 + 1
    assert weight("rock " + "filler " * 300) < once
    assert document_vector("... !!!") is None


def test_threads_stem_concurrently_with_the_same_result():
    """Snowball stemmers keep the word in progress in the object: one shared by threads garbles stems (and
    raises IndexError) once threads switch often, which a tiny switch interval forces; a thread that
    raised leaves its results None."""
    words = [f"running{i} generalizations{i} nationalities{i}" for i in range(3000)]
    expected = [query_vector(w) for w in words]
    term_index.cache_clear()
    results: list = [None] * len(words)

    def analyse(offset):
        for i in range(offset, len(words), 4):
            results[i] = query_vector(words[i])

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=analyse, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert results == expected
