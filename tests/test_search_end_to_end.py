"""The demo's configuration end to end: real ORM traversal, all-MiniLM-L6-v2 and a FAISS store on disk."""

import copy

import pytest
from django.db import connection
from django.db.models import Count, Q
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from chinook.models import Album, Artist, Track
from dgs_core import delete, engine, get_similar, index, search
from dgs_core.base import document_id
from dgs_core.exceptions import UnknownModelError

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

TOP = 5


def tracks_of(hits) -> list[Track]:
    """The hits' tracks, loaded with their album, artist and genre in one query."""
    by_pk = Track.objects.select_related("album__artist", "genre").in_bulk([hit.pk for hit in hits])
    return [by_pk[hit.pk] for hit in hits]


def test_every_configured_row_is_in_the_store(search_index):
    store = engine.get_vector_store()
    assert store.count(["chinook.artist"]) == search_index.artists
    assert store.count(["chinook.album"]) == search_index.albums
    assert store.count(["chinook.track"]) == len(search_index.track_pks)


@pytest.mark.parametrize("artist", ["The Rolling Stones", "Ozzy Osbourne"])
def test_an_artists_name_finds_their_tracks(search_index, artist):
    # None of the artist's own track rows names them: the name lives on the artist row, two relations away.
    own_tracks = Track.objects.filter(album__artist__name=artist)
    assert not own_tracks.filter(Q(name__icontains=artist) | Q(composer__icontains=artist)).exists()

    hits = search(artist, models=["chinook.Track"], limit=TOP)

    assert len(hits) == TOP
    assert {hit.model for hit in hits} == {"chinook.track"}
    assert [track.album.artist.name for track in tracks_of(hits)] == [artist] * TOP
    assert all(artist in hit.text for hit in hits)  # the indexed text carries the related fact


@pytest.mark.parametrize("genre", ["Classical", "Latin"])
def test_a_genre_finds_tracks_of_that_genre(search_index, genre):
    hits = search(genre, models="chinook.Track", limit=TOP)

    tracks = tracks_of(hits)
    assert [track.genre.name for track in tracks] == [genre] * TOP
    assert not any(genre.lower() in track.name.lower() for track in tracks)


def test_hits_are_best_first_with_scores_in_range(search_index):
    hits = search("Led Zeppelin", limit=20)

    scores = [hit.score for hit in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= score <= 1.0 for score in scores)
    assert len({hit.id for hit in hits}) == len(hits)


def test_objects_of_a_result_list_load_with_one_query_per_model(search_index):
    hits = search("Led Zeppelin", limit=20)
    models = {hit.model for hit in hits}
    assert len(models) >= 2, "the query should match several models for this test to mean anything"

    with CaptureQueriesContext(connection) as queries:
        objects = [hit.object for hit in hits]

    assert len(queries) == len(models)
    for hit, obj in zip(hits, objects, strict=True):
        assert obj._meta.label_lower == hit.model
        assert obj.pk == hit.pk
    albums = [obj for obj in objects if isinstance(obj, Album)]
    assert albums and all(album.artist.name == "Led Zeppelin" for album in albums[:3])


def tracks_with_indexed_album_mates(search_index, count: int) -> list[Track]:
    """Indexed tracks whose album has at least three other indexed tracks, spread over the catalogue."""
    albums = (
        Album.objects.annotate(indexed=Count("track", filter=Q(track__pk__in=search_index.track_pks)))
        .filter(indexed__gte=4)
        .order_by("pk")
    )
    picked = list(albums)[:: max(1, len(albums) // count)][:count]
    return [Track.objects.filter(album=album, pk__in=search_index.track_pks).order_by("pk").first()
            for album in picked]


def test_similar_tracks_exclude_the_track_and_include_its_album_mates(search_index):
    sources = tracks_with_indexed_album_mates(search_index, 6)
    assert len(sources) == 6
    for source in sources:
        hits = get_similar(source, limit=TOP)

        assert len(hits) == TOP
        assert document_id("chinook.track", source.pk) not in {hit.id for hit in hits}
        assert source.pk not in {hit.pk for hit in hits}
        assert {hit.model for hit in hits} == {"chinook.track"}
        # Its album mates share album, artist, genre and playlists: at least one is among the nearest.
        assert source.album_id in {track.album_id for track in tracks_of(hits)}, (source, hits)


def test_similar_to_an_unindexed_track_never_returns_it(search_index):
    source = Track.objects.exclude(pk__in=search_index.track_pks).select_related("album").first()

    hits = get_similar(source, limit=TOP)

    assert len(hits) == TOP
    assert source.pk not in {hit.pk for hit in hits}


def test_index_and_delete_round_trip(search_index):
    track = Track.objects.exclude(pk__in=search_index.track_pks).first()
    store = engine.get_vector_store()
    doc_id = document_id("chinook.track", track.pk)
    tracks_before = store.count(["chinook.track"])
    # update() sends no signals: only the explicit index() below may add the track.
    Track.objects.filter(pk=track.pk).update(name="Zebra Accordion Thunderstorm")
    query = "zebra accordion thunderstorm"
    assert track.pk not in {hit.pk for hit in search(query, models=["chinook.Track"], limit=10)}

    stats = index(track)

    assert stats.indexed == 1
    assert store.count(["chinook.track"]) == tracks_before + 1
    hits = search(query, models=["chinook.Track"], limit=3)
    assert hits[0].pk == track.pk
    assert "Zebra Accordion Thunderstorm" in hits[0].text
    assert track.album.title in hits[0].text  # with its related text

    delete(track)

    assert doc_id not in store.content_hashes([doc_id])
    assert store.count(["chinook.track"]) == tracks_before
    assert track.pk not in {hit.pk for hit in search(query, models=["chinook.Track"], limit=10)}


def test_override_settings_switches_models_and_store(search_index, graph_search_settings, tmp_path):
    artists_only = copy.deepcopy(graph_search_settings)
    artists_only["MODELS"] = [m for m in artists_only["MODELS"] if m["model"] == "chinook.Artist"]
    with override_settings(GRAPH_SEARCH=artists_only):
        with pytest.raises(UnknownModelError, match="chinook.Track"):
            search("Ozzy Osbourne", models=["chinook.Track"])
        hits = search("Ozzy Osbourne", limit=TOP)
        assert {hit.model for hit in hits} == {"chinook.artist"}
        assert hits[0].object == Artist.objects.get(name="Ozzy Osbourne")

    empty_store = copy.deepcopy(graph_search_settings)
    empty_store["VECTOR_STORE"]["OPTIONS"]["PATH"] = str(tmp_path / "empty")
    with override_settings(GRAPH_SEARCH=empty_store):
        assert list(search("Ozzy Osbourne")) == []

    # Back to the session's store once the override ends.
    assert search("Ozzy Osbourne", models=["chinook.Artist"], limit=1)[0].object.name == "Ozzy Osbourne"
