"""The openai embedder passes core's embedder contract against the fake OpenAI API on 127.0.0.1."""

import pytest

from dgs_core.testing import EmbedderContract
from tests.conftest import embedder_for
from tests.fake_openai import FakeOpenAI


class TestOpenAIEmbedder(EmbedderContract):
    # No "semantic": the fake server's vectors are lexical (hashed words), not OpenAI's.
    capabilities = frozenset()

    @pytest.fixture(scope="class")
    @classmethod
    def embedder(cls):
        with FakeOpenAI() as server:
            yield embedder_for(server)


class TestOpenAIEmbedderShortened(EmbedderContract):
    """DIMENSIONS shortens vectors; the SDK's base64 transport is replaced by floats, as minimal servers answer."""

    capabilities = frozenset()

    @pytest.fixture(scope="class")
    @classmethod
    def embedder(cls):
        with FakeOpenAI(always_float=True) as server:
            yield embedder_for(server, dimensions=256)
