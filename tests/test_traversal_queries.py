"""Reading related text costs a fixed number of SQL queries per batch, however many rows the batch has."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chinook.models import Track
from dgs_core.indexing.indexer import build_documents, get_plan, model_config_for

pytestmark = pytest.mark.django_db


def first_tracks(count: int):
    last_pk = Track.objects.order_by("pk").values_list("pk", flat=True)[count - 1]
    return Track.objects.filter(pk__lte=last_pk)


def test_documents_for_10_and_1000_tracks_cost_the_same_queries():
    plan = get_plan(model_config_for("chinook.Track"))
    queries_for = {}
    for count in (10, 1000):
        tracks = first_tracks(count)
        with CaptureQueriesContext(connection) as queries:
            batch = next(plan.iter_batches(tracks, batch_size=1000))
            documents = build_documents(plan, batch)
        assert len(documents) == count
        queries_for[count] = len(queries)

    # One query for the tracks with album, artist, genre and media type joined in, plus one per prefetch.
    assert plan.prefetch_related == ["playlist"]
    assert queries_for[10] == queries_for[1000] == 1 + len(plan.prefetch_related)


def test_documents_carry_the_text_of_related_rows():
    plan = get_plan(model_config_for("chinook.Track"))
    batch = next(plan.iter_batches(first_tracks(200), batch_size=200))
    for track, document in zip(batch, build_documents(plan, batch), strict=True):
        assert document.id == f"chinook.track:{track.pk}"
        expected = [track.name, track.album.title, track.album.artist.name, track.genre.name, track.mediatype.name]
        expected += [playlist.name for playlist in track.playlist.all()]
        for value in expected:
            assert " ".join(value.split()) in document.text, (value, document.text)
