"""The same object gets the same text, and so the same content hash, on PostgreSQL and on SQLite: related rows
are joined in their model's ``Meta.ordering``, else primary-key order, not in the order a database returns them."""

import pytest

from dgs_core.conf import ModelConfig
from dgs_core.indexing.indexer import build_documents
from dgs_core.indexing.traversal import TraversalPlan
from tests.music.models import Album, Artist, Playlist, Track

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "sqlite"])

TRACKS = ["Highway to Hell", "Girls Got Rhythm", "Walk All Over You", "Touch Too Much"]
PLAYLISTS = {"Road trip": [1, 2, 4], "classics": [1, 3], "Best of 1979": [1, 4]}


def same_catalogue(db: str) -> None:
    """The same rows with the same primary keys, written in another order than their keys (as a restore, a bulk
    load or a table rewrite leaves them): PostgreSQL hands rows back in storage order, SQLite in key order."""
    album = Album.objects.using(db).create(pk=1, title="Highway to Hell",
                                           artist=Artist.objects.using(db).create(pk=1, name="AC/DC"))
    for pk in (4, 2, 1, 3):
        Track.objects.using(db).create(pk=pk, name=TRACKS[pk - 1], album=album, milliseconds=200000 + pk)
    for pk, (name, tracks) in reversed(list(enumerate(PLAYLISTS.items(), start=1))):
        Playlist.objects.using(db).create(pk=pk, name=name).tracks.add(*tracks)


def documents(db: str, label: str, fields: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    plan = TraversalPlan(ModelConfig(label=label, fields=fields))
    model = plan.model
    found = build_documents(plan, list(plan.queryset(model._default_manager.using(db)).order_by("pk")))
    return {d.id: (d.text, d.content_hash("embedder")) for d in found}


def test_related_rows_are_joined_in_the_same_order_on_postgresql_and_sqlite():
    for db in ("default", "sqlite"):
        same_catalogue(db)
    # The premise: PostgreSQL hands the album's tracks back in another order than SQLite does.
    unordered = {db: list(Track.objects.using(db).filter(album=1).values_list("pk", flat=True))
                 for db in ("default", "sqlite")}
    assert unordered == {"default": [4, 2, 1, 3], "sqlite": [1, 2, 3, 4]}

    albums = {db: documents(db, "music.Album", ("title", "track__name", "track__playlists__name"))
              for db in ("default", "sqlite")}
    assert albums["default"] == albums["sqlite"]
    ((text, _),) = albums["default"].values()
    # Tracks by primary key (no Meta.ordering); each track's playlists by name, code point order.
    assert text == ("Highway to Hell. Highway to Hell, Girls Got Rhythm, Walk All Over You, Touch Too Much. "
                    "Best of 1979, Road trip, classics")

    tracks = {db: documents(db, "music.Track", ("name", "playlists__name")) for db in ("default", "sqlite")}
    assert tracks["default"] == tracks["sqlite"]
    assert tracks["default"]["music.track:1"][0] == "Highway to Hell. Best of 1979, Road trip, classics"
