"""Conversational search (CONTRACT §4): follow-ups, clarifications, memory plugins (in-memory and Redis), the policy."""

import uuid
import warnings

import pytest
from django.core.cache import caches
from django.test import Client, override_settings

import dgs_core
from dgs_core import engine
from dgs_core.conversation import CacheConversationMemory, InMemoryConversationMemory, converse, get_memory
from tests.music.models import Album, Artist, Track
from tests.music.support import MODELS

pytestmark = pytest.mark.django_db
URL = "/api/search/conversation/"
REDIS_URL = "redis://127.0.0.1:6379/12"
DISCOGRAPHY = {
    "AC/DC": {"Highway to Hell": ["Highway to Hell", "Touch Too Much"], "Back in Black": ["Back in Black",
                                                                                          "Hells Bells"]},
    "Queen": {"A Night at the Opera": ["Bohemian Rhapsody", "Love of My Life"],
              "News of the World": ["We Will Rock You", "We Are the Champions"]},
}


def settings_with(models_options=None, **conversational):
    models = [{**entry, **(models_options or {}).get(entry["model"], {})} for entry in MODELS]
    return {"MODELS": models, "VECTOR_STORE": {"BACKEND": "memory"},
            "EMBEDDINGS": {"default": {"BACKEND": "hashing", "OPTIONS": {"DIMENSION": 512}}},
            "CACHE": {"BACKEND": "db"}, "AUTO_INDEX": False,
            "CONVERSATIONAL": {"ENABLED": True, **conversational}}


def only_queen(request, queryset):
    """``search_queryset`` hook of these tests: albums by Queen only, for everyone."""
    return queryset.filter(artist__name="Queen")


@pytest.fixture(autouse=True)
def conversational():
    with override_settings(GRAPH_SEARCH=settings_with()), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the in-memory memory's production warning
        yield


@pytest.fixture
def music():
    for artist_name, albums in DISCOGRAPHY.items():
        artist = Artist.objects.create(name=artist_name)
        for title, tracks in albums.items():
            album = Album.objects.create(title=title, artist=artist)
            for name in tracks:
                Track.objects.create(name=name, album=album)
    for model in (Artist, Album, Track):
        for instance in model.objects.all():
            dgs_core.index(instance)


