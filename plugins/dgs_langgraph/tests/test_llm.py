"""The LLM backend contract: loading by dotted path, the deterministic keyword backend, prompts and reply parsing,
and the `manage.py check` messages of LANGGRAPH."""

import pytest
from django.core import checks
from django.test import override_settings

from dgs_core.base import VectorHit
from dgs_core.exceptions import ConfigurationError
from dgs_langgraph.llm import (
    CANDIDATE_PREVIEW,
    KeywordBackend,
    LLMReplyError,
    LLMReranker,
    keywords,
    load_llm,
    parse_json_list,
    rerank_messages,
)
from dgs_langgraph.settings import LLMConfig

BASE = {"VECTOR_STORE": {"BACKEND": "memory"}, "EMBEDDINGS": {"default": {"BACKEND": "hashing"}},
        "MODELS": [{"model": "catalog.Track", "fields": ["name", "album__title"]}]}
MODELS = ["music.track", "music.album", "music.artist"]


class OptionsLLM:
    """A backend a project writes itself: no base class, options as keyword arguments."""

    def __init__(self, model=None, base_url=None, temperature=0.0):
        self.model, self.base_url, self.temperature = model, base_url, temperature

    def expand_query(self, query, models, max_variants):
        return []

    def rerank(self, query, candidates, top_k):
        return list(candidates)[:top_k]


class HalfABackend:
    def expand_query(self, query, models, max_variants):
        return []


def hit(n, text, score):
    return VectorHit(f"music.track:{n}", "music.track", str(n), score, text)


def test_keyword_expansion_keeps_the_words_that_carry_intent():
    backend = KeywordBackend()
    assert keywords("Show me the tracks by Iron Maiden, please", MODELS) == ["Iron", "Maiden"]
    assert backend.expand_query("show me tracks by Iron Maiden", MODELS, 3) == ["Iron Maiden"]
    assert backend.expand_query("heavy metal albums", MODELS, 3) == ["heavy metal"]
    assert backend.expand_query("Iron Maiden", MODELS, 3) == []  # nothing to add: no variant equals the query
    assert backend.expand_query("show me tracks by Iron Maiden", MODELS, 0) == []


def test_keyword_reranking_prefers_texts_holding_the_query_words():
    candidates = [hit(1, "Aces High. Powerslave. Heavy Metal", 0.62), hit(2, "Kind of Blue. Miles Davis", 0.60),
                  hit(3, "Iron Maiden. Powerslave. The Number of the Beast", 0.41)]
    ranked = KeywordBackend().rerank("songs by Iron Maiden", candidates, 2)
    assert [h.id for h in ranked] == ["music.track:3", "music.track:1"]
    assert ranked[0].score > ranked[1].score and all(0 <= h.score <= 1 for h in ranked)
    assert KeywordBackend().rerank("songs by Iron Maiden", candidates, 2) == ranked  # deterministic
    # Filler words alone carry no intent: the vector order stands.
    assert [h.id for h in KeywordBackend().rerank("show me some", candidates, 3)] == [h.id for h in candidates]


def test_reply_parsing_finds_the_json_array_among_prose():
    assert parse_json_list('```json\n["a", "b"]\n```') == ["a", "b"]
    assert parse_json_list("Sure! The ranking is [3, 1, 2]. Hope it helps [sic]") == [3, 1, 2]
    assert parse_json_list('[not json] then [{"id": 2}]') == [{"id": 2}]
    with pytest.raises(LLMReplyError, match="no JSON array"):
        parse_json_list("I cannot help with that.")


def test_rerank_prompt_numbers_the_candidates_and_shortens_their_text():
    long_text = "word " * 500
    messages = rerank_messages("metal", [hit(1, "Aces High", 0.5), hit(2, long_text, 0.4)], 2)
    lines = messages[-1]["content"].splitlines()
    assert lines[0] == "Query: metal" and lines[3] == "[1] (music.track) Aces High"
    assert lines[4].startswith("[2] (music.track) word") and len(lines[4]) <= CANDIDATE_PREVIEW + 20


