"""Backend options are declared once: the declaration parses them, and `manage.py check` reports their mistakes
without building the backend."""

from dataclasses import dataclass
from typing import Any, Literal, Optional

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from dgs_core.backends import HashingEmbedder, MemoryVectorStore
from dgs_core.base import VectorStore
from dgs_core.exceptions import ConfigurationError
from dgs_core.options import Options, option, parse_options

BASE = {"VECTOR_STORE": {"BACKEND": "memory"}, "EMBEDDINGS": {"default": {"BACKEND": "hashing"}}}


@dataclass(frozen=True)
class Example(Options):
    path: Optional[str] = option(None, min=1, help="a directory")
    port: int = option(8000, min=1, max=65535)
    timeout: float = option(10.0, positive=True, unit="seconds")
    ssl: bool = False
    metric: Literal["cosine", "l2"] = "cosine"
    headers: dict[str, str] = option({})
    hosts: list[str] = option([])
    anything: Any = None
    internal: str = option("", listed=False)

    def __post_init__(self) -> None:
        if self.ssl and self.port == 80:
            raise ValueError("{ssl} is True but {port} is 80; use 443, or SSL False.")


def problems(raw: dict[str, Any]) -> list[str]:
    return parse_options(Example, raw, "STORE['OPTIONS']", "the example store")[1]


def test_values_of_the_declared_types_are_parsed_with_the_defaults():
    options, found = parse_options(Example, {"path": "x", "port": 80, "timeout": 3, "metric": "l2",
                                             "headers": {"a": "b"}, "hosts": ("h",), "anything": object})
    assert found == []
    assert (options.path, options.port, options.timeout, options.ssl, options.metric) == ("x", 80, 3, False, "l2")
    assert Example().headers == {} and Example().headers is not Example().headers


def test_unknown_keys_list_what_is_accepted_and_guess_the_intended_one():
    (message,) = problems({"paht": "x", "colour": 1})
    assert message.startswith("STORE['OPTIONS'] has unknown keys PAHT, COLOUR; the example store accepts PATH, PORT,")
    assert "INTERNAL" not in message and message.endswith("Did you mean PATH for PAHT?")


@pytest.mark.parametrize(("raw", "expected"), [
    ({"port": "80"}, "STORE['OPTIONS']['PORT'] must be an integer from 1 to 65535, not '80'."),
    ({"port": True}, "STORE['OPTIONS']['PORT'] must be an integer from 1 to 65535, not True."),
    ({"port": 0}, "STORE['OPTIONS']['PORT'] must be an integer from 1 to 65535, not 0."),
    ({"timeout": 0}, "STORE['OPTIONS']['TIMEOUT'] must be a positive number of seconds, not 0."),
    ({"ssl": "yes"}, "STORE['OPTIONS']['SSL'] must be True or False, not 'yes'."),
    ({"metric": "dot"}, "STORE['OPTIONS']['METRIC'] must be one of cosine, l2, not 'dot'."),
    ({"path": ""}, "STORE['OPTIONS']['PATH'] must be a non-empty string, not ''."),
    ({"headers": ["a"]}, "STORE['OPTIONS']['HEADERS'] must be a dict, not ['a']."),
    ({"hosts": "h"}, "STORE['OPTIONS']['HOSTS'] must be a list, not 'h'."),
    ({"ssl": True, "port": 80}, "STORE['OPTIONS']['SSL'] is True but STORE['OPTIONS']['PORT'] is 80; use 443"),
])
def test_each_mistake_names_the_setting_and_what_it_must_be(raw, expected):
    (message,) = problems(raw)
    assert message.startswith(expected)


def test_every_field_mistake_is_reported_at_once():
    assert len(problems({"port": "x", "ssl": 1, "nope": 2})) == 3


def test_old_names_are_aliases_but_not_besides_the_new_one():
    assert parse_options(Example, {"folder": "x"}, aliases={"folder": "path"})[0].path == "x"
    (message,) = parse_options(Example, {"folder": "x", "path": "y"}, aliases={"folder": "path"})[1]
    assert "OPTIONS['PATH'] is given twice" in message


