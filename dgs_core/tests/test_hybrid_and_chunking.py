"""Search modes (vector, keyword, hybrid by reciprocal rank fusion), chunking of long documents,
``matched`` explanations and the async API, on the core test project (hashing embedder, memory store)."""

import asyncio
import threading

import pytest
from django.test import override_settings

import dgs_core
from dgs_core import engine
from dgs_core.base import VectorHit
from dgs_core.conf import ChunkingConfig
from dgs_core.ids import DocumentRef
from dgs_core.indexing.chunking import Chunker, StoredHash, collapse, entry_ids
from dgs_core.indexing.outbox import drift
from dgs_core.searching.fusion import reciprocal_rank_fusion
from tests.factories import make_catalogue
from tests.rest_support import graph_search, index_everything
from tests.shop.models import Product

pytestmark = pytest.mark.django_db


def hit(doc_id, score=0.5):
    model, pk = doc_id.split(":")
    return VectorHit(doc_id, model, pk, score, f"text of {doc_id}")


def test_reciprocal_rank_fusion_by_hand():
    vector = [hit("a:1"), hit("a:2"), hit("a:3")]
    keyword = [hit("a:3"), hit("a:1")]
    fused = reciprocal_rank_fusion([vector, keyword], 3, weights=[1.0, 0.5], rrf_k=60)
    totals = {"a:1": 1 / 61 + 0.5 / 62, "a:2": 1 / 62, "a:3": 1 / 63 + 0.5 / 61}
    best = 1 / 61 + 0.5 / 61
    assert [h.id for h in fused] == sorted(totals, key=lambda i: -totals[i])
    assert [h.score for h in fused] == pytest.approx([totals[h.id] / best for h in fused])
    assert reciprocal_rank_fusion([[hit("a:1")], [hit("a:1")]], 5)[0].score == pytest.approx(1.0)


def test_collapse_keeps_the_best_chunk_of_each_object():
    hits = [VectorHit("a:1#2", "a", "1", 0.9, "chunk two"), hit("a:2", 0.8), hit("a:1", 0.7),
            VectorHit("a:2#1", "a", "2", 0.6, "chunk one")]
    collapsed = collapse(hits)
    assert [(h.id, h.score, h.text) for h in collapsed] == [("a:1", 0.9, "chunk two"), ("a:2", 0.8, "text of a:2")]
    owner = DocumentRef.parse("shop.product:7")
    assert DocumentRef.parse_entry("shop.product:7#3").document == owner == DocumentRef.parse_entry("shop.product:7")
    assert StoredHash.parse("abc/3") == ("abc", 3) and StoredHash.parse("abc") == ("abc", 1)


def test_chunker_windows_overlap_and_cover_the_text():
    embedder = engine.get_embedder()
    chunker = Chunker.for_embedder(embedder, ChunkingConfig(max_tokens=10, overlap_tokens=3, max_chunks=64))
    text = " ".join(f"w{i}" for i in range(25))
    ranges, truncated = chunker.split(text)
    words = [text[s:e].split() for s, e in ranges]
    assert not truncated and [len(w) for w in words] == [10, 10, 10, 4]
    assert words[1][:3] == words[0][-3:] and words[-1][-1] == "w24"
    short, _ = chunker.split("just a few words")
    assert short == [(0, len("just a few words"))]
    capped = Chunker.for_embedder(embedder, ChunkingConfig(max_tokens=10, overlap_tokens=0, max_chunks=2))
    assert capped.split(text) == ([(0, 29), (30, 69)], True)


@pytest.fixture
def catalogue():
    data = make_catalogue()
    index_everything()
    return data


def test_keyword_mode_finds_exact_words_and_hybrid_fuses_both(catalogue):
    keyword = dgs_core.search("hose", mode="keyword")
    assert [h.pk for h in keyword] == [catalogue["hose"].pk]
    assert keyword.mode == "keyword" and 0 < keyword[0].score <= 1
    hybrid = dgs_core.search("green garden hose", mode="hybrid")
    assert hybrid[0].pk == catalogue["hose"].pk and all(0 <= h.score <= 1 for h in hybrid)
    assert dgs_core.search("hose").mode == "hybrid"  # the default, since the memory store has keyword search
    with pytest.raises(dgs_core.exceptions.InvalidParameterError, match="'mode' must be one of"):
        dgs_core.search("hose", mode="fuzzy")