def turn(client, query, conversation_id=None, **extra):
    body = {"query": query, **extra}
    if conversation_id:
        body["conversation_id"] = conversation_id
    response = client.post(URL, body, content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()


def ids(results):
    return [(hit["model"], hit["pk"]) for hit in results]


def searched(query, **kwargs):
    return [(hit.model, hit.pk) for hit in dgs_core.search(query, **kwargs)]


def test_a_turn_answers_like_search_plus_the_conversation_fields(client, music):
    body = turn(client, "Queen bohemian rhapsody", limit=3)
    assert {"query", "results", "total", "conversation_id", "interpreted_query", "clarification_needed"} <= set(body)
    assert body["interpreted_query"] == "Queen bohemian rhapsody" and body["clarification_needed"] is False
    assert ids(body["results"]) == searched("Queen bohemian rhapsody", limit=3) and body["total"] == 3
    assert len(body["conversation_id"]) == 32


def test_more_pages_through_the_same_search(client, music):
    first = turn(client, "AC/DC highway", limit=2)
    more = turn(client, "more", first["conversation_id"], limit=2)
    again = turn(client, "Show me more results!", first["conversation_id"], limit=2)
    everything = searched("AC/DC highway", limit=6)
    assert [ids(t["results"]) for t in (first, more, again)] == [everything[:2], everything[2:4], everything[4:6]]
    assert more["interpreted_query"] == again["interpreted_query"] == "AC/DC highway"


def test_only_albums_restricts_the_previous_search(client, music):
    first = turn(client, "Queen opera champions", limit=4)
    albums = turn(client, "only albums", first["conversation_id"], limit=4)
    assert albums["interpreted_query"] == "Queen opera champions" and albums["models"] == ["music.album"]
    assert ids(albums["results"]) == searched("Queen opera champions", models="music.Album", limit=4)
    tracks = turn(client, "tracks only please", first["conversation_id"], limit=4)
    assert {hit["model"] for hit in tracks["results"]} == {"music.track"}
    more_tracks = turn(client, "more", first["conversation_id"], limit=4)
    assert ids(more_tracks["results"]) == searched("Queen opera champions", models="music.Track", limit=8)[4:]


def test_similar_to_an_earlier_result(client, music):
    first = turn(client, "Back in Black", limit=3)
    similar = turn(client, "similar to the second one", first["conversation_id"], limit=3)
    model, pk = first["results"][1]["model"], first["results"][1]["pk"]
    target = {"music.track": Track, "music.album": Album, "music.artist": Artist}[model].objects.get(pk=pk)
    assert similar["interpreted_query"] == f"similar to {model}:{pk}" and not similar["clarification_needed"]
    assert ids(similar["results"]) == [(h.model, h.pk) for h in dgs_core.get_similar(target, limit=3)]
    albums_like = turn(client, "albums like the last one", first["conversation_id"])
    last = similar["results"][-1]  # "the last one" of the latest answer
    assert albums_like["interpreted_query"] == f"similar to {last['model']}:{last['pk']}"
    assert {hit["model"] for hit in albums_like["results"]} == {"music.album"}


@pytest.mark.parametrize("history, follow_up, question", [
    ([], "more", "nothing to show more of"),
    ([], "similar to the first one", "Search for something first"),
    ([], "only albums", "What should I look for among the albums"),
    (["Queen"], "it", "What would you like to search for"),
    (["Queen"], "like that one", "Which result do you mean"),
    (["Queen"], "similar to the 40th", "results; which one do you mean?"),
    (["Queen"], "only albums and spaceships", "I can show tracks, albums, artists"),
])
def test_unresolvable_follow_ups_ask_instead_of_guessing(client, music, history, follow_up, question):
    conversation_id = None
    for query in history:
        conversation_id = turn(client, query)["conversation_id"]
    body = turn(client, follow_up, conversation_id)
    assert body["clarification_needed"] is True and body["results"] == [] and body["total"] == 0
    assert question in body["clarification"]


def test_a_clarification_does_not_lose_the_thread(client, music):
    first = turn(client, "Queen", limit=2)
    assert turn(client, "it", first["conversation_id"])["clarification_needed"]
    more = turn(client, "more", first["conversation_id"], limit=2)
    assert ids(more["results"]) == searched("Queen", limit=4)[2:]


def test_an_unknown_kind_after_only_is_a_new_search(client, music):
    first = turn(client, "Queen")
    body = turn(client, "only the lonely", first["conversation_id"], limit=3)
    assert body["clarification_needed"] is False and body["interpreted_query"] == "only the lonely"
    assert ids(body["results"]) == searched("only the lonely", limit=3)


def test_without_clarifications_the_text_is_searched_literally(client, music):
    with override_settings(GRAPH_SEARCH=settings_with(ALLOW_CLARIFICATIONS=False)):
        body = turn(client, "more", limit=3)
    assert body["clarification_needed"] is False and body["interpreted_query"] == "more"
    assert ids(body["results"]) == searched("more", limit=3)


def test_max_history_items_bounds_what_is_remembered(client, music):
    with override_settings(GRAPH_SEARCH=settings_with(MAX_HISTORY_ITEMS=3)):
        conversation_id = turn(client, "Queen", limit=1)["conversation_id"]
        for _ in range(4):
            turn(client, "more", conversation_id, limit=1)
        remembered = get_memory().get(conversation_id)
    assert [t["offset"] for t in remembered] == [2, 3, 4]


def test_delete_forgets_the_conversation(client, music):
    conversation_id = turn(client, "Queen")["conversation_id"]
    response = client.delete(f"{URL}?conversation_id={conversation_id}")
    assert response.status_code == 200 and response.json() == {"conversation_id": conversation_id, "cleared": True}
    assert get_memory().get(conversation_id) == []
    assert turn(client, "more", conversation_id)["clarification_needed"] is True


@pytest.mark.parametrize("body, status, message", [
    ({"query": "Queen", "conversation_id": "no spaces allowed"}, 400, "'conversation_id' must be 1 to 200"),
    ({"query": "Queen", "models": ["music.Playlist"]}, 400, "'models': 'music.Playlist' is not configured"),
    ({"query": "Queen", "limit": 0}, 400, "'limit' must be a positive integer."),
])
def test_bad_turns_are_400_naming_the_parameter(client, music, body, status, message):
    response = client.post(URL, body, content_type="application/json")
    assert response.status_code == status and message in response.json()["error"]


def test_a_logged_in_users_conversation_is_theirs_alone(music, django_user_model):
    owner, other = Client(), Client()
    owner.force_login(django_user_model.objects.create_user("owner"))
    other.force_login(django_user_model.objects.create_user("other"))
    conversation_id = turn(owner, "Queen")["conversation_id"]
    for client in (other, Client()):
        response = client.post(URL, {"query": "more", "conversation_id": conversation_id},
                               content_type="application/json")
        assert response.status_code == 403 and "another user" in response.json()["error"]
        assert client.delete(f"{URL}?conversation_id={conversation_id}").status_code == 403
    assert turn(owner, "more", conversation_id)["clarification_needed"] is False


def test_the_api_policy_and_row_visibility_apply(client, music):
    restricted = settings_with({"music.Album": {"search_queryset": "tests.test_conversation.only_queen"}})
    with override_settings(GRAPH_SEARCH={**restricted, "API": {"REQUIRE_AUTHENTICATION": True}}):
        assert client.post(URL, {"query": "Queen"}, content_type="application/json").status_code == 401
        assert client.delete(f"{URL}?conversation_id=abc").status_code == 401
    with override_settings(GRAPH_SEARCH=restricted):
        first = turn(client, "Highway to Hell Back in Black albums")
        albums = turn(client, "only albums", first["conversation_id"])
    assert albums["results"] and {Album.objects.get(pk=h["pk"]).artist.name for h in albums["results"]} == {"Queen"}


def test_the_python_api_keeps_the_conversation_too(music):
    first = converse("Queen", limit=2)
    follow_up = converse("more", first.conversation_id, limit=2)
    assert [(h.model, h.pk) for h in follow_up.results] == searched("Queen", limit=4)[2:]


def test_inmemory_memory_warns_outside_debug():
    with override_settings(DEBUG=False), pytest.warns(RuntimeWarning, match="Use 'cache' with a shared Django cache"):
        InMemoryConversationMemory()
    with override_settings(DEBUG=True), warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        InMemoryConversationMemory()


@pytest.fixture
def redis_cache():
    pytest.importorskip("redis", reason="the redis client is needed for Django's RedisCache")
    prefix = f"dgs-test-{uuid.uuid4().hex}"
    alias = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": prefix}
    with override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
                                   "conversations": alias}):
        cache = caches["conversations"]
        yield cache
        # This test's keys only: FLUSHDB (cache.clear()) would wipe those of tests running beside it.
        raw = cache._cache.get_client()
        for key in raw.scan_iter(f"{prefix}*"):
            raw.delete(key)


