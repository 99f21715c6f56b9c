"""Tests of remote embedders (:class:`dgs_core.remote.RemoteEmbedder`) on their fake API
(:class:`dgs_core.testing.fake_http.FakeHTTPServer`): :class:`RemoteEmbedderContract` runs the embedder contract
there, :class:`RemoteEmbedderFaults` the failures every remote embedder handles alike (rate limits, server errors,
a refused key, an unknown model, vectors of another width, a slow or absent server), and :func:`hidden_variables`
and :func:`served` make a plugin's conftest.py fixtures.

A plugin subclasses the suite, provides a ``fake`` fixture (a fresh server per test, e.g. in its conftest.py),
:meth:`embedder_for` and the shape of its API's answers::

    class TestFaults(RemoteEmbedderFaults):
        dimension, key_variable, base_path = 1536, "OPENAI_API_KEY", "/v1"
        refused_key_message = "Incorrect API key provided."

        def embedder_for(self, fake, **options): ...
        def error(self, message): return {"error": {"message": message}}
        def vectors(self, rows): return {"object": "list", "data": [...]}
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from typing import Any, ClassVar

import pytest

from dgs_core.exceptions import BackendUnavailable, ConfigurationError
from dgs_core.remote import RemoteEmbedder
from dgs_core.testing.base import ContractSuite
from dgs_core.testing.embedder import EmbedderContract
from dgs_core.testing.fake_http import FakeHTTPServer, Fault

RATE_LIMIT_HEADERS = {"retry-after-ms": "50", "retry-after": "1"}


def hidden_variables(*names: str) -> Callable[..., None]:
    """An autouse fixture (assign it in conftest.py) hiding the provider's environment variables from every test,
    so that a developer's real key or endpoint never reaches them."""

    @pytest.fixture(autouse=True)
    def hidden(monkeypatch: pytest.MonkeyPatch) -> None:
        for name in names:
            monkeypatch.delenv(name, raising=False)

    return hidden


def served(server: type[FakeHTTPServer]) -> Callable[..., Any]:
    """A fixture (assign it in conftest.py) yielding a fresh ``server`` per test, so scripted faults never leak."""

    @pytest.fixture
    def fake() -> Any:
        with server() as running:
            yield running

    return fake


class RemoteEmbedderContract(EmbedderContract):
    """The embedder contract against a fake API: set ``server`` and ``build(server, **options)``; subclasses vary
    ``server_options`` and ``embedder_options``."""

    # No "semantic": the fake servers' vectors are lexical (hashed words), not the provider's.
    capabilities = frozenset()
    server: ClassVar[type[FakeHTTPServer]]
    build: ClassVar[Callable[..., RemoteEmbedder]]
    server_options: ClassVar[dict[str, Any]] = {}
    embedder_options: ClassVar[dict[str, Any]] = {}

    @pytest.fixture(scope="class")
    @classmethod
    def embedder(cls) -> Any:
        with cls.server(**cls.server_options) as running:
            yield cls.build(running, **cls.embedder_options)