def test_without_keyword_search_the_default_falls_back_and_explicit_modes_fail(catalogue, monkeypatch):
    store = engine.get_vector_store()
    monkeypatch.setattr(type(store), "capabilities", frozenset({"filters"}))
    assert dgs_core.search("hose").mode == "vector"
    with pytest.raises(dgs_core.exceptions.InvalidParameterError, match="has no keyword search"):
        dgs_core.search("hose", mode="hybrid")


def test_matched_names_the_path_and_snippet(catalogue):
    hits = dgs_core.search("rugged", mode="keyword", models="shop.Product")
    assert hits[0].matched.path == "brand__description" and hits[0].matched.snippet == "Rugged outdoor gear"
    by_tag = dgs_core.search("5G", mode="keyword", models="shop.Product")
    assert by_tag[0].matched.path == "tags__name"
    with override_settings(GRAPH_SEARCH=graph_search(EXPLAIN_MATCHES="off")):
        assert dgs_core.search("rugged", mode="keyword")[0].matched is None


def test_a_query_by_meaning_is_explained_by_the_closest_value(catalogue, caplog):
    # No word of the query is in the phone's text; the hashing embedder's character trigrams make
    # "smartphones" closest to the product name "Acme X1 smartphone".
    hits = dgs_core.search("smartphones", mode="vector", models="shop.Product")
    assert hits[0].pk == catalogue["phone"].pk
    assert hits[0].matched.path == "name" and hits[0].matched.snippet == "Acme X1 smartphone"
    with override_settings(GRAPH_SEARCH=graph_search(DELTA_INDEXING=False)):  # no embedding cache at all
        again = dgs_core.search("smartphones", mode="vector", models="shop.Product")
        assert again[0].matched.path == "name"
    assert "Explaining" not in caplog.text  # explained by meaning, not by the lexical fallback after a failure


def long_settings(**chunking):
    return graph_search(CHUNKING={"MAX_TOKENS": 12, "OVERLAP_TOKENS": 2, **chunking})


def test_long_documents_are_chunked_collapsed_and_explained(catalogue):
    with override_settings(GRAPH_SEARCH=long_settings()):
        index_everything()  # chunking is part of each document's version: re-index under these settings
        phone = catalogue["phone"]
        phone.description = " ".join(["filler words about nothing much"] * 8) + " waterproof titanium frame"
        phone.save()
        stats = dgs_core.index(phone)
        store = engine.get_vector_store()
        doc_id = f"shop.product:{phone.pk}"
        chunks = StoredHash.parse(store.content_hashes([doc_id])[doc_id]).chunks
        assert chunks > 2 and stats.chunked == chunks - 1
        assert sorted(i for i in store.iter_ids(["shop.product"]) if i.startswith(doc_id)) == sorted(
            entry_ids(doc_id, chunks))
        hits = dgs_core.search("titanium", mode="keyword")
        assert [h.id for h in hits] == [doc_id]
        assert hits[0].matched.path == "description" and "titanium" in hits[0].matched.snippet
        assert "titanium" in hits[0].text and len(hits[0].text) < len(phone.description)
        vector_hits = dgs_core.search("waterproof titanium frame", mode="vector", limit=5)
        assert len({h.id for h in vector_hits}) == len(vector_hits)  # one hit per object
        assert drift() == {"outdated": [], "stale": []}

        phone.description = "short again"
        phone.save()
        dgs_core.index(phone)
        fewer = StoredHash.parse(store.content_hashes([doc_id])[doc_id]).chunks
        assert fewer < chunks  # the chunks it no longer has are gone
        assert sorted(i for i in store.iter_ids(["shop.product"]) if i.startswith(doc_id)) == sorted(
            entry_ids(doc_id, fewer))
        assert dgs_core.search("titanium", mode="keyword") == []
        dgs_core.delete(phone)
        assert not [i for i in store.iter_ids() if i.startswith(doc_id)]


