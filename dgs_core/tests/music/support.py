"""Settings, data and instrumented backends shared by the automatic-indexing, outbox, cache and transport tests."""

from __future__ import annotations

import threading

from dgs_core.backends import HashingEmbedder, MemoryVectorStore
from dgs_core.exceptions import BackendUnavailable

#: Each path kind the dependents logic must follow: own fields, forward FK (one and two hops), reverse FK,
#: many-to-many with an explicit through model.
MODELS = [
    {"model": "music.Track",
     "fields": ["name", "composer", "album__title", "album__artist__name", "genre__name", "playlists__name"]},
    {"model": "music.Album", "fields": ["title", "artist__name", "track__name"]},
    {"model": "music.Artist", "fields": ["name", "album__title"]},
]


def music_settings(**overrides):
    """GRAPH_SEARCH for the music app: automatic indexing with the sync transport, counting embedder."""
    return {
        "MODELS": MODELS,
        "VECTOR_STORE": {"BACKEND": "tests.music.support.SwitchableStore"},
        "EMBEDDINGS": {"default": {"BACKEND": "tests.music.support.CountingEmbedder"}},
        "CACHE": {"BACKEND": "db"},
        "AUTO_INDEX": True,
        "AUTO_INDEX_NON_BLOCKING": False,
        **overrides,
    }


class CountingEmbedder(HashingEmbedder):
    """The hashing embedder, recording every text it embeds (``embedded``) and, when ``gate`` is
    cleared, holding embedding calls until it is set (to observe a save that does not wait)."""

    embedded: list[str] = []
    gate = threading.Event()
    gate.set()  # open unless a test closes it
    _lock = threading.Lock()

    @classmethod
    def reset(cls) -> None:
        with cls._lock:
            cls.embedded = []
        cls.gate.set()

    def embed_documents(self, texts):
        self.gate.wait(timeout=60)
        with self._lock:
            type(self).embedded.extend(texts)
        return super().embed_documents(texts)


class SwitchableStore(MemoryVectorStore):
    """The in-memory store behind a switch: while ``available`` is false every call fails the way an
    unreachable server does. (The real-engine outage tests stop FAISS; see plugins/dgs_celery/tests.)"""

    available = True

    def _check(self) -> None:
        if not type(self).available:
            raise BackendUnavailable("the vector store is down (test switch)")

    def upsert(self, documents):
        self._check()
        super().upsert(documents)

    def delete(self, ids):
        self._check()
        super().delete(ids)

    def content_hashes(self, ids):
        self._check()
        return super().content_hashes(ids)


def make_music() -> dict:
    """Two artists, two albums, three tracks, two genres and a playlist."""
    from tests.music.models import Album, Artist, Genre, Playlist, PlaylistTrack, Track

    acdc, queen = Artist.objects.create(name="AC/DC"), Artist.objects.create(name="Queen")
    rock, opera_genre = Genre.objects.create(name="Rock"), Genre.objects.create(name="Opera rock")
    highway = Album.objects.create(title="Highway to Hell", artist=acdc)
    night = Album.objects.create(title="A Night at the Opera", artist=queen)
    highway_track = Track.objects.create(name="Highway to Hell", composer="Young", album=highway, genre=rock)
    touch = Track.objects.create(name="Touch Too Much", album=highway, genre=rock)
    rhapsody = Track.objects.create(name="Bohemian Rhapsody", composer="Mercury", album=night, genre=opera_genre)
    road = Playlist.objects.create(name="Road trip")
    PlaylistTrack.objects.create(playlist=road, track=highway_track)
    return {"acdc": acdc, "queen": queen, "rock": rock, "opera_genre": opera_genre, "highway": highway,
            "night": night, "highway_track": highway_track, "touch": touch, "rhapsody": rhapsody, "road": road}


def ids(*objects) -> set[str]:
    """Document ids of model instances."""
    return {f"{o._meta.label_lower}:{o.pk}" for o in objects}
