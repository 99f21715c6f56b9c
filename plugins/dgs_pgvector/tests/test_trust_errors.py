"""Issue 18, points 2 and 6, on PostgreSQL + pgvector (the embedded stores are covered by tests/trust/test_errors.py):
NUL characters are removed from query and filter text and a lone UTF-16 surrogate is a 400 naming its parameter,
never a 503 nor an ERROR log line; an unreachable PostgreSQL answers a fixed 503 with a request id, its host and
port only in the log under that id."""

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

import dgs_core
from dgs_core import engine
from dgs_core.conf import reset_config
from dgs_core.conversation import converse
from dgs_core.exceptions import InvalidParameterError
from dgs_core.failures import UNAVAILABLE
from tests.test_site import build, catalogue

JSON = "application/json"


@pytest.fixture(autouse=True)
def streaming_site(settings):
    """The REST API at /, streaming on, no throttle (every request of a test comes from one address); callers are
    anonymous without django.contrib.auth (not installed here)."""
    settings.ROOT_URLCONF = "dgs_core.urls"
    settings.REST_FRAMEWORK = {"DEFAULT_THROTTLE_CLASSES": [], "DEFAULT_AUTHENTICATION_CLASSES": [],
                               "UNAUTHENTICATED_USER": None}
    settings.GRAPH_SEARCH = {**settings.GRAPH_SEARCH, "STREAMING": {"ENABLED": True}}
    reset_config()
    engine.reset()
    yield
    engine.reset()
    reset_config()


@pytest.fixture
def tracks():
    found = catalogue()
    build()
    return found


def no_errors_logged(caplog) -> bool:
    return not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("mode", ["hybrid", "keyword", "vector"])
def test_nul_in_query_and_filters_is_removed(tracks, client, caplog, mode):
    response = client.get("/", {"q": "Hun\x00gry", "mode": mode, "genre__name__isnull": "true",
                                "album__artist__name": "AC/DC\x00"})
    assert response.status_code == 200
    assert tracks["Love Hungry Man"].pk in [hit["pk"] for hit in response.json()["results"]]
    stream = client.post("/stream/", json.dumps({"q": "Hun\x00gry", "mode": mode,
                                                "filters": {"album__artist__name__in": ["AC/DC\x00", "x"]}}),
                         content_type=JSON)
    received = [json.loads(line) for line in b"".join(stream.streaming_content).splitlines()]
    assert [e["type"] for e in received][-3:] == ["completed", "results", "end"]
    assert tracks["Love Hungry Man"].pk in [hit["pk"] for hit in received[-2]["results"]]
    assert no_errors_logged(caplog)


@pytest.mark.parametrize(("data", "parameter"), [
    ('{"q": "\\ud800"}', "q"),
    ('{"q": "Hungry \\udfff", "mode": "keyword"}', "q"),
    ('{"q": "Hungry", "filters": {"genre__name": "\\ud800"}}', "filters"),
    ('{"q": "Hungry", "models": ["\\ud800"]}', "models"),
])
def test_a_lone_surrogate_is_a_400_naming_the_parameter(tracks, client, caplog, data, parameter):
    response = client.post("/stream/", data, content_type=JSON)
    assert response.status_code == 400 and f"'{parameter}'" in response.json()["error"]
    assert "lone UTF-16 surrogate" in response.json()["error"]
    assert no_errors_logged(caplog)


def test_the_python_api_and_the_conversation_remove_nul_and_refuse_surrogates(tracks):
    hungry = tracks["Love Hungry Man"].pk
    assert [hit.pk for hit in dgs_core.search("Hungry", limit=1, mode="keyword",
                                              filters={"genre__name__in": ["Rock\x00", "Jazz"]})] == []
    assert hungry in [hit.pk for hit in converse("Hun\x00gry").results]
    for call in (lambda: dgs_core.search("Hungry \ud800"), lambda: converse("\udfff"),
                 lambda: dgs_core.search("Hungry", filters={"album__artist__name": "\ud800"})):
        with pytest.raises(InvalidParameterError, match="lone UTF-16 surrogate"):
            call()


#: A process with this package's test settings plus a DATABASES alias for a PostgreSQL server that is not there
#: (port 1 of this machine), searching it through the REST API. In its own process: pytest-django's test case
#: refuses connections to an alias it did not set up, and would flush every alias it did.
UNREACHABLE = """
import json, logging, sys
from django.conf import settings
import tests.settings as base
unreachable = {**base.DATABASES["default"], "HOST": "127.0.0.1", "PORT": "1", "NAME": "dgs_unreachable"}
store = {"BACKEND": "pgvector", "OPTIONS": {"DATABASE": "dgs_unreachable", "TABLE": "pgv_test_trust"}}
settings.configure(**{**{k: getattr(base, k) for k in dir(base) if k.isupper() and k != "GRAPH_SEARCH"},
                   "DATABASES": {**base.DATABASES, "dgs_unreachable": unreachable}}, ROOT_URLCONF="dgs_core.urls",
                   REST_FRAMEWORK={"DEFAULT_THROTTLE_CLASSES": [], "DEFAULT_AUTHENTICATION_CLASSES": [],
                                   "UNAUTHENTICATED_USER": None},
                   GRAPH_SEARCH={**base.GRAPH_SEARCH, "VECTOR_STORE": store,
                                 "CACHE": {"BACKEND": "file", "OPTIONS": {"PATH": sys.argv[1]}}})
import django
django.setup()
from django.test.utils import setup_test_environment
from django.test import Client
setup_test_environment()
logging.basicConfig(stream=sys.stderr, level=logging.ERROR, format="%(levelname)s %(name)s %(message)s")
for mode in ("hybrid", "keyword", "vector"):
    response = Client().get("/", {"q": "Hungry", "mode": mode})
    print(json.dumps({"status": response.status_code, "header": response.get("X-Request-ID"),
                      "body": response.content.decode()}))
"""


def test_an_unreachable_database_is_a_fixed_503_with_its_address_in_the_log_only(tmp_path):
    package = Path(__file__).resolve().parent.parent
    result = subprocess.run([sys.executable, "-c", UNREACHABLE, str(tmp_path)], cwd=package, capture_output=True,
                            text=True, timeout=120, check=True)
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(answers) == 3
    for answer in answers:
        request_id = answer["header"]
        assert answer["status"] == 503 and json.loads(answer["body"]) == {"error": UNAVAILABLE,
                                                                          "request_id": request_id}
        (line,) = [line for line in result.stderr.splitlines() if request_id in line]
        assert "127.0.0.1" in line and "port 1" in line  # what the operator needs, where only the operator looks
        assert "127.0.0.1" not in answer["body"]
