"""The langgraph pipeline on real components (core's hashing embedder and memory store, the keyword LLM backend):
routing, expansion with RRF fusion, reranking, similar-search, and identical answers from both runners."""

import pytest
from django.test import override_settings

import dgs_core
from dgs_core import engine
from dgs_core.conf import get_config, reset_config
from dgs_core.plugins import get_registry
from dgs_core.searching.events import hub
from dgs_core.searching.pipeline import SearchRequest, retrieve
from dgs_langgraph.graph import SEQUENTIAL_ENV, LangGraphPipeline
from dgs_langgraph.llm import KeywordBackend
from tests.catalog.models import Track
from tests.conftest import graph_search, plain

pytestmark = pytest.mark.django_db
QUERIES = ["show me tracks by Iron Maiden", "jazz with a trumpet", "Master of Puppets", "queen opera", "heavy metal"]


def ranking(query, **kwargs):
    return [(hit.id, round(hit.score, 9)) for hit in dgs_core.search(query, **kwargs)]


@pytest.fixture
def events():
    received = []
    unsubscribe = hub.subscribe(received.append)
    yield received
    unsubscribe()


def test_the_pipeline_answers_only_while_enabled(catalogue, runner):
    with override_settings(GRAPH_SEARCH=plain()):
        assert get_registry().hook.dgs_search_pipeline(config=get_config()).__class__.__name__ == "VectorSearchPipeline"
    with override_settings(GRAPH_SEARCH=graph_search()):
        pipeline = get_registry().hook.dgs_search_pipeline(config=get_config())
        assert isinstance(pipeline, LangGraphPipeline)
        assert pipeline.uses_langgraph is (runner == "langgraph")


def test_both_runners_give_identical_answers(catalogue, monkeypatch):
    answers = {}
    for mode in ("langgraph", "sequential"):
        if mode == "sequential":
            monkeypatch.setenv(SEQUENTIAL_ENV, "1")
        reset_config()
        with override_settings(GRAPH_SEARCH=graph_search(RERANK_TOP_K=6)):
            answers[mode] = [ranking(query, limit=8) for query in QUERIES]
    assert answers["langgraph"] == answers["sequential"]
    assert all(answers["langgraph"])


def test_without_expansion_and_reranking_it_is_plain_vector_search(catalogue, runner):
    with override_settings(GRAPH_SEARCH=plain()):
        expected = [ranking(query, limit=8) for query in QUERIES]
    with override_settings(GRAPH_SEARCH=graph_search(QUERY_EXPANSION=False, RERANKING=False)):
        assert [ranking(query, limit=8) for query in QUERIES] == expected


def test_expanded_queries_are_searched_and_fused_by_reciprocal_rank(catalogue, runner, events):
    query, k = "show me tracks by Iron Maiden", 8
    with override_settings(GRAPH_SEARCH=graph_search(RERANKING=False, MAX_EXPANDED_QUERIES=3)):
        hits = dgs_core.search(query, limit=k)
        expanded = [e.data["queries"] for e in events if e.name == "expanded"]
        assert expanded == [[query, *KeywordBackend().expand_query(query, [m.model_label for m in get_config().models],
                                                                   3)]]
        # The oracle: every query's own ranking, fused by 1 / (60 + rank), ties in first-seen order.
        store = engine.get_vector_store()
        embedder = engine.get_search_embedder(store)
        totals = {}
        for variant in expanded[0]:
            for rank, hit in enumerate(store.search(embedder.embed_query(variant), k)):
                totals[hit.id] = totals.get(hit.id, 0.0) + 1 / (61 + rank)
    assert len(expanded[0]) == 2  # "Iron Maiden" was added
    assert [hit.id for hit in hits] == sorted(totals, key=lambda doc_id: -totals[doc_id])[:k]
    best = len(expanded[0]) / 61
    assert [hit.score for hit in hits] == pytest.approx([totals[hit.id] / best for hit in hits])


def test_reranking_reorders_the_top_candidates_and_keeps_the_rest_behind(catalogue, runner, events):
    query = "Blue Kind of Miles"
    with override_settings(GRAPH_SEARCH=plain()):
        store = engine.get_vector_store()
        request = SearchRequest(query=query, k=10, models=None, min_score=None, config=get_config(),
                                embedder=engine.get_search_embedder(store), store=store)
        candidates = retrieve(request, request.k)
    reranked = [hit.id for hit in KeywordBackend().rerank(query, candidates[:4], 4)]
    with override_settings(GRAPH_SEARCH=graph_search(QUERY_EXPANSION=False, RERANK_TOP_K=4)):
        hits = dgs_core.search(query, limit=10)
    assert [hit.id for hit in hits] == reranked + [hit.id for hit in candidates if hit.id not in reranked]
    scores = [hit.score for hit in hits]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    assert [e.data for e in events if e.name == "reranked"] == [{"reranker": "llm", "candidates": 4}]


