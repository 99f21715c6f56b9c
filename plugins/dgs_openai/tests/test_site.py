"""dgs on a Django site with the openai embedder and the fake API: system checks, indexing with the embedding
cache (identical texts are never sent twice), searching, and a 503 JSON answer when the API does not answer."""

import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

import dgs_core
from tests.catalog.models import Album, Genre, Track
from tests.fake_openai import Fault

pytestmark = pytest.mark.django_db


def graph_search(settings, embedding: dict) -> dict:
    """The test settings' GRAPH_SEARCH with ``embedding`` as the default profile and a store of its own."""
    return {**settings.GRAPH_SEARCH, "EMBEDDINGS": {"default": embedding},
            "VECTOR_STORE": {"BACKEND": "memory", "OPTIONS": {"LOCATION": f"site-{uuid.uuid4()}"}}}


@pytest.fixture
def site(settings, fake):
    """The site embedding through ``fake``; returns the fake server."""
    settings.GRAPH_SEARCH = graph_search(settings, {
        "BACKEND": "openai", "MODEL_NAME": "text-embedding-3-small", "API_KEY": fake.api_key, "BASE_URL": fake.url,
        "DIMENSIONS": 256, "TIMEOUT": 1.0, "MAX_RETRIES": 1, "TOKENIZER": "estimate",
    })
    return fake


def build(*args: str) -> str:
    out = StringIO()
    call_command("build_search_index", "--no-progress", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def catalogue() -> dict[str, Track]:
    rock, jazz = Genre.objects.create(name="Rock"), Genre.objects.create(name="Jazz")
    highway, blue = Album.objects.create(title="Highway to Hell"), Album.objects.create(title="Kind of Blue")
    rows = [("Highway to Hell", highway, rock), ("Touch Too Much", highway, rock), ("Night Prowler", highway, rock),
            ("So What", blue, jazz), ("Blue in Green", blue, jazz), ("Flamenco Sketches", blue, jazz)]
    return {name: Track.objects.create(name=name, album=album, genre=genre) for name, album, genre in rows}


def texts_sent(fake) -> list[str]:
    return [text for request in fake.requests for text in request.inputs]


def test_manage_py_check_reports_a_missing_api_key(settings):
    settings.GRAPH_SEARCH = graph_search(settings, {"BACKEND": "openai", "MODEL_NAME": "text-embedding-3-small"})
    with pytest.raises(SystemCheckError) as error:
        call_command("check", stdout=StringIO(), stderr=StringIO())
    assert "dgs.E009" in str(error.value)
    assert "No API key" in str(error.value) and "OPENAI_API_KEY" in str(error.value)


def test_reindexing_after_a_relation_change_sends_only_the_texts_that_changed(site):
    tracks = catalogue()
    assert "Texts embedded: 6; vectors taken from the embedding cache: 0." in build()
    assert len(texts_sent(site)) == 6

    Genre.objects.filter(name="Rock").update(name="Hard rock")  # changes the text of the three rock tracks
    site.reset()
    output = build()
    assert "Texts embedded: 3; vectors taken from the embedding cache: 0." in output
    sent = texts_sent(site)
    assert len(sent) == 3 and all("Hard rock" in text for text in sent)
    assert {name for name in ("Highway to Hell", "Touch Too Much", "Night Prowler") if any(name in t for t in sent)} \
        == {"Highway to Hell", "Touch Too Much", "Night Prowler"}

    call_command("clear_search_index", stdout=StringIO())
    site.reset()
    assert "Texts embedded: 0; vectors taken from the embedding cache: 6." in build()
    assert site.requests == []  # every text came from the embedding cache

    hits = dgs_core.search("hard rock highway", limit=3)
    assert hits[0].pk == tracks["Highway to Hell"].pk


def test_searching_through_the_rest_api_and_a_503_json_answer_when_the_api_hangs(site, client, caplog):
    catalogue()
    build()
    found = client.get("/api/search/", {"q": "kind of blue jazz", "limit": 2})
    assert found.status_code == 200 and found.json()["total"] == 2

    site.reset()
    site.script(Fault(delay=60))
    response = client.get("/api/search/", {"q": "flamenco"})
    assert response.status_code == 503
    assert response["content-type"] == "application/json"
    # A fixed message with a request id; the cause (and the API's URL) only in the log, under that id.
    assert response.json() == {"error": "Search is unavailable right now; please try again later.",
                               "request_id": response["X-Request-ID"]}
    assert any(response["X-Request-ID"] in r.getMessage() and "did not answer within TIMEOUT=1 s" in r.getMessage()
               for r in caplog.records)
    assert not site.answered.is_set()  # answered before the embeddings API did


def test_a_wrong_key_fails_the_index_run_and_the_search_with_a_clear_cause(settings, fake, client):
    settings.GRAPH_SEARCH = graph_search(settings, {
        "BACKEND": "openai", "API_KEY": "sk-wrong", "BASE_URL": fake.url, "TIMEOUT": 1.0, "MAX_RETRIES": 0,
    })
    catalogue()
    with pytest.raises(Exception, match=r"(?s)refused the API key.*Set API_KEY.*stopped; what was stored is kept"):
        build()
    assert len(fake.requests) == 1  # the run stops at the cause instead of retrying every document
    response = client.get("/api/search/", {"q": "flamenco"})
    assert response.status_code == 503
    assert "sk-wrong" not in response.content.decode()
