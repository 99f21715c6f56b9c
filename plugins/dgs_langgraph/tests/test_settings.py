"""GRAPH_SEARCH["LANGGRAPH"]: this plugin's section, parsed by dgs-core's parser (every contract key and default,
typed errors), and the configuration the reranked mode of `manage.py search_eval` measures."""

import pytest

from dgs_core.conf import parse_config
from dgs_core.plugins import get_registry
from dgs_langgraph.settings import SECTION, LangGraphConfig, langgraph_settings


def ids(problems):
    return sorted(p.id for p in problems)


def test_defaults_cover_the_contract():
    config, problems = parse_config({})
    assert problems == []
    lg = langgraph_settings(config)
    assert config.section(SECTION) == lg == LangGraphConfig()
    assert (lg.enabled, lg.query_expansion, lg.reranking, lg.max_expanded_queries, lg.rerank_top_k) == (
        False, True, True, 3, 20)
    assert (lg.timeout_seconds, lg.max_query_length) == (15, 1024)
    assert (lg.fallback_on_error, lg.use_for_similar) == (True, False)
    assert (lg.llm.backend, lg.llm.model, lg.llm.options) == (None, None, {})
    assert lg.reranker.backend == "llm"


def test_contract_example_parses():
    config, problems = parse_config({
        "LANGGRAPH": {"ENABLED": False, "QUERY_EXPANSION": True, "RERANKING": True, "MAX_EXPANDED_QUERIES": 3,
                      "RERANK_TOP_K": 20, "TIMEOUT_SECONDS": 15, "MAX_QUERY_LENGTH": 1024, "FALLBACK_ON_ERROR": True,
                      "USE_FOR_SIMILAR": False, "LLM": {"BACKEND": None, "MODEL": None, "OPTIONS": {}}},
    })
    assert problems == []
    assert langgraph_settings(config) == LangGraphConfig()


def test_nested_llm_and_reranker_are_parsed():
    config, problems = parse_config({"LANGGRAPH": {
        "ENABLED": True, "LLM": {"BACKEND": "tests.test_llm.OptionsLLM", "MODEL": "m", "OPTIONS": {"BASE_URL": "x"}},
        "RERANKER": {"BACKEND": "cross-encoder", "MODEL_NAME": "ms-marco", "OPTIONS": {"BATCH_SIZE": 8}}}})
    assert problems == []
    lg = langgraph_settings(config)
    assert (lg.llm.backend, lg.llm.model, lg.llm.options) == ("tests.test_llm.OptionsLLM", "m", {"BASE_URL": "x"})
    assert (lg.reranker.backend, lg.reranker.model_name, lg.reranker.options) == (
        "cross-encoder", "ms-marco", {"batch_size": 8})


@pytest.mark.parametrize("raw, expected", [
    ({"LANGGRAPH": {"TIMEOUT_SECONDS": True}}, ["dgs.E002"]),
    ({"LANGGRAPH": []}, ["dgs.E002"]),
    ({"LANGGRAPH": {"LLM": "gpt"}}, ["dgs.E002"]),
    ({"LANGGRAPH": {"RERANKER": {"OPTIONS": {}}}}, ["dgs.E002"]),
    ({"LANGGRAPH": {"RERANK_TOPK": 5}}, ["dgs.W001"]),
    ({"LANGGRAPH": {"LLM": {"MODLE": "x"}}}, ["dgs.W001"]),
])
def test_mistakes_become_problems_naming_the_key(raw, expected):
    _config, problems = parse_config(raw)
    assert ids(problems) == expected
    assert all("GRAPH_SEARCH['LANGGRAPH']" in p.msg for p in problems)


def test_the_reranked_mode_reranks_without_expansion_or_fallback():
    config, _ = parse_config({"LANGGRAPH": {"ENABLED": False, "RERANK_TOP_K": 10}})
    reranked = get_registry().hook.dgs_reranked_search(config=config, candidates=20)
    settings = langgraph_settings(reranked.config)
    assert (settings.enabled, settings.reranking, settings.query_expansion, settings.fallback_on_error) == (
        True, True, False, False)
    assert settings.rerank_top_k == 20 and reranked.unavailable is None
    assert reranked.note.startswith("LANGGRAPH reranker 'llm' over the best 20 ")
    assert langgraph_settings(config).enabled is False  # the project's configuration is left as it was


def test_the_reranked_mode_says_when_its_reranker_is_missing():
    config, _ = parse_config({"LANGGRAPH": {"RERANKER": {"BACKEND": "colbert"}}})
    reranked = get_registry().hook.dgs_reranked_search(config=config, candidates=20)
    assert "the reranker 'colbert' of LANGGRAPH['RERANKER'] is not available" in reranked.unavailable
