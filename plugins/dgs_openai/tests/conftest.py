from dgs_core.testing.remote import hidden_variables, served
from dgs_openai.embedder import OpenAIEmbedder
from tests.fake_openai import FakeOpenAI

#: Variables the SDK and the embedder read; the tests must not see a developer's real ones.
PROVIDER_VARIABLES = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "AZURE_OPENAI_API_KEY", "OPENAI_API_VERSION",
                      "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_AD_TOKEN")


_no_provider_variables = hidden_variables(*PROVIDER_VARIABLES)
#: A fresh fake API for one test (scripted faults never leak into the next test).
fake = served(FakeOpenAI)


def embedder_for(server: FakeOpenAI, model_name: str = "text-embedding-3-small", **options) -> OpenAIEmbedder:
    """An embedder pointed at ``server``, failing fast enough for tests."""
    settings = {"api_key": server.api_key, "base_url": server.url, "timeout": 5.0, "max_retries": 2,
                "tokenizer": "estimate", **options}
    return OpenAIEmbedder(model_name=model_name, **settings)
