"""Options are checked without any request (what ``manage.py check`` reports), and the id tracks the vectors."""

import pytest

from dgs_cohere.embedder import CohereEmbedder
from dgs_core.exceptions import ConfigurationError

KEY = {"api_key": "co-test"}


@pytest.mark.parametrize("variable", ["CO_API_KEY", "COHERE_API_KEY"])
def test_defaults_with_a_key_from_the_environment_are_fine(monkeypatch, variable):
    monkeypatch.setenv(variable, "co-from-env")
    assert CohereEmbedder.check_options(None, {}) == []
    embedder = CohereEmbedder()
    assert embedder.model_name == "embed-multilingual-v3.0"
    assert embedder.dimension == 1024 and embedder.max_input_tokens == 512


def test_a_missing_key_is_reported_naming_api_key_and_the_variable():
    (problem,) = CohereEmbedder.check_options("embed-english-v3.0", {})
    assert "No API key" in problem and "API_KEY" in problem and "CO_API_KEY environment variable" in problem
    with pytest.raises(ConfigurationError, match="No API key"):
        CohereEmbedder()


def test_another_deployment_may_need_no_key(monkeypatch):
    assert CohereEmbedder.check_options("embed-english-v3.0", {"base_url": "http://cohere.internal:8080"}) == []
    monkeypatch.setenv("CO_API_URL", "http://cohere.internal:8080")
    assert CohereEmbedder.check_options("embed-english-v3.0", {}) == []


@pytest.mark.parametrize(
    ("model_name", "options", "expected"),
    [
        (None, {"input_type": "search_document"}, "OPTIONS has unknown keys INPUT_TYPE; the cohere embedder accepts"),
        (None, {"dimensions": -1}, "OPTIONS['DIMENSIONS'] must be a positive integer, not -1"),
        ("embed-english-v3.0", {"dimensions": 512}, "'embed-english-v3.0' offers no other width; remove DIMENSIONS"),
        ("embed-v4.0", {"dimensions": 300}, "OPTIONS['DIMENSIONS'] is 300, but 'embed-v4.0' offers only 256, 512"),
        (None, {"timeout": -5}, "OPTIONS['TIMEOUT'] must be a positive number of seconds, not -5"),
        (None, {"max_retries": 1.5}, "OPTIONS['MAX_RETRIES'] must be an integer >= 0, not 1.5"),
        (None, {"batch_size": 97}, "OPTIONS['BATCH_SIZE'] must be an integer from 1 to 96 (texts per request), not 97"),
        (None, {"max_input_tokens": 0}, "OPTIONS['MAX_INPUT_TOKENS'] must be a positive integer, not 0"),
        (None, {"base_url": "api.cohere.com"}, "OPTIONS['BASE_URL'] must start with http:// or https://"),
    ],
)
def test_check_options_names_the_setting_and_the_fix(model_name, options, expected):
    options = {**KEY, **options}
    problems = CohereEmbedder.check_options(model_name, options)
    assert any(expected in problem for problem in problems), problems
    with pytest.raises(ConfigurationError) as error:
        CohereEmbedder(model_name=model_name, **options)
    assert expected in str(error.value)


def test_the_id_names_the_model_and_the_dimensions_so_changing_them_forces_a_reindex():
    assert CohereEmbedder("embed-english-v3.0", **KEY).id == "cohere:embed-english-v3.0|dimensions=1024"
    assert CohereEmbedder("embed-v4.0", **KEY).id == "cohere:embed-v4.0|dimensions=1536"
    assert CohereEmbedder("embed-v4.0", dimensions=256, **KEY).id == "cohere:embed-v4.0|dimensions=256"
    assert CohereEmbedder("acme-embed", base_url="http://cohere.internal").id == "cohere:acme-embed"
    assert "co-test" not in CohereEmbedder(**KEY).id


def test_the_options_and_key_variable_of_django_graph_search_are_accepted_unchanged(monkeypatch):
    assert CohereEmbedder.check_options("embed-multilingual-v3.0", {"api_key": "co-old", "batch_size": 96}) == []
    monkeypatch.setenv("COHERE_API_KEY", "co-old")
    assert CohereEmbedder.check_options("embed-multilingual-v3.0", {"batch_size": 96}) == []
