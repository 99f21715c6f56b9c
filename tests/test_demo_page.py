"""The demo's public pages: results for a query, a message (never a 500) for bad input, "no close match" for a
query nothing comes near, and a page per artist, album and track that an anonymous visitor can open."""

import copy
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.utils.html import escape

from chinook.models import Artist, Track
from dgs_core import search

pytestmark = pytest.mark.django_db

TRACK_LINK = re.compile(r'class="title" href="/tracks/(\d+)/"')


def test_the_empty_form_renders(client):
    response = client.get("/")

    assert response.status_code == 200
    assert b'name="q"' in response.content
    assert b'maxlength="1024"' in response.content  # GRAPH_SEARCH's MAX_QUERY_LENGTH
    assert b'<option value="chinook.track">' in response.content


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"q": ""}, "&#x27;q&#x27; is required"),
        ({"q": "   "}, "&#x27;q&#x27; is required"),
        ({"q": "x" * 5000}, "&#x27;q&#x27; is longer than 1024 characters"),
        ({"q": "rock", "model": "chinook.Invoice"}, "&#x27;chinook.Invoice&#x27; is not configured for search"),
        ({"q": "rock", "model": "no such model"}, "is not configured for search"),
        ({"q": "rock", "mode": "fuzzy"}, "&#x27;mode&#x27; must be one of vector, keyword, hybrid"),
    ],
)
def test_bad_input_shows_the_error_not_a_500(client, params, message):
    response = client.get("/", params)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert b'role="alert"' in response.content


def test_error_messages_are_escaped(client):
    response = client.get("/", {"q": "rock", "model": "<script>alert(1)</script>"})

    assert response.status_code == 400
    assert b"<script>alert(1)" not in response.content
    assert b"&lt;script&gt;alert(1)" in response.content


@pytest.mark.slow
def test_unloadable_model_answers_503_with_a_fixed_message_and_the_reason_in_the_log(client, graph_search_settings,
                                                                                     caplog):
    broken = copy.deepcopy(graph_search_settings)
    broken["EMBEDDINGS"]["default"]["MODEL_NAME"] = "dgs-tests/no-such-model"
    with override_settings(GRAPH_SEARCH=broken):
        response = client.get("/", {"q": "rock"})

    assert response.status_code == 503
    request_id = response["X-Request-ID"]
    assert "Search is unavailable right now" in response.content.decode()
    assert request_id in response.content.decode()
    assert "dgs-tests/no-such-model" not in response.content.decode()
    assert any(request_id in r.getMessage() and "dgs-tests/no-such-model" in r.getMessage() for r in caplog.records)


@pytest.mark.slow
def test_a_query_lists_tracks_with_score_byline_and_public_link(client, search_index):
    response = client.get("/", {"q": "Ozzy Osbourne", "model": "chinook.Track"})

    assert response.status_code == 200
    page = response.content.decode()
    linked = [int(pk) for pk in TRACK_LINK.findall(page)]
    assert len(linked) == len(set(linked)) >= 5
    assert set(linked) <= search_index.track_pks
    assert linked[0] == search("Ozzy Osbourne", models=["chinook.Track"], limit=1)[0].pk
    tracks = Track.objects.select_related("album__artist").in_bulk(linked[:5])
    assert [tracks[pk].album.artist.name for pk in linked[:5]] == ["Ozzy Osbourne"] * 5
    assert page.count('<span class="score"') == len(linked)
    assert escape(tracks[linked[0]].album.title) in page  # the byline: artist, album, genre
    assert "Matched artist: <mark>Ozzy Osbourne</mark>" in page  # why the first track matched, in words
    assert "album__artist__name" not in page and "/admin/chinook/" not in page
    assert client.get(f"/tracks/{linked[0]}/").status_code == 200  # an anonymous visitor can follow it


@pytest.mark.slow
def test_a_nonsense_query_says_no_close_match(client, search_index):
    response = client.get("/", {"q": "xqzzv plorf"})

    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="no-close-match"' in page and "No close match for “xqzzv plorf”" in page
    assert 'id="results"' not in page and "Matched" not in page


@pytest.mark.slow
def test_artist_album_and_track_pages_are_public_with_similar_rows(client, search_index):
    track = Track.objects.select_related("album__artist", "genre").get(pk=min(search_index.track_pks))
    pages = [client.get(url) for url in (track.get_absolute_url(), track.album.get_absolute_url(),
                                         track.album.artist.get_absolute_url())]
    assert [response.status_code for response in pages] == [200, 200, 200]
    track_page, album_page, artist_page = (response.content.decode() for response in pages)
    assert escape(track.name) in track_page and escape(track.genre.name) in track_page
    assert f'href="{track.album.get_absolute_url()}"' in track_page
    assert f'href="{track.get_absolute_url()}"' in album_page
    assert f'href="{track.album.get_absolute_url()}"' in artist_page
    assert 'id="similar"' in track_page  # "More like this": get_similar over the index
    assert client.get("/tracks/999999/").status_code == 404