def test_deleting_a_chunked_object_removes_every_chunk(catalogue):
    with override_settings(GRAPH_SEARCH=long_settings()):
        hose = catalogue["hose"]
        hose.description = "long " * 60
        hose.save()
        dgs_core.index(hose)
        Product.objects.filter(pk=hose.pk).delete()
        dgs_core.delete(hose)
        assert not [i for i in engine.get_vector_store().iter_ids() if i.startswith(f"shop.product:{hose.pk}")]


@pytest.mark.django_db(transaction=True)  # the search's worker thread has its own database connection
def test_asearch_keeps_the_event_loop_running(catalogue):
    ticks, finished = [], threading.Event()
    started_in = []

    async def ticker():
        while not finished.is_set():
            ticks.append(1)
            await asyncio.sleep(0.001)

    async def main():
        task = asyncio.create_task(ticker())
        try:
            results = await dgs_core.asearch("rugged phone", mode="hybrid")
            started_in.append(threading.current_thread().name)
        finally:
            finished.set()
            await task
        return results

    results = asyncio.run(main())
    assert results and results[0].object == catalogue["phone"]  # loaded in the worker thread
    assert results[0].matched is not None
    assert ticks  # the loop ran the ticker while the search was busy in its worker thread


def test_async_search_view_answers_through_the_async_client(catalogue):
    from django.test import AsyncClient

    async def call():
        return await AsyncClient().get("/api/search/", {"q": "rugged phone", "mode": "keyword"})

    response = asyncio.run(call())
    assert response.status_code == 200 and response.json()["results"][0]["pk"] == catalogue["phone"].pk


def spans_hit(doc_id, sections, score=0.5):
    """A hit whose text and spans are what the indexer stores for ``sections`` ((path, value) pairs)."""
    from dgs_core.documents import Section
    from dgs_core.indexing.chunking import SHOWN_FROM_KEY, SPANS_KEY, encode_spans, section_spans
    from dgs_core.indexing.text import classic_text, weight_prefix

    built = [Section(path, path, [value], 2.0 if path == "name" else 1.0) for path, value in sections]
    text, prefix = classic_text(built), weight_prefix(built)  # the weight prefix is stored, the spans skip it
    model, pk = doc_id.split(":")
    spans = encode_spans(section_spans(text, built), 0, len(text))
    return VectorHit(doc_id, model, pk, score, prefix + text, {SPANS_KEY: spans, SHOWN_FROM_KEY: len(prefix)})


def test_field_match_coverage_by_hand():
    from dgs_core.searching.explain import stems
    from dgs_core.searching.phrases import INSIDE_COVERAGE, coverage, promote_field_matches

    genre = spans_hit("m.t:1", [("name", "Formosa"), ("genre__name", "Bossa Nova")], 0.4)
    title = spans_hit("m.t:2", [("name", "Bossa"), ("genre__name", "Hip Hop/Rap")], 0.9)
    code = spans_hit("m.t:3", [("name", "Concerto in E, RV 269: Allegro"), ("genre__name", "Classical")], 0.6)
    album = spans_hit("m.t:4", [("name", "Whole Lotta Rosie"), ("album__title", "Let There Be Rock"),
                                ("genre__name", "Rock")], 0.3)
    assert coverage(genre, tuple(stems("bossa nova"))) == 1.0
    assert coverage(title, tuple(stems("Bossa Nova"))) == 0.5
    assert coverage(code, tuple(stems("rv 269"))) == INSIDE_COVERAGE
    assert coverage(album, tuple(stems("tracks on the album Let There Be Rock"))) == 0.5  # 4 of 8 words
    assert coverage(album, tuple(stems("gentle jazz songs"))) == 0.0
    # "bossa nova": the genre first, the half-covering title next, scores never rising down the list.
    ranked = promote_field_matches([title, code, genre, album], "bossa nova", 0.3)
    assert [h.id for h in ranked] == ["m.t:1", "m.t:2", "m.t:3", "m.t:4"]
    assert [h.score for h in ranked] == [0.9, 0.9, 0.6, 0.3]
    # A description covering one word in five ("rock") promotes nothing: the order and scores stay.
    hits = [title, code, album]
    assert promote_field_matches(hits, "loud guitars and rock drums", 0.3) == hits
