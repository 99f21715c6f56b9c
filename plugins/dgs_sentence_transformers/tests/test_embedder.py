"""Behaviour of SentenceTransformerEmbedder beyond the contract: sharing, prompts, tokens, errors."""

import threading
from pathlib import Path

import pytest

from dgs_core.exceptions import BackendUnavailable, ConfigurationError
from dgs_core.testing.embedder import cosine
from dgs_sentence_transformers.embedder import SentenceTransformerEmbedder

TEXT = "waterproof hiking boots for winter"


@pytest.mark.slow
def test_instances_share_one_model_per_process(model_path):
    first = SentenceTransformerEmbedder(model_name=model_path)
    second = SentenceTransformerEmbedder(model_name=model_path, batch_size=8, query_prompt="query: ")
    assert first._model().model is second._model().model


@pytest.mark.slow
def test_concurrent_first_use_loads_the_model_once(model_path, tmp_path):
    # A cache folder no other test uses makes a fresh cache key, so the threads race to load it.
    embedders = [SentenceTransformerEmbedder(model_name=model_path, cache_folder=str(tmp_path)) for _ in range(4)]
    start = threading.Barrier(len(embedders))
    models = []

    def first_use(embedder):
        start.wait()
        embedder.embed_query(TEXT)
        models.append(embedder._model().model)

    threads = [threading.Thread(target=first_use, args=(e,)) for e in embedders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(models) == len(embedders)
    assert all(model is models[0] for model in models)


@pytest.mark.slow
def test_query_and_document_prompts_are_prefixed(model_path):
    plain = SentenceTransformerEmbedder(model_name=model_path)
    prompted = SentenceTransformerEmbedder(model_name=model_path, query_prompt="query: ", document_prompt="passage: ")
    assert cosine(prompted.embed_query(TEXT), plain.embed_query(TEXT)) < 0.999
    assert cosine(prompted.embed_documents([TEXT])[0], plain.embed_documents([TEXT])[0]) < 0.999
    assert cosine(prompted.embed_query(TEXT), plain.embed_query("query: " + TEXT)) > 1 - 1e-5
    assert cosine(prompted.embed_documents([TEXT])[0], plain.embed_documents(["passage: " + TEXT])[0]) > 1 - 1e-5


@pytest.mark.slow
def test_prompt_names_use_the_prompts_of_the_model_config(model_path, tmp_path):
    # The same model, with prompts in its sentence-transformers config (files linked, not copied).
    for item in Path(model_path).iterdir():
        if item.name != "config_sentence_transformers.json":
            (tmp_path / item.name).symlink_to(item)
    (tmp_path / "config_sentence_transformers.json").write_text(
        '{"prompts": {"search_query": "query: ", "search_document": "passage: "}}'
    )
    named = SentenceTransformerEmbedder(
        model_name=str(tmp_path), query_prompt_name="search_query", document_prompt_name="search_document"
    )
    prefixed = SentenceTransformerEmbedder(model_name=model_path, query_prompt="query: ", document_prompt="passage: ")
    assert cosine(named.embed_query(TEXT), prefixed.embed_query(TEXT)) > 1 - 1e-5
    assert cosine(named.embed_documents([TEXT])[0], prefixed.embed_documents([TEXT])[0]) > 1 - 1e-5
    assert named.count_tokens(TEXT) == prefixed.count_tokens(TEXT)


@pytest.mark.slow
def test_an_unknown_prompt_name_names_the_option_and_the_defined_prompts(model_path):
    embedder = SentenceTransformerEmbedder(model_name=model_path, query_prompt_name="no-such-prompt")
    with pytest.raises(ConfigurationError, match=r"QUERY_PROMPT_NAME.*'no-such-prompt'.*defines the prompts"):
        embedder.embed_query(TEXT)


def test_document_prompt_is_part_of_the_id(model_path):
    plain = SentenceTransformerEmbedder(model_name=model_path)
    prompted = SentenceTransformerEmbedder(model_name=model_path, document_prompt="passage: ")
    query_only = SentenceTransformerEmbedder(model_name=model_path, query_prompt="query: ")
    assert plain.id == f"sentence-transformers:{model_path}"
    assert prompted.id != plain.id and "passage: " in prompted.id
    assert query_only.id == plain.id  # the query prompt does not change stored vectors


@pytest.mark.slow
def test_count_tokens_reports_texts_longer_than_the_window(model_path):
    embedder = SentenceTransformerEmbedder(model_name=model_path)
    model = embedder._model().model
    assert embedder.max_input_tokens == model.max_seq_length
    long_text = "graph aware semantic search " * 200
    assert embedder.count_tokens(long_text) > embedder.max_input_tokens
    prompted = SentenceTransformerEmbedder(model_name=model_path, document_prompt="passage: ")
    assert prompted.count_tokens(TEXT) > embedder.count_tokens(TEXT)


@pytest.mark.slow
def test_long_documents_are_chunked_on_the_models_own_tokens(model_path):
    from dgs_core.conf import ChunkingConfig
    from dgs_core.indexing.chunking import Chunker

    embedder = SentenceTransformerEmbedder(model_name=model_path)
    text = "Graph-aware semantic search finds tracks by their album's artist. " * 60
    offsets = embedder.token_offsets(text)
    assert len(offsets) == embedder.count_tokens(text) - 2  # [CLS] and [SEP] are the model's own
    assert text[offsets[0][0]:offsets[0][1]].lower() == "graph"
    chunker = Chunker.for_embedder(embedder, ChunkingConfig())
    assert chunker.max_tokens == embedder.max_input_tokens - 2
    ranges, truncated = chunker.split(text)
    assert len(ranges) > 1 and not truncated
    assert all(embedder.count_tokens(text[start:end]) <= embedder.max_input_tokens for start, end in ranges)


def test_a_model_that_cannot_be_loaded_names_model_name_and_the_fixes():
    embedder = SentenceTransformerEmbedder(model_name="dgs-tests/no-such-model")
    with pytest.raises(BackendUnavailable) as error:
        embedder.embed_query(TEXT)
    message = str(error.value)
    assert "MODEL_NAME 'dgs-tests/no-such-model'" in message
    assert "local directory" in message and "network access" in message


def test_check_options_accepts_defaults_hub_ids_and_local_paths(model_path):
    assert SentenceTransformerEmbedder.check_options(None, {}) == []
    assert SentenceTransformerEmbedder.check_options("sentence-transformers/all-MiniLM-L6-v2", {}) == []
    options = {"device": "cuda:1", "batch_size": 16, "normalize": False, "query_prompt": "query: ",
               "document_prompt_name": "document", "trust_remote_code": True, "cache_folder": "/tmp/models"}
    assert SentenceTransformerEmbedder.check_options(model_path, options) == []


@pytest.mark.parametrize(
    ("model_name", "options", "expected"),
    [
        ("/no/such/dir/minilm", {}, "MODEL_NAME '/no/such/dir/minilm' looks like a local path"),
        ("./models/missing", {}, "no directory exists there"),
        (None, {"batch_size": 0}, "OPTIONS['BATCH_SIZE'] must be a positive integer (e.g. 64), not 0"),
        (None, {"batch_size": "64"}, "OPTIONS['BATCH_SIZE'] must be a positive integer"),
        (None, {"batch_size": True}, "OPTIONS['BATCH_SIZE'] must be a positive integer"),
        (None, {"device": "gpu"}, "OPTIONS['DEVICE'] is 'gpu', which is not a device name; use 'cpu', 'cuda'"),
        (None, {"normalize": "yes"}, "OPTIONS['NORMALIZE'] must be True or False"),
        (None, {"batchsize": 8}, "OPTIONS has unknown keys BATCHSIZE; the sentence-transformers embedder accepts"),
        (None, {"query_prompt": "query: ", "query_prompt_name": "query"}, "both QUERY_PROMPT and QUERY_PROMPT_NAME"),
        (None, {"document_prompt": 3}, "OPTIONS['DOCUMENT_PROMPT'] must be a string"),
        (None, {"runtime": "tensorrt"}, "OPTIONS['RUNTIME'] is 'tensorrt'; use 'torch', 'onnx' or 'openvino'"),
        (None, {"runtime": "onnx", "precision": "bf16"},
         "OPTIONS['PRECISION'] is 'bf16', which the onnx runtime does not offer (bf16 runs on torch or openvino)"),
        (None, {"precision": "int8"}, "the torch runtime does not offer (int8 runs on onnx); use 'fp32' or 'bf16'"),
        (None, {"precision": "fp16"}, "OPTIONS['PRECISION'] is 'fp16', which the torch runtime does not offer; use"),
        (None, {"runtime": "openvino", "device": "cuda"},
         "OPTIONS['RUNTIME'] 'openvino' runs on the CPU, but OPTIONS['DEVICE'] is 'cuda'"),
    ],
)
def test_check_options_names_the_setting_and_the_fix(model_name, options, expected):
    problems = SentenceTransformerEmbedder.check_options(model_name, options)
    assert len(problems) == 1
    assert expected in problems[0]
    with pytest.raises(ConfigurationError) as error:
        SentenceTransformerEmbedder(model_name=model_name, **options)
    assert expected in str(error.value)
