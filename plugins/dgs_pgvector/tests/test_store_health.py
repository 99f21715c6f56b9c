"""Issue 18 point 5 on pgvector: a built index whose table was dropped behind dgs raises BackendUnavailable (REST
503) on every search, is reported by `manage.py check` (dgs.W008) and `search_index_status`, and is never served
as an empty index, until `build_search_index --rebuild`; a fresh install answers empty and `check` creates no table."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

import dgs_core
from dgs_core import engine
from dgs_core.checks import check_graph_search
from dgs_core.conf import reset_config
from dgs_core.engine import generations
from dgs_core.exceptions import BackendUnavailable, CollectionMissing
from dgs_core.searching.query import SearchQuery
from dgs_core.searching.searcher import Searcher
from dgs_core.streaming import NdjsonFormat, SearchStream
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


def command(name: str, *args: str) -> str:
    out = StringIO()
    call_command(name, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def table_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [name])
        return cursor.fetchone()[0] is not None


def problems() -> list[str]:
    return [message.id for message in check_graph_search()]


def test_a_dropped_table_answers_503_and_is_reported_until_rebuilt():
    rock = Genre.objects.create(name="Rock")
    album = Album.objects.create(title="Highway to Hell", artist=Artist.objects.create(name="AC/DC"))
    Track.objects.create(name="Highway to Hell", album=album, genre=rock, milliseconds=208000)
    Track.objects.create(name="Night Prowler", album=album, genre=rock, milliseconds=376000)

    # A fresh install: check creates nothing and warns of nothing; a search answers empty.
    assert "dgs.W008" not in problems()
    assert not table_exists("pgv_test_site")
    assert list(dgs_core.search("highway")) == []

    command("build_search_index", "--no-progress")
    assert dgs_core.search("highway")[0].object.name == "Highway to Hell"

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE pgv_test_site")
    for _ in range(3):  # every search, not only the first: no empty table is created and served
        with pytest.raises(BackendUnavailable) as raised:
            dgs_core.search("highway")
        assert isinstance(raised.value, CollectionMissing)
    # The stream runs the search in a worker thread (its own connection, reading the committed build record).
    stream = b"".join(SearchStream.prepare(Searcher(), SearchQuery.build("highway"), stream_format=NdjsonFormat()))
    assert b'"type": "error"' in stream and b'"status": 503' in stream and b"pgv_test_site" not in stream
    assert not table_exists("pgv_test_site")
    assert "dgs.W008" in problems()
    with pytest.raises(CommandError, match="build_search_index --rebuild"):
        command("search_index_status")

    command("build_search_index", "--no-progress", "--rebuild")
    assert dgs_core.search("highway")[0].object.name == "Highway to Hell"
    assert "dgs.W008" not in problems()
    assert "Track" in command("search_index_status")
