"""The cohere embedder passes core's embedder contract against the fake Cohere API on 127.0.0.1."""

import pytest

from dgs_core.testing import EmbedderContract
from tests.conftest import embedder_for
from tests.fake_cohere import FakeCohere


class TestCohereEmbedder(EmbedderContract):
    # No "semantic": the fake server's vectors are lexical (hashed words), not Cohere's.
    capabilities = frozenset()

    @pytest.fixture(scope="class")
    @classmethod
    def embedder(cls):
        with FakeCohere() as server:
            yield embedder_for(server)


class TestCohereEmbedderShortened(EmbedderContract):
    """embed-v4.0 with DIMENSIONS (``output_dimension``)."""

    capabilities = frozenset()

    @pytest.fixture(scope="class")
    @classmethod
    def embedder(cls):
        with FakeCohere() as server:
            yield embedder_for(server, model_name="embed-v4.0", dimensions=512)
