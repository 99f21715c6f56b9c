"""Options are checked without any request (what ``manage.py check`` reports), and the id tracks the vectors."""

import pytest

from dgs_core.exceptions import ConfigurationError
from dgs_openai.embedder import OpenAIEmbedder

KEY = {"api_key": "sk-test"}


def test_defaults_with_a_key_from_the_environment_are_fine(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    assert OpenAIEmbedder.check_options(None, {}) == []
    embedder = OpenAIEmbedder()
    assert embedder.model_name == "text-embedding-3-small"
    assert embedder.dimension == 1536 and embedder.max_input_tokens == 8191


def test_a_missing_key_is_reported_naming_api_key_and_the_variable():
    (problem,) = OpenAIEmbedder.check_options("text-embedding-3-small", {})
    assert "No API key" in problem and "API_KEY" in problem and "OPENAI_API_KEY environment variable" in problem
    with pytest.raises(ConfigurationError, match="No API key"):
        OpenAIEmbedder()


def test_a_compatible_server_needs_no_key_but_azure_does(monkeypatch):
    assert OpenAIEmbedder.check_options("nomic-embed-text", {"base_url": "http://localhost:11434/v1"}) == []
    monkeypatch.setenv("OPENAI_BASE_URL", "http://localhost:8000/v1")
    assert OpenAIEmbedder.check_options("bge-m3", {}) == []
    azure = {"base_url": "https://example.openai.azure.com/", "api_version": "2024-10-21"}
    (problem,) = OpenAIEmbedder.check_options("my-deployment", azure)
    assert "AZURE_OPENAI_API_KEY" in problem
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azure-key")
    assert OpenAIEmbedder.check_options("my-deployment", azure) == []


@pytest.mark.parametrize(
    ("model_name", "options", "expected"),
    [
        (None, {"dimenssions": 256}, "OPTIONS has unknown keys DIMENSSIONS; the openai embedder accepts"),
        (None, {"dimensions": 0}, "OPTIONS['DIMENSIONS'] must be a positive integer, not 0"),
        (None, {"dimensions": 4096}, "DIMENSIONS'] is 4096, but 'text-embedding-3-small' produces at most 1536"),
        ("text-embedding-ada-002", {"dimensions": 512}, "'text-embedding-ada-002' does not support DIMENSIONS"),
        (None, {"timeout": 0}, "OPTIONS['TIMEOUT'] must be a positive number of seconds, not 0"),
        (None, {"timeout": "10"}, "OPTIONS['TIMEOUT'] must be a positive number"),
        (None, {"max_retries": -1}, "OPTIONS['MAX_RETRIES'] must be an integer >= 0, not -1"),
        (None, {"batch_size": 5000}, "OPTIONS['BATCH_SIZE'] must be an integer from 1 to 2048"),
        (None, {"batch_size": True}, "OPTIONS['BATCH_SIZE'] must be an integer"),
        (None, {"max_tokens_per_request": 0}, "OPTIONS['MAX_TOKENS_PER_REQUEST'] must be a positive integer"),
        (None, {"max_input_tokens": "8k"}, "OPTIONS['MAX_INPUT_TOKENS'] must be a positive integer"),
        (None, {"base_url": "localhost:11434"}, "OPTIONS['BASE_URL'] must start with http:// or https://"),
        (None, {"api_key": ""}, "OPTIONS['API_KEY'] must be a non-empty string"),
        (None, {"tokenizer": "gpt2-ish"}, "OPTIONS['TOKENIZER'] is 'gpt2-ish'; use 'auto', 'estimate' or a tiktoken"),
    ],
)
def test_check_options_names_the_setting_and_the_fix(model_name, options, expected):
    options = {**KEY, **options} if "api_key" not in options else options
    problems = OpenAIEmbedder.check_options(model_name, options)
    assert any(expected in problem for problem in problems), problems
    with pytest.raises(ConfigurationError) as error:
        OpenAIEmbedder(model_name=model_name, **options)
    assert expected in str(error.value)


def test_api_version_without_base_url_is_reported():
    problems = OpenAIEmbedder.check_options("my-deployment", {**KEY, "api_version": "2024-10-21"})
    assert any("API_VERSION" in p and "BASE_URL" in p for p in problems)


def test_a_compatible_server_may_take_larger_batches():
    assert OpenAIEmbedder.check_options("bge-m3", {"base_url": "http://vllm:8000/v1", "batch_size": 4096}) == []


def test_the_id_names_the_model_and_the_dimensions_so_changing_them_forces_a_reindex():
    small = OpenAIEmbedder("text-embedding-3-small", **KEY)
    short = OpenAIEmbedder("text-embedding-3-small", dimensions=512, **KEY)
    large = OpenAIEmbedder("text-embedding-3-large", **KEY)
    unknown = OpenAIEmbedder("bge-m3", base_url="http://vllm:8000/v1")
    assert small.id == "openai:text-embedding-3-small|dimensions=1536"
    assert short.id == "openai:text-embedding-3-small|dimensions=512"
    assert large.id == "openai:text-embedding-3-large|dimensions=3072"
    assert unknown.id == "openai:bge-m3"
    sized = OpenAIEmbedder("bge-m3", base_url="http://vllm:8000/v1", dimensions=1024)
    assert sized.id == "openai:bge-m3|dimensions=1024" and sized.dimension == 1024
    assert all("sk-test" not in e.id for e in (small, short, large))


def test_the_options_of_django_graph_search_are_accepted_unchanged():
    legacy = {"api_key": "sk-old", "dimensions": 1536, "batch_size": 100, "timeout": 30, "max_retries": 3}
    assert OpenAIEmbedder.check_options("text-embedding-3-small", legacy) == []
    assert OpenAIEmbedder("text-embedding-3-small", **legacy).batch_size == 100