class RemoteEmbedderFaults(ContractSuite):
    """Subclass it with a ``fake`` fixture and the methods below; see the module docstring."""

    #: Width of the vectors of the default model of :meth:`embedder_for`.
    dimension: ClassVar[int]
    #: The environment variable a refused key's message names.
    key_variable: ClassVar[str]
    #: The path of ``BASE_URL`` below the server's root ("/v1").
    base_path: ClassVar[str] = ""
    #: The fake's message for a wrong key, and a rate limit message as the provider words it.
    refused_key_message: ClassVar[str]
    rate_limit_message: ClassVar[str] = "Rate limit reached for requests"

    def embedder_for(self, fake: FakeHTTPServer, **options: Any) -> RemoteEmbedder:
        """An embedder of the default model talking to ``fake`` (its key, ``TIMEOUT`` 5 s, ``MAX_RETRIES`` 2)."""
        raise NotImplementedError

    def error(self, message: str) -> Any:
        """An error body of the API carrying ``message``."""
        raise NotImplementedError

    def vectors(self, rows: list[list[float]]) -> Any:
        """A successful answer of the API carrying ``rows``."""
        raise NotImplementedError

    def rate_limited(self, **headers: str) -> Fault:
        return Fault(429, self.error(self.rate_limit_message), {**RATE_LIMIT_HEADERS, **headers})

    def test_a_rate_limited_batch_is_retried_after_the_servers_retry_after(self, fake):
        fake.script(self.rate_limited(), self.rate_limited())
        assert self.embedder_for(fake, max_retries=2).embed_documents(["red phone", "tea"]).shape == (2, self.dimension)
        assert len(fake.requests) == 3

    def test_a_rate_limited_query_is_retried_within_its_timeout(self, fake):
        fake.script(self.rate_limited())
        assert self.embedder_for(fake, timeout=5.0).embed_query("red phone").shape == (self.dimension,)
        assert len(fake.requests) == 2

    def test_a_query_gives_up_at_once_when_retry_after_exceeds_its_timeout(self, fake):
        fake.script(Fault(429, self.error("Rate limit reached"), {"retry-after": "30"}))
        with pytest.raises(BackendUnavailable, match=r"rate-limiting this key \(429: Rate limit reached\)"):
            self.embedder_for(fake, timeout=2.0).embed_query("red phone")
        assert len(fake.requests) == 1

    def test_rate_limits_that_outlast_max_retries_are_a_clear_error(self, fake):
        fake.script(*[self.rate_limited()] * 3)
        embedder = self.embedder_for(fake, max_retries=2)
        advice = re.escape(embedder.rate_limit_advice)
        expected = f"429: {re.escape(self.rate_limit_message)}.*MAX_RETRIES=2 retries. {advice}"
        with pytest.raises(BackendUnavailable, match=expected):
            embedder.embed_documents(["red phone"])
        assert len(fake.requests) == 3

    def test_server_errors_are_retried_with_backoff_then_succeed(self, fake):
        fake.script(Fault(500, self.error("internal error")), Fault(502, b"<html>Bad gateway</html>"))
        assert self.embedder_for(fake, max_retries=2).embed_documents(["tea"]).shape == (1, self.dimension)
        assert len(fake.requests) == 3

    def test_server_errors_that_persist_raise_backend_unavailable_with_the_status(self, fake):
        fake.script(*[Fault(503, self.error("The server is overloaded"), {"retry-after-ms": "10"})] * 2)
        with pytest.raises(BackendUnavailable, match=r"failed \(503: The server is overloaded\) after MAX_RETRIES=1"):
            self.embedder_for(fake, max_retries=1).embed_documents(["tea"])

    def test_vectors_of_the_wrong_width_name_dimensions(self, fake):
        fake.script(Fault(200, self.vectors([[0.5] * 8])))
        expected = rf"returned 8-dimensional vectors.*{self.dimension} were expected.*DIMENSIONS"
        with pytest.raises(ConfigurationError, match=expected):
            self.embedder_for(fake).embed_documents(["tea"])

    def test_a_wrong_key_fails_at_the_first_call_naming_api_key_without_retrying(self, fake):
        embedder = self.embedder_for(fake, api_key="wrong-key")
        expected = rf"refused the API key \(401: {re.escape(self.refused_key_message)}\).*Set API_KEY"
        with pytest.raises(ConfigurationError, match=expected):
            embedder.embed_documents(["tea"])
        with pytest.raises(ConfigurationError, match=self.key_variable):
            embedder.embed_query("tea")
        assert len(fake.requests) == 2
        assert "wrong-key" not in repr(embedder.id)

    def test_an_unknown_model_names_model_name(self, fake):
        with pytest.raises(ConfigurationError, match=r"has no model 'no-such-model' \(404.*Check MODEL_NAME"):
            self.embedder_for(fake, model_name="no-such-model", dimensions=64).embed_documents(["tea"])

    def test_a_slow_query_raises_backend_unavailable_before_the_server_answers(self, fake):
        fake.script(Fault(delay=60))
        with pytest.raises(BackendUnavailable, match=r"did not answer within TIMEOUT=0.5 s"):
            self.embedder_for(fake, timeout=0.5, max_retries=3).embed_query("tea")
        assert not fake.answered.is_set()  # the client gave up; the server was still waiting to answer
        assert len(fake.requests) == 1  # the whole budget went into that attempt: no retry

    def test_a_server_that_is_down_raises_backend_unavailable_naming_base_url(self, fake):
        with socket.socket() as closed:  # a port nothing listens on
            closed.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{closed.getsockname()[1]}{self.base_path}"
        embedder = self.embedder_for(fake, base_url=url, timeout=1.0, max_retries=1)
        with pytest.raises(BackendUnavailable, match=rf"at http://127.0.0.1:\d+{self.base_path} cannot be reached "
                                                     r".*check BASE_URL"):
            embedder.embed_query("tea")
        with pytest.raises(BackendUnavailable, match=r"cannot be reached .*check BASE_URL"):
            embedder.embed_documents(["tea"])
