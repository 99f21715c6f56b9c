"""The bi-encoder reranker on the real all-MiniLM-L6-v2, and the cross-encoder reranker's errors.

No cross-encoder model is packaged on PyPI (the Hugging Face hub is unreachable here), so the cross-encoder
is tested only for how it refuses models it cannot use, with the real MiniLM directory and a hub id.
"""

import pytest

import dgs_sentence_transformers.plugin
from dgs_core.backends import MemoryVectorStore
from dgs_core.base import StoredDocument, VectorHit
from dgs_core.conf import parse_config
from dgs_core.exceptions import BackendUnavailable, ConfigurationError
from dgs_core.plugins import PluginRegistry
from dgs_sentence_transformers.embedder import SentenceTransformerEmbedder
from dgs_sentence_transformers.rerankers import BiEncoderReranker, CrossEncoderReranker, passages

QUERY = "songs by Iron Maiden"
TEXTS = {
    "generic": "Heavy metal anthems. Loud guitars and screaming vocals from the eighties",
    "track": "The Trooper. The Trooper. Harris. Piece of Mind. Iron Maiden. Metal",
    "other": "Enter Sandman. Enter Sandman. Hetfield. Metallica. Metallica. Metal",
}


def candidates(reranker):
    """The texts as vector-search hits, scored by the model itself (whole-text cosine), best first."""
    vectors = reranker.embedder.embed_documents(list(TEXTS.values()))
    scores = vectors @ reranker.embedder.embed_query(QUERY)
    hits = [VectorHit(f"music.track:{name}", "music.track", name, float(score), text)
            for (name, text), score in zip(TEXTS.items(), scores, strict=True)]
    return sorted(hits, key=lambda hit: -hit.score)


def test_both_rerankers_are_registered():
    registry = PluginRegistry(autoload=False)
    registry.register_plugin(dgs_sentence_transformers.plugin, name="sentence-transformers")
    assert registry.get_class("reranker", "bi-encoder") is BiEncoderReranker
    assert registry.get_class("reranker", "cross-encoder") is CrossEncoderReranker


def test_passages_are_the_distinct_lines_and_sentences():
    assert passages("Aces High. Aces High. Powerslave\nIron Maiden! Heavy Metal", 3) == [
        "Aces High", "Powerslave", "Iron Maiden!"]


@pytest.mark.slow
def test_the_bi_encoder_lifts_a_document_whose_part_names_what_was_asked(model_path):
    reranker = BiEncoderReranker(model_path)
    hits = candidates(reranker)
    assert [hit.pk for hit in hits] == ["generic", "track", "other"]  # by whole-text similarity
    reranked = BiEncoderReranker(model_path).rerank(QUERY, hits, 3)
    assert reranked[0].pk == "track"  # "Iron Maiden" is one of its passages
    assert [hit.score for hit in reranked] == sorted((hit.score for hit in reranked), reverse=True)
    assert all(0 <= hit.score <= 1 for hit in reranked)
    assert [hit.pk for hit in BiEncoderReranker(model_path).rerank(QUERY, hits, 1)] == ["track"]


@pytest.mark.slow
def test_the_bi_encoder_defaults_to_the_configured_embedder_and_its_loaded_model(model_path):
    config, _problems = parse_config({"EMBEDDINGS": {"default": {"BACKEND": "sentence-transformers",
                                                                 "MODEL_NAME": model_path}}})
    reranker = BiEncoderReranker(config=config)
    assert reranker.embedder.model_name == model_path
    configured_embedder = SentenceTransformerEmbedder(model_path)
    assert reranker.embedder._model() is configured_embedder._model()  # one model in memory, shared


@pytest.mark.slow
def test_the_bi_encoder_reuses_the_stored_vectors_of_the_configured_embedder(model_path):
    config, _problems = parse_config({"EMBEDDINGS": {"default": {"BACKEND": "sentence-transformers",
                                                                 "MODEL_NAME": model_path}}})
    store = MemoryVectorStore(location="bi-encoder-test")
    reranker = BiEncoderReranker(config=config, store=store)
    hits = candidates(reranker)
    vectors = reranker.embedder.embed_documents([hit.text for hit in hits])
    store.record_embedder(reranker.embedder.id, reranker.embedder.dimension)
    store.upsert([StoredDocument(hit.id, hit.model, hit.pk, hit.text, vector) for hit, vector in
                  zip(hits, vectors, strict=True)])
    assert reranker._stored_vectors(hits) is not None
    reused = reranker.rerank(QUERY, hits, 3)
    embedded = BiEncoderReranker(model_path).rerank(QUERY, hits, 3)  # an explicit model embeds every text
    assert [hit.id for hit in reused] == [hit.id for hit in embedded]
    assert [hit.score for hit in reused] == pytest.approx([hit.score for hit in embedded], abs=1e-5)
    MemoryVectorStore.forget_all()


def test_the_bi_encoder_needs_a_model_when_the_embedder_is_not_sentence_transformers():
    config, _problems = parse_config({"EMBEDDINGS": {"default": {"BACKEND": "hashing"}}})
    with pytest.raises(ConfigurationError, match=r"RERANKER'\]\['MODEL_NAME'\] is not set"):
        BiEncoderReranker(config=config)


def test_the_cross_encoder_refuses_an_embedding_model_clearly(model_path):
    hits = [VectorHit("music.track:1", "music.track", "1", 0.5, "The Trooper")]
    with pytest.raises(BackendUnavailable, match="is not a cross-encoder: its config.json declares BertModel"):
        CrossEncoderReranker(model_path).rerank(QUERY, hits, 1)


def test_the_cross_encoder_says_how_to_get_a_model_it_cannot_download(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hits = [VectorHit("music.track:1", "music.track", "1", 0.5, "The Trooper")]
    with pytest.raises(BackendUnavailable) as error:
        CrossEncoderReranker("cross-encoder/ms-marco-MiniLM-L-6-v2").rerank(QUERY, hits, 1)
    message = str(error.value)
    assert "could not be loaded as a cross-encoder" in message and "set MODEL_NAME to a local directory" in message


def test_the_cross_encoder_needs_a_model_name_and_known_options():
    with pytest.raises(ConfigurationError, match="MODEL_NAME'\\] is required"):
        CrossEncoderReranker()
    with pytest.raises(ConfigurationError, match="unknown keys MAX_LENGTH"):
        CrossEncoderReranker("cross-encoder/ms-marco-MiniLM-L-6-v2", max_length=512)