def test_load_llm_takes_any_class_with_the_two_methods():
    assert isinstance(load_llm(LLMConfig()), KeywordBackend)
    options = {"BASE_URL": "http://x", "TEMPERATURE": 1}
    backend = load_llm(LLMConfig("tests.test_llm.OptionsLLM", "local-model", options))
    assert (backend.model, backend.base_url, backend.temperature) == ("local-model", "http://x", 1)


@pytest.mark.parametrize("config, message", [
    (LLMConfig("tests.nowhere.LLM"), "cannot be imported"),
    (LLMConfig("tests.test_llm.HalfABackend"), "has no rerank method"),
    (LLMConfig("tests.test_llm.OptionsLLM", options={"API_VERSION": 2}), "rejected MODEL or OPTIONS"),
])
def test_an_unusable_backend_is_a_configuration_error_naming_the_setting(config, message):
    with pytest.raises(ConfigurationError, match=message) as error:
        load_llm(config)
    assert "GRAPH_SEARCH['LANGGRAPH']['LLM']['BACKEND']" in str(error.value)


def test_the_llm_reranker_uses_the_configured_backend():
    with override_settings(GRAPH_SEARCH={**BASE, "LANGGRAPH": {"LLM": {"BACKEND": "tests.test_llm.OptionsLLM"}}}):
        reranker = LLMReranker()
    assert isinstance(reranker.llm, OptionsLLM)
    candidates = [hit(1, "a", 0.9), hit(2, "b", 0.8), hit(3, "c", 0.7)]
    assert reranker.rerank("q", candidates, 2) == candidates[:2]


def dgs_messages(**graph_search):
    with override_settings(GRAPH_SEARCH={**BASE, **graph_search}):
        return [(m.id, m.msg) for m in checks.run_checks() if m.id.startswith("dgs.")]


def test_checks_report_the_llm_backend_and_reranker_when_langgraph_is_on():
    assert dgs_messages(LANGGRAPH={"ENABLED": False, "LLM": {"BACKEND": "tests.nowhere.LLM"}}) == []
    messages = dgs_messages(LANGGRAPH={"ENABLED": True, "LLM": {"BACKEND": "tests.nowhere.LLM"},
                                       "RERANKER": {"BACKEND": "colbert"}})
    ids = {id_ for id_, _msg in messages}
    assert {"dgs.E010", "dgs.E007"} <= ids
    assert any("GRAPH_SEARCH['LANGGRAPH']['RERANKER']" in msg and "colbert" in msg for _id, msg in messages)
    (half,) = [m for m in dgs_messages(LANGGRAPH={"ENABLED": True, "LLM": {"BACKEND": "tests.test_llm.HalfABackend"}})
               if "LLM" in m[1]]
    assert half[0] == "dgs.E007" and "has no rerank method" in half[1]


def test_checks_report_option_mistakes_of_the_llm_backend_and_the_reranker_without_building_them(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    chat = {"BACKEND": "dgs_langgraph.openai_chat.OpenAIChatLLM", "MODEL": "m",
            "OPTIONS": {"BASE_URL": "http://127.0.0.1:1/v1", "TEMPERATUR": 0.2}}
    messages = dgs_messages(LANGGRAPH={"ENABLED": True, "LLM": chat,
                                       "RERANKER": {"BACKEND": "bi-encoder", "OPTIONS": {"MAX_PASSAGES": 0}}})
    assert [id_ for id_, _msg in messages] == ["dgs.E009", "dgs.E009"]
    assert messages[0][1] == ("GRAPH_SEARCH['LANGGRAPH']['LLM']['OPTIONS'] has unknown keys TEMPERATUR; "
                              "OpenAIChatLLM accepts BASE_URL, API_KEY, TIMEOUT, TEMPERATURE. "
                              "Did you mean TEMPERATURE for TEMPERATUR?")
    assert messages[1][1] == ("GRAPH_SEARCH['LANGGRAPH']['RERANKER']['OPTIONS']['MAX_PASSAGES'] must be a positive "
                              "integer, not 0.")
