"""Core's built-in ``hashing`` embedder passes the embedder contract (it is lexical: no ``semantic``)."""

import pytest

from dgs_core.backends import HashingEmbedder
from dgs_core.testing import EmbedderContract


class TestHashingEmbedder(EmbedderContract):
    capabilities = frozenset()

    @pytest.fixture
    def embedder(self):
        return HashingEmbedder(dimension=128)