def test_a_backend_built_in_code_checks_its_options_too():
    with pytest.raises(ConfigurationError, match=r"VECTOR_STORE\['OPTIONS'\] has unknown keys LOCATON.*LOCATION"):
        MemoryVectorStore(locaton="x")
    with pytest.raises(ConfigurationError, match=r"OPTIONS\['DIMENSION'\] must be a positive integer, not 0"):
        HashingEmbedder(dimension=0)
    assert MemoryVectorStore(location="x", collection="g1").options.collection == "g1"


def test_a_class_that_declares_no_options_is_given_them_unchecked():
    class Legacy(VectorStore):
        def __init__(self, url: str = "", **options: Any) -> None:
            super().__init__(**options)
            self.url = url

        upsert = search = delete = count = iter_ids = content_hashes = get_vectors = None

    assert not Legacy.declares_options() and MemoryVectorStore.declares_options()
    assert Legacy.option_problems({"url": "x", "anything": 1}) == []


def test_a_subclass_that_takes_more_than_it_declares_reads_its_own_and_the_base_parses_the_rest():
    class Slow(HashingEmbedder):
        def __init__(self, model_name=None, delay: float = 0.0, **options: Any) -> None:
            super().__init__(model_name, **options)
            self.delay = delay

    assert not Slow.checks_options() and HashingEmbedder.checks_options()
    assert Slow.option_problems({"delay": 1.0, "dimension": 64}) == []
    slow = Slow(delay=1.0, dimension=64)
    assert (slow.delay, slow.dimension, slow.options.dimension) == (1.0, 64, 64)
    with pytest.raises(ConfigurationError, match="unknown keys DIMENSIONS"):
        Slow(dimensions=64)


def dgs_messages(**graph_search):
    with override_settings(GRAPH_SEARCH={**BASE, **graph_search}):
        return [m for m in checks.run_checks() if m.id.startswith("dgs.")]


def test_a_misspelt_store_option_fails_manage_py_check():
    with override_settings(GRAPH_SEARCH={**BASE, "VECTOR_STORE": {"BACKEND": "memory",
                                                                  "OPTIONS": {"LOCATON": "shared"}}}):
        with pytest.raises(SystemCheckError, match=r"dgs.E009.*GRAPH_SEARCH\['VECTOR_STORE'\]\['OPTIONS'\] has "
                                                   r"unknown keys LOCATON.*Did you mean LOCATION"):
            call_command("check")


def test_option_mistakes_of_every_configured_backend_are_reported():
    messages = dgs_messages(
        EMBEDDINGS={"default": {"BACKEND": "hashing", "OPTIONS": {"DIMENSION": "256"}},
                    "small": {"BACKEND": "hashing", "DIMENSIONS": 64}},
        CONVERSATIONAL={"ENABLED": True, "MEMORY_BACKEND": "cache", "MEMORY_OPTIONS": {"ALIAS": "nope"}},
        ASYNC_INDEXING={"ENABLED": True, "BACKEND": "thread", "CELERY_QUEUE": "search"},
    )
    assert [m.id for m in messages] == ["dgs.E009"] * 4
    text = [m.msg for m in messages]
    assert text[0] == ("GRAPH_SEARCH['EMBEDDINGS']['default']['OPTIONS']['DIMENSION'] must be a positive integer, "
                       "not '256'.")
    assert text[1].startswith("GRAPH_SEARCH['EMBEDDINGS']['small']['OPTIONS'] has unknown keys DIMENSIONS")
    assert "Did you mean DIMENSION for DIMENSIONS?" in text[1]
    assert text[2].startswith("GRAPH_SEARCH['ASYNC_INDEXING'] has unknown keys CELERY_QUEUE; the thread transport")
    assert text[3].startswith("GRAPH_SEARCH['CONVERSATIONAL']['MEMORY_OPTIONS']['ALIAS'] is 'nope', which is not "
                              "in settings.CACHES")


def test_checking_options_builds_no_backend(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("manage.py check built a backend")

    monkeypatch.setattr(MemoryVectorStore, "__init__", refuse)
    monkeypatch.setattr(HashingEmbedder, "__init__", refuse)
    messages = dgs_messages(VECTOR_STORE={"BACKEND": "memory", "OPTIONS": {"LOCATON": "x"}})
    assert [m.id for m in messages] == ["dgs.E009"]
