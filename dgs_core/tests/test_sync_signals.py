"""AUTO_INDEX: saves, deletes and many-to-many changes reach every document that includes the changed row,
and only those; fields that are not indexed trigger nothing."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dgs_core import engine
from dgs_core.indexing.outbox import drift
from dgs_core.models import IndexChange
from tests.music.models import Album, Artist, Genre, Playlist, PlaylistTrack, Track
from tests.music.support import CountingEmbedder, SwitchableStore, ids, make_music, music_settings

pytestmark = pytest.mark.django_db


@pytest.fixture
def music(settings, django_capture_on_commit_callbacks):
    settings.GRAPH_SEARCH = music_settings()
    CountingEmbedder.reset()
    SwitchableStore.available = True
    with django_capture_on_commit_callbacks(execute=True):
        data = make_music()
    assert drift() == {"outdated": [], "stale": []}
    return data


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """``with committed() as recorded:`` runs a block, keeps the outbox rows it wrote in ``recorded``,
    then runs the commit hooks (the sync transport drains the outbox)."""

    class Block:
        def __enter__(self):
            self.capture = django_capture_on_commit_callbacks(execute=True)
            self.capture.__enter__()
            self.recorded = set()
            return self.recorded

        def __exit__(self, *exc_info):
            self.recorded.update(IndexChange.objects.values_list("document_id", flat=True))
            return self.capture.__exit__(*exc_info)

    return Block


def text_of(obj) -> str:
    doc_id = f"{obj._meta.label_lower}:{obj.pk}"
    hits = engine.get_vector_store().search(engine.get_embedder().embed_query(str(obj)), 50)
    return next(h.text for h in hits if h.id == doc_id)


def assert_index_is_true():
    assert drift() == {"outdated": [], "stale": []}
    assert not IndexChange.objects.exists()


def test_creating_rows_indexes_them(music):
    store = engine.get_vector_store()
    assert [store.count([label]) for label in ("music.track", "music.album", "music.artist")] == [3, 2, 2]
    assert "Road trip" in text_of(music["highway_track"])


def test_renaming_an_artist_reaches_its_albums_and_their_tracks_two_hops_away(music, committed):
    acdc = music["acdc"]
    with committed() as recorded:
        acdc.name = "AC-DC"
        acdc.save()
    assert recorded == ids(acdc, music["highway"], music["highway_track"], music["touch"])
    assert_index_is_true()
    assert "AC-DC" in text_of(music["touch"])


def test_renaming_a_genre_reaches_its_tracks_only(music, committed):
    rock = music["rock"]
    with committed() as recorded:
        rock.name = "Hard rock"
        rock.save()
    assert recorded == ids(music["highway_track"], music["touch"])  # genres are not indexed themselves
    assert_index_is_true()


def test_moving_an_album_to_another_artist_reaches_both_artists(music, committed):
    highway = music["highway"]
    with committed() as recorded:
        highway.artist = music["queen"]
        highway.save()
    assert recorded == ids(highway, music["acdc"], music["queen"], music["highway_track"], music["touch"])
    assert_index_is_true()
    assert "Highway to Hell" in text_of(music["queen"]) and "Highway to Hell" not in text_of(music["acdc"])


def test_moving_a_track_to_another_album_reaches_the_album_it_left(music, committed):
    touch = music["touch"]
    with committed() as recorded:
        touch.album = music["night"]
        touch.save(update_fields=["album"])
    assert recorded == ids(touch, music["highway"], music["night"])
    assert_index_is_true()
    assert "Touch Too Much" not in text_of(music["highway"])


def test_playlist_links_from_both_sides_and_through_rows(music, committed):
    road, touch, rhapsody, highway_track = music["road"], music["touch"], music["rhapsody"], music["highway_track"]
    with committed() as recorded:
        touch.playlists.add(road)  # the side declaring the field
    assert recorded == ids(touch)
    with committed() as recorded:
        road.tracks.add(rhapsody)  # the other side
    assert recorded == ids(rhapsody)
    with committed() as recorded:
        road.tracks.remove(touch)
    assert recorded == ids(touch)
    with committed() as recorded:
        road.tracks.clear()  # read which tracks it had before they go
    assert recorded == ids(highway_track, rhapsody)
    with committed() as recorded:
        PlaylistTrack.objects.create(playlist=road, track=touch, position=1)  # the through model directly
    assert recorded == ids(touch)
    assert "Road trip" in text_of(touch)
    with committed() as recorded:
        road.name = "Night drive"
        road.save()
    assert recorded == ids(touch)
    with committed() as recorded:
        PlaylistTrack.objects.filter(track=touch).delete()
    assert recorded == ids(touch)
    assert_index_is_true()


def test_fields_not_indexed_trigger_nothing(music, committed):
    track = music["touch"]
    with committed() as recorded, CaptureQueriesContext(connection) as queries:
        track.milliseconds = 250_000
        track.save()  # old values read once to see what changed: no indexed field did
        track.plays = 7
        track.save(update_fields=["plays"])  # update_fields tells it: nothing read
    assert recorded == set()
    assert sum("music_track" in q["sql"] and q["sql"].startswith("SELECT") for q in queries.captured_queries) == 1
    assert not any("dgs_core_indexchange" in q["sql"] for q in queries.captured_queries)


def test_skip_update_fields_global_and_per_model(settings, music, committed):
    settings.GRAPH_SEARCH = music_settings(
        AUTO_INDEX_SKIP_UPDATE_FIELDS=["composer"],
        MODELS=[{**music_settings()["MODELS"][0], "skip_update_fields": ["name"]}],
    )
    track = music["touch"]
    with committed() as recorded:
        track.composer = "Scott"
        track.save()
        track.name = "Touch too much (live)"
        track.save(update_fields=["name"])
    assert recorded == set()
    with committed() as recorded:
        track.genre = music["opera_genre"]
        track.save()
    assert recorded == ids(track)


def test_deletes_remove_documents_and_update_the_ones_that_included_the_row(music, committed):
    expected = ids(music["touch"], music["highway"])
    with committed() as recorded:
        music["touch"].delete()
    assert recorded == expected
    assert_index_is_true()
    with committed():
        music["rock"].delete()  # SET_NULL on the tracks: a bulk UPDATE without signals, reached before it runs
    assert "Rock" not in text_of(music["highway_track"])
    with committed():
        music["acdc"].delete()  # cascades to its album; the album's track stays, without album (SET_NULL)
    assert_index_is_true()
    assert engine.get_vector_store().count() == 4  # Queen, her album, its track, the orphaned track
    assert "AC/DC" not in text_of(music["highway_track"])


def test_bulk_changes_need_reindex_queryset(music):
    from dgs_core import reindex_queryset

    Genre.objects.filter(pk=music["rock"].pk).update(name="Classic rock")  # no signals
    assert drift()["outdated"] == sorted(ids(music["highway_track"], music["touch"]))
    reindex_queryset(Track.objects.filter(genre=music["rock"]))
    assert_index_is_true()


def test_auto_index_off_connects_nothing(settings):
    settings.GRAPH_SEARCH = music_settings(AUTO_INDEX=False)
    Artist.objects.create(name="Nobody")
    Album.objects.create(title="Silence", artist=Artist.objects.get())
    Playlist.objects.create(name="Empty")
    assert not IndexChange.objects.exists()