def test_cache_memory_shares_conversations_between_workers_through_redis(client, music, redis_cache):
    with override_settings(GRAPH_SEARCH=settings_with(MEMORY_BACKEND="cache", MEMORY_OPTIONS={"ALIAS": "conversations"},
                                                      MAX_HISTORY_ITEMS=2)):
        conversation_id = turn(client, "Queen", limit=2)["conversation_id"]
        engine.reset()  # the next turn reaches another worker: a new memory object, the same Redis
        more = turn(client, "more", conversation_id, limit=2)
        another_worker = CacheConversationMemory(max_items=2, alias="conversations")
        assert [t["query"] for t in another_worker.get(conversation_id)] == ["Queen", "more"]
        turn(client, "more", conversation_id, limit=2)
        assert [t["offset"] for t in another_worker.get(conversation_id)] == [2, 4]
        assert client.delete(f"{URL}?conversation_id={conversation_id}").status_code == 200
        assert redis_cache.get(f"dgs:conversation:{conversation_id}") is None
    assert ids(more["results"]) == searched("Queen", limit=4)[2:]


def test_an_unreachable_memory_is_503(client, music, caplog):
    unreachable = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    pytest.importorskip("redis", reason="the redis client is needed for Django's RedisCache")
    with override_settings(CACHES={"default": unreachable},
                           GRAPH_SEARCH=settings_with(MEMORY_BACKEND="cache")):
        response = client.post(URL, {"query": "Queen"}, content_type="application/json")
    assert response.status_code == 503 and response.json() == {
        "error": "Search is unavailable right now; please try again later.", "request_id": response["X-Request-ID"]}
    (logged,) = [r.getMessage() for r in caplog.records if response["X-Request-ID"] in r.getMessage()]
    assert "conversation memory" in logged and "127.0.0.1:1" in logged  # the Redis address: in the log, not the body


