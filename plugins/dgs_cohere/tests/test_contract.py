"""The cohere embedder passes core's embedder contract against the fake Cohere API on 127.0.0.1."""

from dgs_core.testing.remote import RemoteEmbedderContract
from tests.conftest import embedder_for
from tests.fake_cohere import FakeCohere


class TestCohereEmbedder(RemoteEmbedderContract):
    server, build = FakeCohere, staticmethod(embedder_for)


class TestCohereEmbedderShortened(TestCohereEmbedder):
    """embed-v4.0 with DIMENSIONS (``output_dimension``)."""

    embedder_options = {"model_name": "embed-v4.0", "dimensions": 512}
