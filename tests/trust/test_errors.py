"""Issue 18, points 2 and 6, on the real embedded stores (FAISS, Chroma, Qdrant Edge; pgvector in its plugin's
tests/test_trust_errors.py):

* client input never yields a 5xx nor an ERROR log line: a NUL is removed from the text it is in, a lone UTF-16
  surrogate (a JSON escape such as ``"\\ud800"``) is a 400 naming the parameter, on every endpoint;
* a store that fails answers a fixed 503 with a request id on every endpoint (the stream's error event, the admin
  and the demo page too), never its cause (here an error naming the store's path): that is only in the log, on the
  line naming that id.

The index holds the Chinook albums embedded by core's hashing embedder: what is under test is the path of the text
from the request to each store and back, not the model.
"""

import copy
import json
import logging
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import override_settings

import dgs_core
from chinook.models import Album
from dgs_core import reindex_queryset
from dgs_core.exceptions import InvalidParameterError
from dgs_core.failures import MESSAGES

pytestmark = pytest.mark.django_db

STORES = ["faiss", "chroma", "qdrant"]
SEARCH, STREAM, CONVERSATION = "/api/search/", "/api/search/stream/", "/api/search/conversation/"
JSON = "application/json"


def store_settings(base: dict, backend: str, path: Path) -> dict:
    config = copy.deepcopy(base)
    config.update({
        "MODELS": [{"model": "chinook.Album", "fields": ["title", "artist__name"],
                    "filter_fields": ["artist__name"]}],
        "VECTOR_STORE": {"BACKEND": backend, "OPTIONS": {"PATH": str(path)}},
        "EMBEDDINGS": {"default": {"BACKEND": "hashing", "OPTIONS": {"DIMENSION": 128}}},
        "AUTO_INDEX": False,
        "STREAMING": {"ENABLED": True},
        "CONVERSATIONAL": {"ENABLED": True},
    })
    return config


@pytest.fixture(scope="module", params=STORES)
def indexed_store(request, graph_search_settings, django_db_setup, django_db_blocker, tmp_path_factory):
    """The Chinook albums indexed in a fresh store of each kind; its settings are in force for the test."""
    config = store_settings(graph_search_settings, request.param, tmp_path_factory.mktemp(request.param) / "index")
    with override_settings(GRAPH_SEARCH=config), django_db_blocker.unblock():
        stats = reindex_queryset(Album.objects.all())
        assert stats.failed == 0
        yield request.param


def events(response) -> list[dict]:
    return [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]


#: (method, path, query parameters or raw JSON body, expected status, the parameter a 400 names).
#: Query strings carry NUL (%00); only JSON bodies can carry a lone surrogate (URLs decode invalid UTF-8 as U+FFFD).
REQUESTS = [
    ("get", SEARCH, {"q": "Rock\x00"}, 200, None),
    ("get", SEARCH, {"q": "Rock\x00", "mode": "keyword"}, 200, None),
    ("get", SEARCH, {"q": "Rock\x00", "mode": "vector"}, 200, None),
    ("get", SEARCH, {"q": "rock", "artist__name": "AC/DC\x00"}, 200, None),
    ("get", SEARCH, {"q": "rock", "artist__name__in": "AC/DC\x00,Queen"}, 200, None),
    ("get", SEARCH, {"q": "\x00\x00"}, 400, "q"),
    ("get", SEARCH, {"q": "rock", "models": "chinook.album\x00"}, 400, None),
    ("get", "/api/search/similar/chinook.album/1\x00/", {}, 404, None),
    ("get", "/api/search/similar/chinook.album\x00/1/", {}, 404, None),
    ("get", STREAM, {"q": "Rock\x00"}, 200, None),
    ("post", STREAM, '{"q": "Ro\\u0000ck", "filters": {"artist__name": "AC/DC\\u0000"}}', 200, None),
    ("post", STREAM, '{"q": "\\ud800"}', 400, "q"),
    ("post", STREAM, '{"q": "rock \\udfff"}', 400, "q"),
    ("post", STREAM, '{"q": "rock", "filters": {"artist__name": "\\ud800"}}', 400, "filters"),
    ("post", STREAM, '{"q": "rock", "filters": {"\\ud800": "x"}}', 400, "filters"),
    ("post", STREAM, '{"q": "rock", "models": ["\\ud800"]}', 400, "models"),
    ("post", STREAM, '{"q": "rock", "mode": "\\ud800"}', 400, "mode"),
    ("post", CONVERSATION, '{"query": "Ro\\u0000ck"}', 200, None),
    ("post", CONVERSATION, '{"query": "\\ud800"}', 400, "query"),
    ("post", CONVERSATION, '{"query": "rock", "models": ["chinook.album", "\\udc00"]}', 400, "models"),
    ("post", CONVERSATION, '{"query": "rock", "conversation_id": "\\ud800"}', 400, "conversation_id"),
    ("post", CONVERSATION, '{"query": "rock", "\\ud800": 1}', 400, "\\ud800"),
    ("delete", CONVERSATION, '{"conversation_id": "\\ud800"}', 400, "conversation_id"),
    ("delete", CONVERSATION, '{"conversation_id": "abc\\u0000"}', 400, "conversation_id"),
]


