"""Transports: which one GRAPH_SEARCH selects, and the thread transport (a save does not wait for embedding;
bounded threads; retries on time; drains and stops on close)."""

import threading
import time

import pytest

from dgs_core import engine
from dgs_core.conf import parse_config, transport_name
from dgs_core.engine import get_transport
from dgs_core.indexing.outbox import drift
from dgs_core.indexing.transports import SyncTransport, ThreadTransport
from dgs_core.models import IndexChange
from tests.music.models import Artist
from tests.music.support import CountingEmbedder, SwitchableStore, make_music, music_settings


def wait_until(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the index thread"
        time.sleep(0.05)


def index_threads():
    return [t for t in threading.enumerate() if t.name.startswith("dgs-index-") and t.is_alive()]


@pytest.mark.parametrize(("async_indexing", "non_blocking", "expected"), [
    ({}, True, "thread"),
    ({}, False, "sync"),
    ({"ENABLED": True, "BACKEND": "celery"}, False, "celery"),
    ({"ENABLED": True, "BACKEND": "django_q"}, True, "django_q"),
    ({"ENABLED": False, "BACKEND": "celery"}, True, "thread"),
])
def test_transport_selection(async_indexing, non_blocking, expected):
    config, _ = parse_config({"ASYNC_INDEXING": async_indexing, "AUTO_INDEX_NON_BLOCKING": non_blocking})
    assert transport_name(config) == expected


@pytest.mark.django_db
def test_the_selected_transport_is_shared_and_built_with_its_options(settings):
    settings.GRAPH_SEARCH = music_settings(AUTO_INDEX_NON_BLOCKING=True, ASYNC_INDEXING={"THREAD_POOL_SIZE": 2})
    transport = get_transport()
    assert isinstance(transport, ThreadTransport) and transport.size == 2 and get_transport() is transport
    settings.GRAPH_SEARCH = music_settings()
    assert isinstance(get_transport(), SyncTransport)


@pytest.fixture
def threaded(settings):
    CountingEmbedder.reset()
    SwitchableStore.available = True
    settings.GRAPH_SEARCH = music_settings(AUTO_INDEX_NON_BLOCKING=True,
                                           ASYNC_INDEXING={"THREAD_POOL_SIZE": 2, "RETRY_BACKOFF": 1})
    yield
    CountingEmbedder.gate.set()
    SwitchableStore.available = True
    engine.reset()
    assert index_threads() == []


@pytest.mark.django_db(transaction=True)
def test_a_save_returns_before_its_document_is_embedded(threaded):
    CountingEmbedder.gate.clear()  # every embedding call now waits
    data = make_music()
    assert IndexChange.objects.exists()  # recorded and committed...
    assert CountingEmbedder.embedded == []  # ... while nothing has been embedded yet
    assert 1 <= len(index_threads()) <= 2
    CountingEmbedder.gate.set()
    wait_until(lambda: not IndexChange.objects.exists())
    assert drift() == {"outdated": [], "stale": []}
    data["acdc"].name = "AC-DC"
    data["acdc"].save()
    wait_until(lambda: not IndexChange.objects.exists())
    assert drift() == {"outdated": [], "stale": []}


@pytest.mark.django_db(transaction=True)
def test_failures_are_retried_by_the_thread_after_their_backoff(threaded):
    SwitchableStore.available = False
    Artist.objects.create(name="Miles Davis")
    wait_until(lambda: IndexChange.objects.filter(attempts__gte=1).exists())
    SwitchableStore.available = True
    wait_until(lambda: not IndexChange.objects.exists())  # no new save: the thread woke for the retry itself
    assert drift() == {"outdated": [], "stale": []}


@pytest.mark.django_db(transaction=True)
def test_close_finishes_submitted_work_and_stops_the_threads(threaded):
    CountingEmbedder.gate.clear()
    Artist.objects.create(name="Nina Simone")
    transport = get_transport()
    threading.Timer(0.5, CountingEmbedder.gate.set).start()  # embedding resumes while close() waits
    transport.close(timeout=30)
    assert index_threads() == []
    assert not IndexChange.objects.exists() and drift() == {"outdated": [], "stale": []}
    transport.submit(["music.artist:1"])  # after close: the row would wait in the outbox, no thread starts
    assert index_threads() == []
