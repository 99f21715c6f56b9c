"""Run by tests/test_transport.py in a subprocess: migrate, start a real ``qcluster``, make changes, wait until
the outbox is drained, print what the index looks like as JSON (the test asserts on it)."""

import json
import os
import subprocess
import sys
import time

import django


def main() -> None:
    django.setup()
    from django.core.management import call_command

    from dgs_core.indexing.outbox import drift
    from dgs_core.models import IndexChange
    from tests.records.embedders import CountingEmbedder
    from tests.records.models import Album, Artist, Track

    call_command("migrate", verbosity=0)
    log = open(os.path.join(os.environ["DGS_DJANGOQ_TEST_DIR"], "qcluster.log"), "wb")
    cluster = subprocess.Popen([sys.executable, "-m", "django", "qcluster"], stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        # Every save queues a django-q task; the rename reaches the artist's albums and tracks.
        acdc = Artist.objects.create(name="AC/DC")
        highway = Album.objects.create(title="Highway to Hell", artist=acdc)
        Track.objects.create(name="Highway to Hell", album=highway)
        Track.objects.create(name="Touch Too Much", album=highway)
        acdc.name = "AC-DC"
        acdc.save()
        deadline = time.monotonic() + 180
        while IndexChange.objects.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        print(json.dumps({"left_in_outbox": IndexChange.objects.count(), "drift": drift(),
                          "embedded_here": len(CountingEmbedder.embedded)}))
    finally:
        cluster.terminate()
        cluster.wait(30)


if __name__ == "__main__":
    main()