def test_a_backend_need_not_subclass_anything_and_cannot_invent_results(catalogue, runner):
    with override_settings(GRAPH_SEARCH=plain()):
        expected = [hit.id for hit in dgs_core.search("heavy metal", limit=8)]
    for backend in ("tests.backends.ReversingLLM", "tests.backends.InventingLLM"):
        reset_config()
        with override_settings(GRAPH_SEARCH=graph_search(RERANK_TOP_K=5, LLM={"BACKEND": backend})):
            hits = [hit.id for hit in dgs_core.search("heavy metal", limit=8)]
        assert hits == expected[:5][::-1] + expected[5:], backend


def test_min_score_filters_candidates_by_similarity_before_fusion(catalogue, runner):
    with override_settings(GRAPH_SEARCH=plain()):
        scores = [hit.score for hit in dgs_core.search("show me tracks by Iron Maiden", limit=20)]
    threshold = scores[2]
    with override_settings(GRAPH_SEARCH=graph_search(QUERY_EXPANSION=False, RERANKING=False)):
        assert len(dgs_core.search("show me tracks by Iron Maiden", limit=20, min_score=threshold)) == 3


def test_similar_search_skips_the_pipeline_unless_use_for_similar(catalogue, runner, events):
    track = Track.objects.get(name="Aces High")
    with override_settings(GRAPH_SEARCH=plain()):
        expected = [hit.id for hit in dgs_core.get_similar(track, limit=5, models="catalog.Track")]
    with override_settings(GRAPH_SEARCH=graph_search(LLM={"BACKEND": "tests.backends.ReversingLLM"})):
        assert [hit.id for hit in dgs_core.get_similar(track, limit=5, models="catalog.Track")] == expected
        assert not [e for e in events if e.name == "reranked"]
    reset_config()
    with override_settings(GRAPH_SEARCH=graph_search(USE_FOR_SIMILAR=True, RERANK_TOP_K=20,
                                                     LLM={"BACKEND": "tests.backends.ReversingLLM"})):
        hits = [hit.id for hit in dgs_core.get_similar(track, limit=5, models="catalog.Track")]
    assert [e.name for e in events if e.name in ("expanded", "reranked")] == ["reranked"]
    assert f"catalog.track:{track.pk}" not in hits
    # Reversed: the least similar of the (at most 20) candidates come first now.
    assert hits[0] not in expected and len(hits) == 5


def test_each_query_is_retrieved_by_the_search_mode(catalogue, runner, events):
    """In hybrid mode every query (original and expansions) runs both legs before the queries are fused."""
    with override_settings(GRAPH_SEARCH=graph_search(RERANKING=False, MAX_EXPANDED_QUERIES=3)):
        hits = dgs_core.search("show me tracks by Iron Maiden", limit=5, mode="hybrid")
        keyword = dgs_core.search("Aces High", limit=3, mode="keyword")
    assert hits and all(0 <= hit.score <= 1 for hit in hits)
    assert keyword[0].object.name == "Aces High"
    assert not [e for e in events if e.name == "keyword_search_completed"]  # the pipeline reports its own step


def test_reranking_keeps_rows_naming_the_query_whole_ahead(catalogue, runner):
    """"Heavy Metal" names the genre of Iron Maiden's four tracks whole: a reranker that reverses its candidates
    orders them among themselves but does not push them behind the rest (``HYBRID["FIELD_MATCH"]``)."""
    heavy = {f"catalog.track:{pk}" for pk in Track.objects.filter(genre="Heavy Metal").values_list("pk", flat=True)}
    reversing = {"LLM": {"BACKEND": "tests.backends.ReversingLLM"}, "QUERY_EXPANSION": False, "RERANK_TOP_K": 8}
    with override_settings(GRAPH_SEARCH=graph_search(**reversing)):
        hits = [hit.id for hit in dgs_core.search("Heavy Metal", mode="hybrid", limit=8)]
    assert set(hits[:4]) == heavy
    off = graph_search(**reversing)
    off["HYBRID"] = {**off.get("HYBRID", {}), "FIELD_MATCH": False}
    reset_config()
    with override_settings(GRAPH_SEARCH=off):
        unpromoted = [hit.id for hit in dgs_core.search("Heavy Metal", mode="hybrid", limit=8)]
    assert set(unpromoted[:4]) != heavy  # the reversed order: plain fusion ranked them first, now last