# -- issue 18 point 7: ids, owners, DELETE, caps ---------------------------------------------------------


def test_client_chosen_ids_are_not_adopted(client, music):
    chosen = "victim-chosen-id-123"
    body = turn(client, "Queen", chosen)
    assert body["conversation_id"] != chosen and len(body["conversation_id"]) == 32
    int(body["conversation_id"], 16)  # hex
    assert get_memory().get(chosen) == [] and [t["query"] for t in get_memory().get(body["conversation_id"])] == [
        "Queen"]
    assert turn(client, "more", chosen)["clarification_needed"] is True  # still nothing to continue under that id
    python_reply = converse("Queen", chosen)
    assert python_reply.conversation_id not in (chosen, body["conversation_id"])


def test_anonymous_conversations_belong_to_their_session(music, django_user_model):
    anonymous, stranger, user = Client(), Client(), Client()
    user.force_login(django_user_model.objects.create_user("someone"))
    conversation_id = turn(anonymous, "Queen", limit=2)["conversation_id"]
    assert anonymous.cookies["sessionid"].value  # the session that owns it
    owner = get_memory().get(conversation_id)[0]["owner"]
    assert owner.startswith("session:") and anonymous.session["dgs_conversation_owner"] not in owner
    for other in (stranger, user):
        response = other.post(URL, {"query": "more", "conversation_id": conversation_id},
                              content_type="application/json")
        assert response.status_code == 403 and "another user or session" in response.json()["error"]
        response = other.delete(URL, {"conversation_id": conversation_id}, content_type="application/json")
        assert response.status_code == 403
    assert ids(turn(anonymous, "more", conversation_id, limit=2)["results"]) == searched("Queen", limit=4)[2:]
    # Logging in does not take the anonymous conversation along: it stays the anonymous session's.
    anonymous.force_login(django_user_model.objects.create_user("later"))
    response = anonymous.post(URL, {"query": "more", "conversation_id": conversation_id},
                              content_type="application/json")
    assert response.status_code == 403
    assert [t["owner"] for t in get_memory().get(conversation_id)] == [owner, owner]


def test_anonymous_callers_without_sessions_are_refused_and_check_says_why(client, music):
    from django.core import checks

    without_sessions = ["django.middleware.common.CommonMiddleware"]
    with override_settings(MIDDLEWARE=without_sessions):
        response = client.post(URL, {"query": "Queen"}, content_type="application/json")
        warnings_found = [m for m in checks.run_checks(tags=["dgs"]) if m.id == "dgs.W007"]
    assert response.status_code == 403 and "need a session" in response.json()["error"]
    assert len(warnings_found) == 1 and "SessionMiddleware" in warnings_found[0].hint
    assert not [m for m in checks.run_checks(tags=["dgs"]) if m.id == "dgs.W007"]


