"""Fixtures: a fresh configuration per test, a small indexed catalogue, both pipeline runners, a chat server."""

import copy
import threading
import time

import pytest
from django.conf import settings

import dgs_core
from dgs_core.backends import MemoryVectorStore
from dgs_core.conf import reset_config
from dgs_langgraph.graph import SEQUENTIAL_ENV
from tests.catalog.models import Album, Artist, Track
from tests.chat_server import ChatServer

CATALOGUE = {
    "Iron Maiden": {"The Number of the Beast": [("Run to the Hills", "Heavy Metal"), ("Hallowed Be Thy Name",
                                                                                    "Heavy Metal")],
                    "Powerslave": [("Aces High", "Heavy Metal"), ("2 Minutes to Midnight", "Heavy Metal")]},
    "Queen": {"A Night at the Opera": [("Bohemian Rhapsody", "Rock"), ("Love of My Life", "Rock")]},
    "Miles Davis": {"Kind of Blue": [("So What", "Jazz"), ("Blue in Green", "Jazz")]},
    "Metallica": {"Master of Puppets": [("Battery", "Metal"), ("Master of Puppets", "Metal")]},
}


@pytest.fixture(autouse=True)
def fresh_components():
    reset_config()
    MemoryVectorStore.forget_all()
    yield
    reset_config()
    MemoryVectorStore.forget_all()


@pytest.fixture(params=["langgraph", "sequential"])
def runner(request, monkeypatch):
    """Every test using this runs twice: through the LangGraph graph and through the sequential runner."""
    if request.param == "sequential":
        monkeypatch.setenv(SEQUENTIAL_ENV, "1")
    else:
        monkeypatch.delenv(SEQUENTIAL_ENV, raising=False)
    return request.param


@pytest.fixture
def catalogue(db):
    """Four artists, five albums, ten tracks, all indexed."""
    for artist_name, albums in CATALOGUE.items():
        artist = Artist.objects.create(name=artist_name)
        for title, tracks in albums.items():
            album = Album.objects.create(title=title, artist=artist)
            for name, genre in tracks:
                Track.objects.create(name=name, genre=genre, album=album)
    for model in (Artist, Album, Track):
        for instance in model.objects.all():
            dgs_core.index(instance)
    return CATALOGUE


@pytest.fixture
def chat_server():
    server = ChatServer()
    yield server
    server.close()


def graph_search(**langgraph):
    """``settings.GRAPH_SEARCH`` with ``LANGGRAPH`` keys changed."""
    config = copy.deepcopy(settings.GRAPH_SEARCH)
    config["LANGGRAPH"] = {**config.get("LANGGRAPH", {}), **langgraph}
    return config


def plain(**changes):
    """``settings.GRAPH_SEARCH`` with the pipeline off: core's plain vector search."""
    return {**graph_search(ENABLED=False), **changes}


def openai_llm(server, **options):
    return {"BACKEND": "dgs_langgraph.openai_chat.OpenAIChatLLM", "MODEL": "test-model",
            "OPTIONS": {"BASE_URL": server.base_url, "TIMEOUT": 5, **options}}


def wait_until(condition, timeout: float = 15.0) -> bool:
    """Whether ``condition()`` became true within ``timeout`` seconds (checked every 50 ms)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def wait_for_threads_to_end(prefix: str) -> list[str]:
    """Names of threads called ``prefix...`` still alive after waiting a while for them to end."""
    def alive():
        return [t.name for t in threading.enumerate() if t.name.startswith(prefix)]

    wait_until(lambda: not alive())
    return alive()
