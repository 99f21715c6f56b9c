"""Nothing is lost: failed changes stay in the outbox with their error, are retried with backoff, shown by
search_index_status and applied by build_search_index --retry-failed; workers never drop a newer change."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from dgs_core.conf import get_config
from dgs_core.indexing import outbox
from dgs_core.indexing.outbox import backoff_seconds, drain, drift
from dgs_core.models import IndexChange
from tests.music.support import CountingEmbedder, SwitchableStore, ids, make_music, music_settings

pytestmark = pytest.mark.django_db


@pytest.fixture
def music(settings, django_capture_on_commit_callbacks):
    settings.GRAPH_SEARCH = music_settings(ASYNC_INDEXING={"MAX_RETRIES": 3, "RETRY_BACKOFF": 10})
    CountingEmbedder.reset()
    SwitchableStore.available = True
    with django_capture_on_commit_callbacks(execute=True):
        data = make_music()
    yield data
    SwitchableStore.available = True


@pytest.fixture
def store_down():
    SwitchableStore.available = False
    yield
    SwitchableStore.available = True


def rename_artist(music, capture, name):
    with capture(execute=True):
        music["acdc"].name = name
        music["acdc"].save()


def time_passes(seconds):
    """Move every scheduled retry ``seconds`` earlier, as if that much time had passed."""
    for change in IndexChange.objects.all():
        change.next_attempt_at -= timedelta(seconds=seconds)
        change.save(update_fields=["next_attempt_at"])


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_backoff_doubles_per_attempt_up_to_the_cap(settings):
    settings.GRAPH_SEARCH = music_settings(ASYNC_INDEXING={"RETRY_BACKOFF": 5, "RETRY_BACKOFF_MAX": 60})
    delays = [backoff_seconds(n, get_config().async_indexing) for n in range(1, 7)]
    assert delays == [5, 10, 20, 40, 60, 60]


def test_a_store_outage_keeps_every_change_until_it_can_be_applied(music, store_down,
                                                                   django_capture_on_commit_callbacks):
    affected = ids(music["acdc"], music["highway"], music["highway_track"], music["touch"])
    rename_artist(music, django_capture_on_commit_callbacks, "AC-DC")
    failed = {c.document_id: c for c in IndexChange.objects.all()}
    assert set(failed) == affected
    assert all(c.attempts == 1 and "vector store is down" in c.last_error for c in failed.values())
    assert all(c.next_attempt_at > timezone.now() + timedelta(seconds=8) for c in failed.values())
    assert drain().applied == 0  # not due yet: nothing is tried
    time_passes(10)
    assert drain().failed == 4  # due, still down: second attempt, longer backoff
    assert {c.attempts for c in IndexChange.objects.all()} == {2}
    SwitchableStore.available = True
    time_passes(20)
    result = drain()
    assert (result.applied, result.failed, result.retry_in) == (4, 0, None)
    assert drift() == {"outdated": [], "stale": []} and not IndexChange.objects.exists()


def test_after_max_retries_only_retry_failed_applies_them(music, store_down, django_capture_on_commit_callbacks):
    rename_artist(music, django_capture_on_commit_callbacks, "AC-DC")
    for _ in range(2):  # MAX_RETRIES = 3 attempts in all
        time_passes(3600)
        drain()
    assert {c.attempts for c in IndexChange.objects.all()} == {3}
    time_passes(3600)
    assert drain().applied == 0 and drain().retry_in is None  # given up: waits for an operator
    status = run("search_index_status")
    assert "music.Track" in status and "--retry-failed" in status and "vector store is down" in status
    SwitchableStore.available = True
    out = run("build_search_index", "--retry-failed")
    assert "4 applied, 0 failed" in out
    assert drift() == {"outdated": [], "stale": []} and not IndexChange.objects.exists()


def test_status_counts_pending_and_failed_per_model(music, store_down, django_capture_on_commit_callbacks):
    rename_artist(music, django_capture_on_commit_callbacks, "AC-DC")  # 1 artist, 1 album, 2 tracks fail
    outbox.record({"music.track:999": "delete"})  # recorded, never tried
    counts = outbox.counts_by_model()
    assert counts == {"music.artist": {"pending": 0, "failed": 1}, "music.album": {"pending": 0, "failed": 1},
                      "music.track": {"pending": 1, "failed": 2}}
    line = next(line for line in run("search_index_status").splitlines() if line.startswith("music.Track"))
    assert line.split()[-2:] == ["1", "2"]


def test_a_change_made_while_a_worker_holds_the_row_is_not_lost(music, settings, django_capture_on_commit_callbacks):
    touch = music["touch"]

    class ChangingWhileIndexing(SwitchableStore):
        """Renames the track once, while its previous change is being applied."""

        def upsert(self, documents):
            super().upsert(documents)
            if touch.name == "first":
                touch.name = "second"
                touch.save()

    settings.GRAPH_SEARCH = music_settings(VECTOR_STORE={"BACKEND": f"{__name__}.ChangingWhileIndexing"})
    globals()["ChangingWhileIndexing"] = ChangingWhileIndexing
    with django_capture_on_commit_callbacks(execute=True):
        call_command("build_search_index", stdout=StringIO(), stderr=StringIO())
        touch.name = "first"
        touch.save()
    # The drain indexed "first"; the row, changed meanwhile, was not deleted but taken again for "second".
    track_texts = [t for t in CountingEmbedder.embedded if t.startswith(("first", "second"))]
    assert [t.split(".")[0] for t in track_texts] == ["first", "second"]
    assert drift() == {"outdated": [], "stale": []} and not IndexChange.objects.exists()


def test_a_lease_keeps_other_workers_off_until_it_expires(music):
    outbox.record({f"music.track:{music['touch'].pk}": "index"})
    IndexChange.objects.update(lease="another-worker", leased_until=timezone.now() + timedelta(seconds=300))
    result = drain()
    assert result.applied == 0 and 290 < result.retry_in <= 300
    IndexChange.objects.update(leased_until=timezone.now() - timedelta(seconds=1))  # that worker died
    assert drain().applied == 1 and not IndexChange.objects.exists()
