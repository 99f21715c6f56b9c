"""After commit, coalesced, never lost: real transactions (autocommit, atomic blocks, savepoints, rollbacks)."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from dgs_core import engine
from dgs_core.indexing.outbox import drift
from dgs_core.models import IndexChange
from tests.music.models import Artist, Track
from tests.music.support import CountingEmbedder, SwitchableStore, ids, make_music, music_settings

pytestmark = pytest.mark.django_db(transaction=True)


class Boom(Exception):
    pass


@pytest.fixture
def music(settings):
    settings.GRAPH_SEARCH = music_settings()
    CountingEmbedder.reset()
    SwitchableStore.available = True
    data = make_music()  # autocommit: each save is indexed as soon as it is written
    assert drift() == {"outdated": [], "stale": []}
    CountingEmbedder.reset()
    return data


def stored_ids() -> set[str]:
    return set(engine.get_vector_store().iter_ids())


def test_changes_are_applied_after_commit_not_before(music):
    with transaction.atomic():
        artist = Artist.objects.create(name="Led Zeppelin")
        # recorded in the transaction ...
        assert IndexChange.objects.filter(document_id=f"music.artist:{artist.pk}").exists()
        assert f"music.artist:{artist.pk}" not in stored_ids()  # ... but not applied before commit
    assert f"music.artist:{artist.pk}" in stored_ids()
    assert not IndexChange.objects.exists()


def test_a_rolled_back_transaction_leaves_nothing(music):
    before = stored_ids()
    with pytest.raises(Boom), transaction.atomic():
        Artist.objects.create(name="Never")
        music["acdc"].name = "Never either"
        music["acdc"].save()
        raise Boom
    assert not IndexChange.objects.exists()
    assert stored_ids() == before and CountingEmbedder.embedded == []
    assert drift() == {"outdated": [], "stale": []}


def test_a_thousand_saves_of_one_row_are_one_outbox_write_and_one_reindex(music):
    track = music["touch"]
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        for n in range(1000):
            track.name = f"Touch Too Much take {n}"
            track.save()
        outbox_writes = sum(q["sql"].startswith("INSERT") and "dgs_core_indexchange" in q["sql"]
                            for q in queries.captured_queries)
    assert outbox_writes == 1
    track_texts = [t for t in CountingEmbedder.embedded if t.startswith("Touch Too Much")]
    assert track_texts == [t for t in track_texts if "take 999" in t] and len(track_texts) == 1
    assert drift() == {"outdated": [], "stale": []}


def test_a_rolled_back_savepoint_does_not_lose_the_changes_around_it(music):
    highway_track, touch = music["highway_track"], music["touch"]
    with transaction.atomic():
        highway_track.name = "Highway to Hell (remastered)"
        highway_track.save()
        with pytest.raises(Boom), transaction.atomic():
            touch.name = "Touch Too Much (demo)"
            touch.save()  # its outbox row is rolled back with it...
            raise Boom
        touch.refresh_from_db()
        touch.name = "Touch Too Much (live)"
        touch.save()  # ... so this save must write it again
        assert set(IndexChange.objects.values_list("document_id", flat=True)) >= ids(highway_track, touch)
    assert drift() == {"outdated": [], "stale": []}
    assert Track.objects.get(pk=touch.pk).name == "Touch Too Much (live)"


def test_autocommit_saves_are_applied_one_by_one(music):
    queen = music["queen"]
    queen.name = "Queen + Adam Lambert"
    queen.save()
    assert drift() == {"outdated": [], "stale": []} and not IndexChange.objects.exists()
