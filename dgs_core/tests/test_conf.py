"""GRAPH_SEARCH parsing: every contract key and default, typed errors, legacy aliases."""

import warnings

import pytest
from django.test import override_settings

from dgs_core.conf import DEFAULT_EMBEDDING_MODEL, get_config, parse_config
from dgs_core.exceptions import ConfigurationError


def ids(problems):
    return sorted(p.id for p in problems)


def test_defaults_cover_the_contract():
    config, problems = parse_config({})
    assert problems == []
    assert config.vector_store.backend == "faiss"
    assert config.embedding.backend == "sentence-transformers"
    assert config.embedding.model_name == DEFAULT_EMBEDDING_MODEL == (
        "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2")
    assert (config.default_embedding, config.default_results_limit) == ("default", 20)
    assert config.delta_indexing is True and config.cache.backend == "file" and config.cache.ttl == 86400
    assert config.auto_index and config.auto_index_non_blocking
    assert config.auto_index_skip_update_fields == ("last_login",)
    assert (config.async_indexing.enabled, config.async_indexing.backend) == (False, "thread")
    assert config.api.require_authentication is False and config.api.permission_classes == []
    assert config.api.throttle_rates == {"search": "60/minute", "search_authenticated": "300/minute"}
    assert config.admin_search_enabled is True
    assert (config.smart_indexing.enabled, config.smart_indexing.templates) == (False, {})
    assert (config.streaming.enabled, config.streaming.format) == (False, "ndjson")
    conv = config.conversational
    assert (conv.enabled, conv.memory_backend, conv.max_history_items, conv.allow_clarifications) == (
        False, "inmemory", 10, True)


def test_contract_example_parses():
    config, problems = parse_config({
        "MODELS": [
            {"model": "shop.Product", "fields": ["name", "category__name"], "follow_relations": True,
             "relation_depth": 2, "weight_fields": {"name": 2.0, "internal_note": 0.0}},
            {"model": "shop.Review", "fields": "__all__"},
        ],
        "VECTOR_STORE": {"BACKEND": "faiss", "OPTIONS": {"PATH": "var/vectors"}},
        "EMBEDDINGS": {"default": {"BACKEND": "sentence-transformers", "MODEL_NAME": "m",
                                   "OPTIONS": {"DEVICE": "cpu"}}},
        "CACHE": {"BACKEND": "db", "OPTIONS": {"alias": "default"}, "TTL": 86400},
    })
    assert problems == []
    product, review = config.models
    assert product.fields == ("name", "category__name") and product.weight_fields["internal_note"] == 0.0
    assert review.all_fields and review.model_label == "shop.review"
    assert config.vector_store.options == {"path": "var/vectors"}
    assert config.embedding.options == {"device": "cpu"} and config.embedding.model_name == "m"


@pytest.mark.parametrize("raw, expected", [
    ([], ["dgs.E001"]),
    ({"DEFAULT_RESULTS_LIMIT": "20"}, ["dgs.E002"]),
    ({"AUTO_INDEX": 1}, ["dgs.E002"]),
    ({"MODELS": {"model": "shop.Product"}}, ["dgs.E003"]),
    ({"MODELS": [{"fields": ["name"]}]}, ["dgs.E003"]),
    ({"MODELS": [{"model": "shop.Product", "relation_depth": -1}]}, ["dgs.E002"]),
    ({"MODELS": [{"model": "shop.Product", "weight_fields": {"name": "high"}}]}, ["dgs.E002"]),
    ({"MODELS": [{"model": "shop.Product"}, {"model": "shop.product"}]}, ["dgs.E003"]),
    ({"EMBEDDINGS": {"x": {"BACKEND": "hashing"}}}, ["dgs.E004"]),
    ({"VECTOR_STORE": {"OPTIONS": {}}}, ["dgs.E002"]),
    ({"VECTOR_STORE": {"BACKEND": "memory", "OPTIONS": []}}, ["dgs.E002"]),
    ({"VECTOR_STORE": {"BACKEND": "memory", "OPTIONS": {"COLLECTION": "x"}}}, ["dgs.E002"]),
    ({"DEFAULT_RESULT_LIMIT": 5}, ["dgs.W001"]),
    ({"MODELS": [{"model": "shop.Product", "feilds": ["name"]}]}, ["dgs.W001"]),
])
def test_mistakes_become_problems_naming_the_key(raw, expected):
    _config, problems = parse_config(raw)
    assert ids(problems) == expected
    assert all("GRAPH_SEARCH" in p.msg or "settings.GRAPH_SEARCH" in p.msg for p in problems)