@pytest.mark.slow
def test_the_query_is_escaped_in_the_page(client, search_index):
    response = client.get("/", {"q": '<img src=x onerror="alert(1)">'})

    assert response.status_code == 200
    assert b"<img src=x" not in response.content
    assert b"&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in response.content


@pytest.mark.slow
def test_the_rest_api_is_mounted(client, search_index):
    response = client.get("/api/search/", {"q": "Ozzy Osbourne", "models": "chinook.Track", "limit": 3})

    assert response.status_code == 200
    results = response.json()["results"]
    tracks = Track.objects.select_related("album__artist").in_bulk([result["pk"] for result in results])
    assert [tracks[result["pk"]].album.artist.name for result in results] == ["Ozzy Osbourne"] * 3


def only_the_first_artists(request, queryset):
    """A ``search_queryset`` hook: anonymous visitors see artists 1 to 3 only."""
    return queryset if request.user.is_authenticated else queryset.filter(pk__lte=3)


def with_api(graph_search_settings, **api):
    return {**graph_search_settings, "API": api}


def test_the_pages_are_under_the_apis_policy(client, graph_search_settings):
    """REQUIRE_AUTHENTICATION refuses anonymous visitors on the demo's pages as on the API, with the API's message."""
    with override_settings(GRAPH_SEARCH=with_api(graph_search_settings, REQUIRE_AUTHENTICATION=True)):
        pages = [client.get("/", {"q": "rock"}), client.get("/"), client.get("/artists/1/")]
        api = client.get("/api/search/", {"q": "rock"})
    assert [page.status_code for page in pages] == [api.status_code] * 3 == [401] * 3
    assert all(api.json()["error"] in page.content.decode().replace("&#x27;", "'") for page in pages)
    assert b'role="alert"' in pages[0].content


def test_the_pages_are_throttled_with_the_api(client, graph_search_settings):
    cache.clear()
    throttled = with_api(graph_search_settings, THROTTLE_CLASSES=["dgs_core.rest.access.SearchRateThrottle"],
                         THROTTLE_RATES={"search": "3/minute"})
    try:
        with override_settings(GRAPH_SEARCH=throttled):
            statuses = [client.get("/").status_code, client.get("/api/search/", {"q": "x" * 5000}).status_code,
                        client.get("/").status_code, client.get("/").status_code]
            refused = client.get("/api/search/", {"q": "rock"})
    finally:
        cache.clear()
    assert statuses == [200, 400, 200, 429]  # one count for the page and the API
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0


def test_a_row_the_visitor_may_not_see_has_no_page(client, graph_search_settings):
    models = copy.deepcopy(graph_search_settings["MODELS"])
    for entry in models:
        if entry["model"] == "chinook.Artist":
            entry["search_queryset"] = "test_demo_page.only_the_first_artists"
    with override_settings(GRAPH_SEARCH={**graph_search_settings, "MODELS": models}):
        visible, hidden = client.get("/artists/3/"), client.get("/artists/4/")
    assert visible.status_code == 200 and hidden.status_code == 404
    assert str(Artist.objects.get(pk=4)) not in hidden.content.decode()


@pytest.mark.parametrize(("broken", "cause"), [
    ({"DEFAULT_RESULTS_LIMIT": "lots"}, "DEFAULT_RESULTS_LIMIT"),  # GRAPH_SEARCH cannot be read
    ({"VECTOR_STORE": {"BACKEND": "dgs_tests_no_such_store"}}, "dgs_tests_no_such_store"),  # no such plugin
])
def test_broken_settings_answer_a_fixed_503_not_a_500(client, graph_search_settings, caplog, broken, cause):
    with override_settings(GRAPH_SEARCH={**graph_search_settings, **broken}):
        response = client.get("/", {"q": "rock"})
    assert response.status_code == 503
    page = response.content.decode()
    assert "Search is misconfigured on this server; the server log has the details." in page
    assert response["X-Request-ID"] in page and cause not in page
    assert any(response["X-Request-ID"] in r.getMessage() and cause in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(("environment", "debug"), [({}, False), ({"DJANGO_DEBUG": "0"}, False),
                                                   ({"DJANGO_DEBUG": "1"}, True)])
def test_debug_is_off_unless_asked_for(environment, debug):
    example = Path(__file__).resolve().parent.parent / "example"
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_DEBUG"}
    result = subprocess.run([sys.executable, "-c", "import demo_site.settings as s; print(s.DEBUG)"], cwd=example,
                            env={**env, **environment}, capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == str(debug)
