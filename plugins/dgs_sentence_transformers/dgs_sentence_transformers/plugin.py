"""The hook implementations dgs loads through the ``dgs`` entry point; deliberately import-light.

Registers the ``sentence-transformers`` embedder and the ``bi-encoder`` and ``cross-encoder`` rerankers.
"""

import dgs_core


@dgs_core.hookimpl
def dgs_register_embedders(register) -> None:
    from dgs_sentence_transformers.embedder import SentenceTransformerEmbedder

    register("sentence-transformers", SentenceTransformerEmbedder)


@dgs_core.hookimpl
def dgs_register_rerankers(register) -> None:
    from dgs_sentence_transformers.rerankers import BiEncoderReranker, CrossEncoderReranker

    register("bi-encoder", BiEncoderReranker)
    register("cross-encoder", CrossEncoderReranker)