@pytest.mark.parametrize(("raw", "hint"), [
    ({"VECTOR_STROE": {"BACKEND": "memory"}}, "Did you mean 'VECTOR_STORE'?"),
    ({"explain_matchs": "off"}, "Did you mean 'EXPLAIN_MATCHES'?"),
    ({"HYBRID": {"DEFALT_MODE": "vector"}}, "Did you mean 'DEFAULT_MODE'?"),
    ({"MODELS": [{"model": "shop.Product", "feilds": ["name"]}]}, "Did you mean 'fields'?"),
])
def test_a_misspelt_key_gets_the_key_it_resembles(raw, hint):
    _config, problems = parse_config(raw)
    assert [(p.id, p.hint) for p in problems] == [("dgs.W001", hint)]


def test_a_key_like_no_other_gets_the_list_of_known_keys():
    (problem,) = parse_config({"COMPLETELY_DIFFERENT": 1})[1]
    assert problem.id == "dgs.W001" and "VECTOR_STORE" in problem.hint and "Did you mean" not in problem.hint


@pytest.mark.parametrize("floor", [-0.1, 1.5, "0.5", True])
def test_the_match_floor_is_a_similarity_from_0_to_1(floor):
    _config, problems = parse_config({"EXPLAIN_MIN_SIMILARITY": floor})
    assert ids(problems) == ["dgs.E002"] and "EXPLAIN_MIN_SIMILARITY" in problems[0].msg
    for fine in (None, 0, 0.45, 1):
        config, problems = parse_config({"EXPLAIN_MIN_SIMILARITY": fine})
        assert problems == [] and config.explain_min_similarity == fine


def test_legacy_backend_paths_are_aliases_with_a_deprecation_warning():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        config, problems = parse_config({
            "VECTOR_STORE": {"BACKEND": "django_graph_search.backends.FaissBackend",
                             "OPTIONS": {"persist_path": "var/x"}},
            "EMBEDDINGS": {"default": {"BACKEND": "django_graph_search.embeddings.SentenceTransformerBackend",
                                       "MODEL_NAME": "all-MiniLM-L6-v2"}},
        })
    assert config.vector_store.backend == "faiss" and config.embedding.backend == "sentence-transformers"
    assert config.vector_store.legacy_path == "django_graph_search.backends.FaissBackend"
    assert ids(problems) == ["dgs.W002", "dgs.W002"]
    assert sum(issubclass(w.category, DeprecationWarning) for w in caught) == 2


def test_get_config_raises_with_every_error_and_follows_override_settings():
    with override_settings(GRAPH_SEARCH={"DEFAULT_RESULTS_LIMIT": "x", "AUTO_INDEX": "no"}):
        with pytest.raises(ConfigurationError, match="DEFAULT_RESULTS_LIMIT.*AUTO_INDEX"):
            get_config()
    with override_settings(GRAPH_SEARCH={"DEFAULT_RESULTS_LIMIT": 7}):
        assert get_config().default_results_limit == 7
    assert get_config().default_results_limit == 20


@pytest.mark.parametrize("coverage", [-0.1, 0, 1.5, "0.5", True])
def test_field_match_coverage_is_a_share_above_0_up_to_1(coverage):
    _config, problems = parse_config({"HYBRID": {"FIELD_MATCH_MIN_COVERAGE": coverage}})
    assert ids(problems) == ["dgs.E002"] and "FIELD_MATCH_MIN_COVERAGE" in problems[0].msg
    for fine in (0.3, 1, 0.05):
        config, problems = parse_config({"HYBRID": {"FIELD_MATCH_MIN_COVERAGE": fine, "FIELD_MATCH": False}})
        assert problems == [] and config.hybrid.field_match_min_coverage == fine
        assert config.hybrid.field_match is False
