from dgs_cohere.embedder import CohereEmbedder
from dgs_core.testing.remote import hidden_variables, served
from tests.fake_cohere import FakeCohere

#: Variables the SDK and the embedder read; the tests must not see a developer's real ones.
PROVIDER_VARIABLES = ("CO_API_KEY", "COHERE_API_KEY", "CO_API_URL")


_no_provider_variables = hidden_variables(*PROVIDER_VARIABLES)
#: A fresh fake API for one test (scripted faults never leak into the next test).
fake = served(FakeCohere)


def embedder_for(server: FakeCohere, model_name: str = "embed-english-v3.0", **options) -> CohereEmbedder:
    """An embedder pointed at ``server``, failing fast enough for tests."""
    settings = {"api_key": server.api_key, "base_url": server.url, "timeout": 5.0, "max_retries": 2, **options}
    return CohereEmbedder(model_name=model_name, **settings)
