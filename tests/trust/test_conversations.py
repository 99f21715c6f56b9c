"""Issue 18 points 7 and 8 on the demo site (Chinook, FAISS, all-MiniLM-L6-v2) with conversations in Redis: ids are
the server's and bound to who started them, DELETE keeps the id out of the URL, the memory stays bounded under a
flood of conversations, and similar/ and the default throttle bound what one client can cost."""

import copy
import uuid

import pytest
from django.conf import settings
from django.core.cache import caches
from django.test import Client, override_settings

from chinook.models import Track

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
URL = "/api/search/conversation/"
REDIS_URL = "redis://127.0.0.1:6379/13"


@pytest.fixture
def redis_conversations(search_index, graph_search_settings):
    """Conversations on, kept in Redis (a key prefix of this test's own), at most 20 of at most 8 KB each."""
    pytest.importorskip("redis", reason="the redis client is needed for Django's RedisCache")
    prefix = f"dgs-trust-{uuid.uuid4().hex}"
    caches_setting = {**settings.CACHES, "conversations": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": prefix}}
    graph_search = copy.deepcopy(graph_search_settings)
    graph_search["CONVERSATIONAL"] = {"ENABLED": True, "MEMORY_BACKEND": "cache", "MAX_CONVERSATION_BYTES": 8192,
                                      "MEMORY_OPTIONS": {"ALIAS": "conversations", "MAX_CONVERSATIONS": 20}}
    with override_settings(CACHES=caches_setting, GRAPH_SEARCH=graph_search):
        redis = caches["conversations"]
        yield redis
        raw = redis._cache.get_client()  # this test's keys only: FLUSHDB would wipe those of tests beside it
        for key in raw.scan_iter(f"{prefix}*"):
            raw.delete(key)


def post(client, query, conversation_id=None, **extra):
    body = {"query": query, **extra, **({"conversation_id": conversation_id} if conversation_id else {})}
    return client.post(URL, body, content_type="application/json")


def test_conversations_belong_to_whoever_started_them(redis_conversations, django_user_model):
    victim, attacker, user = Client(), Client(), Client()
    user.force_login(django_user_model.objects.create_user("trust-user"))
    started = post(victim, "Iron Maiden", "victim-chosen-id-123", limit=5).json()
    conversation_id = started["conversation_id"]
    assert conversation_id != "victim-chosen-id-123" and len(conversation_id) == 32 and started["results"]
    assert redis_conversations.get("dgs:conversation:victim-chosen-id-123") is None
    for intruder in (attacker, user):
        assert post(intruder, "more", conversation_id).status_code == 403
        refused = intruder.delete(URL, {"conversation_id": conversation_id}, content_type="application/json")
        assert refused.status_code == 403 and "another user or session" in refused.json()["error"]
    more = post(victim, "more", conversation_id, limit=5).json()
    assert more["conversation_id"] == conversation_id and more["interpreted_query"] == "Iron Maiden"
    forgotten = victim.delete(URL, {"conversation_id": conversation_id}, content_type="application/json")
    assert forgotten.status_code == 200 and redis_conversations.get(f"dgs:conversation:{conversation_id}") is None


def test_a_flood_of_conversations_keeps_redis_bounded(redis_conversations):
    """The issue measured ~29 KB per conversation kept 24 h without a cap; 30 conversations of the longest
    queries asking for 1,000 hits leave the 20 newest, none above MAX_CONVERSATION_BYTES."""
    client = Client()
    long_query = "rock " * 200
    started = [post(client, long_query, limit=1000).json()["conversation_id"] for _ in range(30)]
    post(client, "more", started[-1], limit=1000)
    stored = {conversation_id: redis_conversations.get(f"dgs:conversation:{conversation_id}")
              for conversation_id in started}
    assert [cid for cid, value in stored.items() if value is not None] == started[10:]
    assert max(len(value.encode()) for value in stored.values() if value) <= 8192
    raw = redis_conversations._cache.get_client()
    conversation_keys = [key for key in raw.scan_iter(f"{redis_conversations.key_prefix}*")
                         if b":slot:" not in key and not key.endswith(b":started")]
    assert len(conversation_keys) == 20


def test_similar_asks_cost_at_most_max_similar_limit(client, search_index):
    track = Track.objects.get(pk=min(search_index.track_pks))
    body = client.get(f"/api/search/similar/chinook.track/{track.pk}/", {"limit": "1000"}).json()
    assert body["total"] == 100  # MAX_SIMILAR_LIMIT's default; search keeps MAX_RESULTS_LIMIT
    assert client.get("/api/search/", {"q": "rock", "limit": "1000", "models": "chinook.Track"}).json()["total"] > 100


def test_the_demo_without_throttle_settings_is_throttled(search_index):
    """tests/settings.py switches the default throttle off; the demo's own settings leave it on: 60 a minute."""
    track = Track.objects.get(pk=min(search_index.track_pks))
    caches["default"].clear()
    with override_settings(REST_FRAMEWORK={}):
        client = Client(REMOTE_ADDR="192.0.2.18")
        statuses = [client.get(f"/api/search/similar/chinook.track/{track.pk}/").status_code for _ in range(61)]
        other = Client(REMOTE_ADDR="192.0.2.19").get(f"/api/search/similar/chinook.track/{track.pk}/")
    assert statuses == [200] * 60 + [429] and other.status_code == 200
