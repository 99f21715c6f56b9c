"""dgs on a Django site with the pgvector store: index with the management command, search with filters
over related paths, and rebuild into a new table while searches keep answering."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

import dgs_core
from dgs_core import engine
from dgs_core.conf import reset_config
from dgs_core.engine import generations
from tests.music.models import Album, Artist, Genre, Track


@pytest.fixture(autouse=True)
def fresh_components(monkeypatch):
    # Rebuilds wait this long for other processes to see a switch; the test runs in one process.
    monkeypatch.setattr(generations, "STATE_TTL_SECONDS", 0.0)
    reset_config()
    engine.reset()
    yield
    engine.reset()
    reset_config()


def build(*args: str) -> str:
    out = StringIO()
    call_command("build_search_index", "--no-progress", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def tables() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE 'pgv_test_site%%'")
        return {name for (name,) in cursor.fetchall()}


def catalogue() -> dict[str, Track]:
    rock, jazz = Genre.objects.create(name="Rock"), Genre.objects.create(name="Jazz")
    acdc, miles = Artist.objects.create(name="AC/DC"), Artist.objects.create(name="Miles Davis")
    highway = Album.objects.create(title="Highway to Hell", artist=acdc)
    blue = Album.objects.create(title="Kind of Blue", artist=miles)
    rows = [
        ("Highway to Hell", highway, rock, 208000), ("Touch Too Much", highway, rock, 266000),
        ("Walk All Over You", highway, rock, 309000), ("Night Prowler", highway, rock, 376000),
        ("Love Hungry Man", highway, None, 257000), ("So What", blue, jazz, 562000),
        ("Blue in Green", blue, jazz, 337000), ("Flamenco Sketches", blue, jazz, 566000),
    ]
    return {name: Track.objects.create(name=name, album=album, genre=genre, milliseconds=ms)
            for name, album, genre, ms in rows}


def test_index_search_with_filters_and_rebuild():
    tracks = catalogue()
    build()
    assert tables() == {"pgv_test_site", "pgv_test_site_meta"}

    long_rock = dgs_core.search("highway", limit=3, filters={"genre__name": "Rock", "milliseconds__gte": 260000})
    assert {hit.pk for hit in long_rock} == {tracks[n].pk for n in ("Touch Too Much", "Walk All Over You",
                                                                    "Night Prowler")}
    by_artist = dgs_core.search("blue", limit=10, filters={"album__artist__name__in": ["Miles Davis"],
                                                          "milliseconds__lt": 565000})
    assert [hit.pk for hit in by_artist][:1] == [tracks["Blue in Green"].pk] and len(by_artist) == 2
    no_genre = dgs_core.search("love", limit=10, filters={"genre__name__isnull": True})
    assert [hit.pk for hit in no_genre] == [tracks["Love Hungry Man"].pk]

    output = build("--rebuild")
    assert "Switched searches to collection 'g1'" in output
    assert tables() == {"pgv_test_site_g1", "pgv_test_site_meta"}  # the old table was dropped after the switch
    with connection.cursor() as cursor:
        cursor.execute("SELECT collection, embedder, dimension FROM pgv_test_site_meta")
        assert cursor.fetchall() == [("g1", "hashing:hashing-64", 64)]
    again = dgs_core.search("highway", limit=3, filters={"genre__name": "Rock", "milliseconds__gte": 260000})
    assert [(hit.pk, hit.score) for hit in again] == [(hit.pk, hit.score) for hit in long_rock]


def test_a_nul_byte_in_the_query_is_searched_without_it():
    """``q=nul\\x00byte`` answered 503 with PostgreSQL's own error text: the keyword leg of the default (hybrid)
    mode sent the NUL to PostgreSQL, which refuses it in text."""
    tracks = catalogue()
    build()
    hits = dgs_core.search("Hun\x00gry", limit=3)
    assert tracks["Love Hungry Man"].pk in [hit.pk for hit in hits]
    assert [hit.pk for hit in dgs_core.search("Hun\x00gry", limit=3, mode="keyword")] == [tracks["Love Hungry Man"].pk]
