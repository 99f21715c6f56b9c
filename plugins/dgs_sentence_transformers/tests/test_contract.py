"""The sentence-transformers embedder passes core's embedder contract on the real all-MiniLM-L6-v2 model."""

import pytest

from dgs_core.testing import EmbedderContract
from dgs_sentence_transformers.embedder import SentenceTransformerEmbedder

pytestmark = pytest.mark.slow


class TestSentenceTransformerEmbedder(EmbedderContract):
    capabilities = {"semantic"}

    @pytest.fixture(scope="class")
    @classmethod
    def embedder(cls, model_path):
        return SentenceTransformerEmbedder(model_name=model_path)