def test_delete_takes_the_id_in_the_json_body(client, music):
    conversation_id = turn(client, "Queen")["conversation_id"]
    response = client.delete(URL, {"conversation_id": conversation_id}, content_type="application/json")
    assert response.status_code == 200 and response.json() == {"conversation_id": conversation_id, "cleared": True}
    assert get_memory().get(conversation_id) == []
    for body in ({}, {"conversation_id": ""}):
        response = client.delete(URL, body, content_type="application/json")
        assert response.status_code == 400 and "'conversation_id' is required" in response.json()["error"]
    response = client.delete(URL, "[1]", content_type="application/json")
    assert response.status_code == 400 and "JSON body must be an object" in response.json()["error"]
    schema = client.get("/api/search/schema/").json()
    delete = schema["paths"]["/api/search/conversation/"]["delete"]
    body = delete["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "conversation_id" in schema["components"]["schemas"][body]["properties"]
    assert [p.get("deprecated") for p in delete["parameters"] if p["name"] == "conversation_id"] == [True]


def test_more_stops_at_the_offset_cap_of_search(music):
    from dgs_core.searching.query import MAX_OFFSET

    reply = converse("Queen", limit=1000)
    offsets = []
    for _ in range(MAX_OFFSET // 1000 + 1):
        reply = converse("more", reply.conversation_id, limit=1000)
        offsets.append(get_memory().get(reply.conversation_id)[-1]["offset"])
    assert offsets[:-1] == list(range(1000, MAX_OFFSET + 1, 1000))
    assert reply.clarification_needed and "as far as the results go" in reply.clarification and reply.results == []


@pytest.fixture
def many_tracks(music):
    """80 more Queen tracks, so that one answer holds more hits than a small conversation can remember."""
    album = Album.objects.get(title="News of the World")
    for n in range(80):
        dgs_core.index(Track.objects.create(name=f"Queen live take {n}", album=album))


def worst_turns(conversation_id, count):
    """``count`` turns with the longest query and many hits (the issue measured ~250-300 KB per conversation)."""
    long_query = "Queen live take " + "é" * 1000
    for _ in range(count):
        conversation_id = converse(long_query, conversation_id, limit=1000).conversation_id
    return conversation_id


@pytest.mark.parametrize("memory_backend", ["inmemory", "cache"])
def test_each_memory_is_capped_by_count_and_size(music, many_tracks, memory_backend, redis_cache):
    options = {"MAX_CONVERSATIONS": 3, **({"ALIAS": "conversations"} if memory_backend == "cache" else {})}
    with override_settings(GRAPH_SEARCH=settings_with(MEMORY_BACKEND=memory_backend, MEMORY_OPTIONS=options,
                                                      MAX_CONVERSATION_BYTES=8192)):
        memory = get_memory()
        started = [worst_turns(None, 1) for _ in range(5)]
        kept = [conversation_id for conversation_id in started if memory.get(conversation_id)]
        assert kept == started[2:]  # the two oldest were forgotten
        biggest = worst_turns(started[-1], 10)
        turns = memory.get(biggest)
        stored = (redis_cache.get(f"dgs:conversation:{biggest}") if memory_backend == "cache"
                  else memory._conversations[biggest])
        assert len(stored.encode()) <= 8192 and turns == memory.decode(stored)
        assert 1 <= len(turns) < 10 and turns[-1]["result_count"] > len(turns[-1]["results"]) > 10
        if memory_backend == "cache":
            keys = [key for key in redis_cache._cache.get_client().scan_iter(f"{redis_cache.key_prefix}*")]
            conversations = [k for k in keys if b":slot:" not in k and not k.endswith(b":started")]
            assert len(conversations) == 3
        # A follow-up past what was remembered asks instead of guessing.
        remembered = len(turns[-1]["results"])
        asked = converse(f"similar to the {remembered + 1}th", biggest)
        assert asked.clarification_needed and f"only the first {remembered} results" in asked.clarification
        similar = converse(f"similar to the {remembered}th", biggest)
        assert not similar.clarification_needed and similar.results


def test_max_conversation_bytes_below_a_turn_is_a_check_error():
    from django.core import checks

    with override_settings(GRAPH_SEARCH=settings_with(MAX_CONVERSATION_BYTES=100)):
        errors = [m for m in checks.run_checks(tags=["dgs"]) if m.id == "dgs.E002"]
    assert len(errors) == 1 and "MAX_CONVERSATION_BYTES" in errors[0].msg and "at least 4096" in errors[0].hint
