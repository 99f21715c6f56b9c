"""The celery transport with real workers on the Redis broker: changes are applied by a worker, and none is
lost when the worker is killed mid-stream or the vector store cannot be written for a while."""

import glob
import os
import subprocess
from io import StringIO

import pytest
from django.core.management import call_command

from dgs_celery.transport import CeleryTransport
from dgs_core import engine
from dgs_core.engine import get_transport
from dgs_core.indexing.outbox import drift
from dgs_core.models import IndexChange
from tests.conftest import wait_until
from tests.records.embedders import SlowHashingEmbedder
from tests.records.models import Album, Artist, Track
from tests.settings import WORK_DIR

pytestmark = pytest.mark.django_db(transaction=True)

CLEAN = {"outdated": [], "stale": []}


@pytest.fixture(autouse=True)
def empty_store():
    engine.reset()
    engine.get_vector_store().clear()
    SlowHashingEmbedder.calls = 0
    yield
    engine.reset()


def outbox_empty() -> bool:
    return not IndexChange.objects.exists()


def make_album(title="Kind of Blue", artist_name="Miles Davis", tracks=("So What", "Freddie Freeloader")):
    artist = Artist.objects.create(name=artist_name)
    album = Album.objects.create(title=title, artist=artist)
    return artist, album, [Track.objects.create(name=name, album=album) for name in tracks]


def test_the_plugin_provides_the_selected_transport():
    transport = get_transport()
    assert isinstance(transport, CeleryTransport) and transport.queue.startswith("dgs-test-")


def test_changes_are_applied_by_a_worker_not_in_the_request(workers):
    workers.start()
    artist, album, tracks = make_album()
    artist.name = "Miles Dewey Davis"  # reaches the album and, two hops away, its tracks
    artist.save()
    wait_until(outbox_empty, 60, "the worker to apply every change")
    assert drift() == CLEAN
    assert SlowHashingEmbedder.calls == 0  # nothing was embedded in this (the "web") process
    assert engine.get_vector_store().count(["records.track"]) == 2


@pytest.mark.slow
def test_a_worker_killed_in_the_middle_of_a_stream_loses_no_change(workers):
    first = workers.start()
    artist, album, tracks = make_album(tracks=("One", "Two", "Three"))
    for n in range(30):
        track = tracks[n % 3]
        track.name = f"{track.name.split(' #')[0]} #{n}"
        track.save()
        if n % 5 == 0:
            album.title = f"Live take {n}"
            album.save()
        if n == 10:  # kill it while it holds changes (leased, half applied)
            wait_until(lambda: IndexChange.objects.exclude(lease="").exists(), 30, "the worker to take changes")
            workers.kill(first)
    assert IndexChange.objects.exists()  # the dead worker's share waits in the outbox
    workers.start()  # sweeps the outbox on start; leased rows after their lease (LEASE_SECONDS = 5)
    wait_until(outbox_empty, 120, "the new worker to apply every change")
    assert drift() == CLEAN


def set_immutable(paths, on: bool) -> None:
    subprocess.run(["chattr", "+i" if on else "-i", *paths], check=True, capture_output=True)


@pytest.mark.slow
def test_an_unwritable_store_fails_changes_that_are_applied_once_it_recovers(workers):
    workers.start()
    artist, album, tracks = make_album()
    wait_until(outbox_empty, 60, "the initial changes")
    vectors = glob.glob(os.path.join(WORK_DIR, "faiss", "**", "vectors-*.f32"), recursive=True)
    assert vectors, "the FAISS store has written no vectors file"
    try:
        set_immutable(vectors, True)  # root ignores permission bits; the immutable flag stops root too
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot make the FAISS files immutable here (chattr: {exc})")
    try:
        artist.name = "Miles Davis Quintet"
        artist.save()
        tracks[0].name = "So What (take 2)"
        tracks[0].save()
        wait_until(lambda: IndexChange.objects.filter(attempts__gte=2).exists(), 60, "failed attempts")
        out = StringIO()
        call_command("search_index_status", stdout=out)
        status = out.getvalue()
        assert "--retry-failed" in status and "PermissionError" in status
    finally:
        set_immutable(vectors, False)
    wait_until(outbox_empty, 120, "the retries to apply every change")
    assert drift() == CLEAN
