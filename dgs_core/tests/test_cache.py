"""Delta indexing: unchanged documents are skipped by their stored hash, and the embedding cache (file, redis,
db) makes re-embedding after a clear or a relation change cost only the texts that changed."""

import os
import socket
import time
import uuid
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command

from dgs_core.indexing.cache import get_embedding_cache
from dgs_core.indexing.outbox import drift
from tests.music.models import Genre
from tests.music.support import CountingEmbedder, SwitchableStore, make_music, music_settings

pytestmark = pytest.mark.django_db

REDIS = ("127.0.0.1", 6379)


def redis_reachable() -> bool:
    try:
        socket.create_connection(REDIS, timeout=1).close()
        return True
    except OSError:
        return False


def require_redis():
    pytest.importorskip("redis", reason="Django's RedisCache needs the redis client (pip install redis)")
    if not redis_reachable():
        if os.environ.get("CI"):
            pytest.fail(f"Redis must run at {REDIS[0]}:{REDIS[1]} for the redis cache tests (.ci/run starts it).")
        pytest.skip(f"no Redis server at {REDIS[0]}:{REDIS[1]}")


def cache_settings(kind, tmp_path, settings, ttl=60):
    if kind == "file":
        return {"BACKEND": "file", "OPTIONS": {"PATH": str(tmp_path / "cache")}, "TTL": ttl}
    if kind == "redis":
        require_redis()
        settings.CACHES = {
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
            "dgs": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:6379/14"},
        }
        prefix = f"dgs-test-{uuid.uuid4().hex}"
        return {"BACKEND": "redis", "OPTIONS": {"ALIAS": "dgs"}, "TTL": ttl, "KEY_PREFIX": prefix}
    return {"BACKEND": "db", "TTL": ttl}


@pytest.fixture
def music_index(settings):
    CountingEmbedder.reset()
    SwitchableStore.available = True
    settings.GRAPH_SEARCH = music_settings(AUTO_INDEX=False)
    return make_music()


def build(*args) -> str:
    out = StringIO()
    call_command("build_search_index", "--no-progress", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def embedded_count() -> int:
    count = len(CountingEmbedder.embedded)
    CountingEmbedder.embedded.clear()
    return count


@pytest.mark.parametrize("kind", ["file", "redis", "db"])
def test_vectors_round_trip_and_expire(kind, tmp_path, settings):
    settings.GRAPH_SEARCH = music_settings(CACHE=cache_settings(kind, tmp_path, settings, ttl=1))
    cache = get_embedding_cache()
    vector = np.arange(8, dtype=np.float32) / 7
    cache.set_many({"hash-a": vector})
    found = cache.get_many(["hash-a", "hash-b"])
    assert list(found) == ["hash-a"] and np.array_equal(found["hash-a"], vector)
    time.sleep(1.2)
    if not cache.expires_itself:
        assert cache.purge(dry_run=True) == 1  # expired, still there until purged or read
    assert cache.get_many(["hash-a"]) == {}  # reading an expired entry drops it
    assert cache.purge() == 0


@pytest.mark.parametrize("kind", ["file", "db"])
def test_purge_search_cache_command(kind, tmp_path, settings):
    settings.GRAPH_SEARCH = music_settings(CACHE=cache_settings(kind, tmp_path, settings, ttl=1))
    get_embedding_cache().set_many({f"hash-{n}": np.ones(4, dtype=np.float32) for n in range(3)})
    time.sleep(1.2)
    out = StringIO()
    call_command("purge_search_cache", "--dry-run", stdout=out)
    assert "3 expired embedding cache entries would be deleted (dry run)" in out.getvalue()
    call_command("purge_search_cache", stdout=out)
    assert "3 expired embedding cache entries deleted" in out.getvalue()
    assert get_embedding_cache().purge(dry_run=True) == 0


@pytest.mark.parametrize("kind", ["file", "redis", "db"])
def test_second_build_embeds_nothing_and_a_clear_costs_nothing(kind, tmp_path, settings, music_index):
    settings.GRAPH_SEARCH = music_settings(AUTO_INDEX=False, CACHE=cache_settings(kind, tmp_path, settings))
    build()
    assert embedded_count() == 7
    out = build()
    assert embedded_count() == 0 and "Texts embedded" not in out  # every document skipped by its stored hash
    call_command("clear_search_index", stdout=StringIO())
    out = build()  # the store is empty again: every document is stored again, none embedded again
    assert embedded_count() == 0 and "Texts embedded: 0; vectors taken from the embedding cache: 7." in out
    assert drift() == {"outdated": [], "stale": []}


def test_a_relation_change_re_embeds_only_the_texts_that_changed(music_index):
    build()
    embedded_count()
    Genre.objects.filter(name="Rock").update(name="Hard rock")
    out = build()
    assert embedded_count() == 2 and "Texts embedded: 2; vectors taken from the embedding cache: 0." in out


def test_a_new_embedder_misses_the_cache(settings, music_index):
    build()
    embedded_count()
    settings.GRAPH_SEARCH = music_settings(
        AUTO_INDEX=False,
        EMBEDDINGS={"default": {"BACKEND": "tests.music.support.CountingEmbedder", "OPTIONS": {"DIMENSION": 128}}},
    )
    build("--rebuild")  # a new collection for another embedder id: no cached vector can be reused
    assert embedded_count() == 7 and drift() == {"outdated": [], "stale": []}


def test_delta_indexing_off_disables_the_cache_not_the_hash_skip(settings, music_index):
    settings.GRAPH_SEARCH = music_settings(AUTO_INDEX=False, DELTA_INDEXING=False)
    build()
    build()
    assert embedded_count() == 7
    call_command("clear_search_index", stdout=StringIO())
    build()
    assert embedded_count() == 7
    out = StringIO()
    call_command("purge_search_cache", stdout=out)
    assert "DELTA_INDEXING is off" in out.getvalue()


def test_an_unreachable_cache_is_bypassed(settings, music_index, caplog):
    pytest.importorskip("redis", reason="Django's RedisCache needs the redis client (pip install redis)")
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "down": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:9/0"},
    }
    settings.GRAPH_SEARCH = music_settings(AUTO_INDEX=False, CACHE={"BACKEND": "redis", "OPTIONS": {"ALIAS": "down"}})
    build()
    assert embedded_count() == 7 and drift() == {"outdated": [], "stale": []}
    assert "embedding cache" in caplog.text
