"""The openai embedder passes core's embedder contract against the fake OpenAI API on 127.0.0.1."""

from dgs_core.testing.remote import RemoteEmbedderContract
from tests.conftest import embedder_for
from tests.fake_openai import FakeOpenAI


class TestOpenAIEmbedder(RemoteEmbedderContract):
    server, build = FakeOpenAI, staticmethod(embedder_for)


class TestOpenAIEmbedderShortened(TestOpenAIEmbedder):
    """DIMENSIONS shortens vectors; the SDK's base64 transport is replaced by floats, as minimal servers answer."""

    server_options, embedder_options = {"always_float": True}, {"dimensions": 256}