def send(client, method: str, path: str, data):
    if isinstance(data, str):
        return getattr(client, method)(path, data, content_type=JSON)
    return getattr(client, method)(path, data)


@pytest.mark.parametrize(("method", "path", "data", "status", "parameter"), REQUESTS,
                         ids=[f"{m}-{p}-{i}" for i, (m, p, *_rest) in enumerate(REQUESTS)])
def test_nul_is_removed_and_a_lone_surrogate_is_a_400_naming_it(indexed_store, client, caplog, method, path, data,
                                                                  status, parameter):
    caplog.set_level(logging.INFO)
    response = send(client, method, path, data)
    assert response.status_code == status
    if response.streaming:
        received = events(response)
        assert [e["type"] for e in received][-1] == "end" and "error" not in [e["type"] for e in received]
    elif status == 400:
        assert f"'{parameter}'" in response.json()["error"] if parameter else response.json()["error"]
        response.content.decode("utf-8")  # the answer is well-formed UTF-8: it does not echo the surrogate
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # nothing trips an outage alert


def test_the_python_api_removes_nul_and_refuses_lone_surrogates(indexed_store):
    with_nul = dgs_core.search("High\x00way to Hell", filters={"artist__name": "AC/DC\x00"}, limit=3)
    plain = dgs_core.search("Highway to Hell", filters={"artist__name": "AC/DC"}, limit=3)
    assert [hit.pk for hit in with_nul] == [hit.pk for hit in plain] and plain
    for call in (lambda: dgs_core.search("\ud800"), lambda: dgs_core.search("rock", filters={"artist__name": "\udfff"}),
                 lambda: dgs_core.search("rock", mode="keyword", filters={"artist__name__in": ["Queen", "\ud800"]})):
        with pytest.raises(InvalidParameterError, match="lone UTF-16 surrogate"):
            call()


def test_the_admin_and_the_demo_page_answer_nul_without_a_5xx(indexed_store, client, admin_user, caplog):
    assert client.get("/", {"q": "Rock\x00"}).status_code == 200
    client.force_login(admin_user)
    assert client.get("/admin/graph-search/", {"q": "Rock\x00"}).status_code == 400  # Django's form refuses NUL
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# -- a failing store: a fixed 503 with a request id, the cause in the log only ------------------------------------


@pytest.fixture(params=STORES)
def broken_store(request, graph_search_settings, tmp_path):
    """A store whose PATH is a file, not a directory: every use of it fails, with the path in the engine's error."""
    path = tmp_path / f"secret-{request.param}-index"
    path.write_bytes(b"not an index\x00" * 64)
    with override_settings(GRAPH_SEARCH=store_settings(graph_search_settings, request.param, path)):
        yield path


def assert_fixed_failure(status, body, request_id, secret, caplog):
    assert status == 503 and body == {"error": body["error"], "request_id": request_id} and len(request_id) == 32
    assert body["error"] in MESSAGES.values() and secret not in json.dumps(body)
    # The cause is logged on the line naming the id: the engine's error (Chroma's omits the path), or a traceback.
    ((line, traceback),) = [(r.getMessage(), r.exc_info) for r in caplog.records if request_id in r.getMessage()]
    assert "Unavailable: " in line or "Error: " in line or traceback


def test_a_failing_store_answers_the_fixed_503_with_a_request_id_everywhere(broken_store, client, admin_user, caplog):
    secret = broken_store.name
    cache.clear()
    for method, path, data in [("get", SEARCH, {"q": "rock"}), ("get", SEARCH, {"q": "rock", "mode": "keyword"}),
                               ("get", "/api/search/similar/chinook.album/1/", {}),
                               ("post", CONVERSATION, '{"query": "rock"}')]:
        response = send(client, method, path, data)
        assert_fixed_failure(response.status_code, response.json(), response["X-Request-ID"], secret, caplog)

    stream = client.get(STREAM, {"q": "rock"})
    if stream.streaming:  # the store failed once the stream had started: an error event names the request id
        (error,) = [e for e in events(stream) if e["type"] == "error"]
        assert error.pop("type") == "error" and error.pop("status") == 503
        assert_fixed_failure(503, error, stream["X-Request-ID"], secret, caplog)
    else:  # it failed while the parameters were checked (the mode needs the store's capabilities)
        assert_fixed_failure(stream.status_code, stream.json(), stream["X-Request-ID"], secret, caplog)

    page = client.get("/", {"q": "rock"})
    assert page.status_code == 503 and page["X-Request-ID"] in page.content.decode()
    assert secret not in page.content.decode() and any(m in page.content.decode() for m in MESSAGES.values())

    client.force_login(admin_user)
    for admin_page in (client.get("/admin/graph-search/", {"q": "rock"}), client.get("/admin/graph-search-status/")):
        request_id = admin_page["X-Request-ID"]
        assert admin_page.status_code == 503 and f"Request id: {request_id}" in admin_page.content.decode()
        assert secret not in admin_page.content.decode()
        assert request_id in caplog.text
